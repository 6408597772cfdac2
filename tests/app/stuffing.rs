//! Credential stuffing (issue 14): failed sign-ins are limited per client
//! address (IPv4, or IPv6 /64) across every account, on the storefront, REST and
//! admin. A botnet-style run (many accounts × few passwords from one address)
//! is refused with the generic failure message once the limit is reached,
//! without locking the accounts it targets; the owners still get in from their
//! own browsers (device cookie) and from elsewhere. Property tests hold the
//! lockout counter, the reset limiter and the per-address counter against
//! simple models.

use futures_util::StreamExt;
use futures_util::future::join_all;
use reqwest::StatusCode;
use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::accounts::{Email, hash_for_demo};
use shop_accounts::store::{AccountTable, Db, NewCustomer};

use crate::helpers::*;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const ADMIN_PASSWORD: &str = "admin-horse-77";
const TOKEN_PATH: &str = "/rest/V1/integration/customer/token";
const LOGIN: &str = "/customer/account/login";
const ADMIN_LOGIN: &str = "/admin/login";
const FAILED: &str = "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.";
/// The botnet's address; and the limit's default.
const BOT_IP: &str = "198.51.100.66";
const LIMIT: i64 = 30;
/// Three passwords a stuffing list might hold for each address.
const GUESSES: [&str; 3] = ["Summer2024!", "password123", "qwerty-uiop"];

fn email(i: usize) -> String {
    format!("target{i}@example.com")
}

/// `count` customers `target0@…` and on, all with `PASSWORD` (one hash reused).
async fn seed_customers(app: &TestApp, from: usize, count: usize) {
    let hash = hash_for_demo(PASSWORD).unwrap();
    for i in from..from + count {
        let address = email(i);
        let key = Email::parse(&address).unwrap().key();
        let stamp = format!("stamp-{i}");
        app.db()
            .insert_customer(&NewCustomer {
                email: &address,
                email_key: &key,
                firstname: "Tar",
                lastname: "Get",
                password_hash: &hash,
                security_stamp: &stamp,
                locale: "en",
                created_at: app.state.now(),
            })
            .await
            .unwrap();
    }
}

/// Registers `target0@…` from `client` (whose browser keeps the device cookie)
/// and signs it out again.
async fn register_from(client: &Client) {
    let address = email(0);
    let response = client
        .post_form(
            "/customer/account/create",
            &[
                ("firstname", "Owen"),
                ("lastname", "Owner"),
                ("email", &address),
                ("password", PASSWORD),
                ("password_confirmation", PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&response), "/customer/account");
    client.follow(&response).await;
    let out = client.post_form("/customer/account/logout", &[]).await;
    client.follow(&out).await;
}

/// (sum of failure counts, accounts locked) over a table.
async fn lock_totals(app: &TestApp, table: AccountTable) -> (i64, i64) {
    let sql = match table {
        AccountTable::Customers => {
            "SELECT CAST(COALESCE(SUM(failed_sign_ins), 0) AS BIGINT), \
             CAST(COUNT(locked_until) AS BIGINT) FROM customers"
        }
        AccountTable::Admins => {
            "SELECT CAST(COALESCE(SUM(failed_sign_ins), 0) AS BIGINT), \
             CAST(COUNT(locked_until) AS BIGINT) FROM admins"
        }
    };
    match app.db() {
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_one(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await.unwrap(),
    }
}

async fn address_failures(app: &TestApp, key: &str) -> i64 {
    app.db()
        .ip_sign_in_failures(key, app.state.now(), 600)
        .await
        .unwrap()
}

fn throttled_total(metrics: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with("shop_sign_in_throttled_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn token(client: &Client, username: &str, password: &str) -> (StatusCode, String) {
    let response = client
        .http
        .post(client.url(TOKEN_PATH))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("POST token");
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn generic_rest_failure() -> String {
    serde_json::json!({ "message": FAILED }).to_string()
}

/// Every (account, guess) pair of a stuffing list of `accounts` addresses.
fn stuffing_list(accounts: usize) -> Vec<(String, &'static str)> {
    (0..accounts)
        .flat_map(|i| GUESSES.iter().map(move |g| (email(i), *g)))
        .collect()
}

store_test!(
    a_botnet_run_on_the_storefront_is_throttled_and_owners_still_get_in,
    |app: TestApp| async move {
        // The owner's own browser is on the same address (a shared NAT).
        let own = app.client_from(BOT_IP);
        register_from(&own).await;
        seed_customers(&app, 1, 199).await;
        let before = throttled_total(&app.metrics().await);

        let bot = app.client_from(BOT_IP);
        bot.form_key().await;
        let list = stuffing_list(200);
        let answers: Vec<_> = futures_util::stream::iter(list.iter())
            .map(|(user, guess)| bot.sign_in(user, guess))
            .buffered(8)
            .collect()
            .await;
        assert_eq!(answers.len(), 600);
        for response in &answers {
            assert_eq!(response.status(), 303);
            assert_eq!(location(response), LOGIN);
        }
        // The last answer, refused for the address, reads like any wrong password.
        let page = bot.follow(answers.last().unwrap()).await;
        assert_eq!(flashes(&page), vec![FAILED.to_string()]);

        let (failures, locked) = lock_totals(&app, AccountTable::Customers).await;
        assert_eq!(
            failures, LIMIT,
            "only the first {LIMIT} attempts reached an account's count"
        );
        assert_eq!(locked, 0, "no targeted account is locked");
        assert_eq!(address_failures(&app, BOT_IP).await, LIMIT);
        let after = throttled_total(&app.metrics().await);
        // The recorder is shared by the tests running beside this one: at least.
        assert!(after - before >= 600 - LIMIT as u64, "each refusal counted");

        // A right password from the throttled address, without a device
        // cookie, is refused too, with the same message.
        let stranger = app.client_from(BOT_IP);
        let refused = stranger.sign_in(&email(7), PASSWORD).await;
        assert_eq!(location(&refused), LOGIN);
        assert_eq!(flashes(&stranger.follow(&refused).await), vec![FAILED]);

        // The owner's browser on that address is not slowed…
        let response = own.sign_in(&email(0), PASSWORD).await;
        assert_eq!(location(&response), "/customer/account", "device gets in");
        // …and another owner gets in from another address with the password.
        let elsewhere = app.client_from("192.0.2.44");
        let response = elsewhere.sign_in(&email(1), PASSWORD).await;
        assert_eq!(location(&response), "/customer/account", "owner elsewhere");
        assert_eq!(
            address_failures(&app, BOT_IP).await,
            LIMIT,
            "neither the refusals nor the device counted"
        );

        // Once the window ends the address may try again.
        app.advance_clock(10 * 60 + 1);
        let response = stranger.sign_in(&email(7), PASSWORD).await;
        assert_eq!(location(&response), "/customer/account");
    }
);

store_test!(
    a_botnet_run_on_rest_is_throttled_and_owners_still_get_tokens,
    |app: TestApp| async move {
        seed_customers(&app, 0, 200).await;
        let bot = app.client_from(BOT_IP);
        let list = stuffing_list(200);
        let answers: Vec<_> = futures_util::stream::iter(list.iter())
            .map(|(user, guess)| token(&bot, user, guess))
            .buffered(8)
            .collect()
            .await;
        let generic = generic_rest_failure();
        for (status, body) in &answers {
            assert_eq!(*status, StatusCode::UNAUTHORIZED);
            assert_eq!(body, &generic);
        }
        let (failures, locked) = lock_totals(&app, AccountTable::Customers).await;
        assert_eq!(failures, LIMIT);
        assert_eq!(locked, 0, "no targeted account is locked");

        // The right password from the throttled address: the same answer.
        let (status, body) = token(&bot, &email(3), PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, generic);
        // From elsewhere every owner still gets a token.
        let elsewhere = app.client_from("192.0.2.45");
        for i in [0, 3, 199] {
            assert_eq!(
                token(&elsewhere, &email(i), PASSWORD).await.0,
                StatusCode::OK
            );
        }
    }
);

store_test!(
    a_botnet_run_on_the_admin_sign_in_is_throttled,
    |app: TestApp| async move {
        let admins = ["boss@example.com", "ops@example.com", "help@example.com"];
        for (i, address) in admins.iter().enumerate() {
            admins::create(
                &app.state,
                address,
                &format!("Admin {i}"),
                Role::Administrator,
                ADMIN_PASSWORD,
                None,
            )
            .await
            .unwrap();
        }
        // Three real administrators among 200 addresses the list holds.
        let mut list: Vec<(String, &str)> = stuffing_list(197);
        for address in admins {
            for guess in GUESSES {
                list.push((address.to_string(), guess));
            }
        }
        let bot = app.client_from(BOT_IP);
        bot.form_key().await;
        let answers: Vec<_> = futures_util::stream::iter(list.iter())
            .map(|(user, guess)| {
                let bot = &bot;
                async move {
                    bot.post_form(ADMIN_LOGIN, &[("email", user), ("password", guess)])
                        .await
                }
            })
            .buffered(8)
            .collect()
            .await;
        assert_eq!(answers.len(), 600);
        for response in &answers {
            assert_eq!(location(response), ADMIN_LOGIN);
        }
        let page = bot.follow(answers.last().unwrap()).await;
        assert_eq!(flashes(&page), vec![FAILED.to_string()]);
        let (_, locked) = lock_totals(&app, AccountTable::Admins).await;
        assert_eq!(locked, 0, "no administrator is locked");
        assert_eq!(address_failures(&app, BOT_IP).await, LIMIT);

        let refused = bot
            .post_form(
                ADMIN_LOGIN,
                &[("email", "boss@example.com"), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(location(&refused), ADMIN_LOGIN, "refused from the address");
        assert_eq!(flashes(&bot.follow(&refused).await), vec![FAILED]);
        let elsewhere = app.client_from("192.0.2.46");
        let response = elsewhere
            .post_form(
                ADMIN_LOGIN,
                &[("email", "boss@example.com"), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_ne!(
            location(&response),
            ADMIN_LOGIN,
            "the admin gets in elsewhere"
        );
    }
);

store_test!(
    ipv6_addresses_share_the_limit_by_their_64,
    |app: TestApp| async move {
        app.set_option("ip_sign_in_failures", "5").await;
        seed_customers(&app, 0, 3).await;
        // Five failures from five addresses of one /64…
        for i in 1..=5 {
            let client = app.client_from(&format!("2001:db8:1:2::{i:x}"));
            assert_eq!(
                token(&client, &email(i % 3), "wrong-pass-1").await.0,
                StatusCode::UNAUTHORIZED
            );
        }
        // …fill it: a sixth address there is refused even the right password.
        let same_64 = app.client_from("2001:db8:1:2:ffff:ffff:ffff:fffe");
        let (status, body) = token(&same_64, &email(0), PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, generic_rest_failure());
        assert_eq!(address_failures(&app, "2001:db8:1:2::/64").await, 5);
        // The neighbouring /64 is not affected.
        let next_64 = app.client_from("2001:db8:1:3::1");
        assert_eq!(token(&next_64, &email(0), PASSWORD).await.0, StatusCode::OK);
        // An IPv4-mapped address counts as its IPv4 address.
        app.set_option("ip_sign_in_failures", "1").await;
        let v4 = app.client_from("203.0.113.8");
        token(&v4, &email(1), "wrong-pass-1").await;
        let mapped = app.client_from("::ffff:203.0.113.8");
        assert_eq!(
            token(&mapped, &email(1), PASSWORD).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
);

store_test!(
    parallel_attempts_from_one_address_cannot_overshoot_the_limit,
    |app: TestApp| async move {
        seed_customers(&app, 0, 60).await;
        let other = app.second_instance().await;
        let here = app.client_from(BOT_IP);
        let there = other.client_from(BOT_IP);
        // 120 guesses at once, over two instances, two per account (no
        // account reaches its own lockout).
        let attempts = (0..120).map(|n| {
            let client = if n % 2 == 0 { &here } else { &there };
            async move { token(client, &email(n % 60), GUESSES[n % 3]).await }
        });
        let answers = join_all(attempts).await;
        assert!(answers.iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED));
        let (failures, locked) = lock_totals(&app, AccountTable::Customers).await;
        assert_eq!(failures, LIMIT, "exactly the limit was checked");
        assert_eq!(locked, 0);
        assert_eq!(address_failures(&app, BOT_IP).await, LIMIT);
    }
);

store_test!(
    right_passwords_give_back_their_place_and_the_limit_can_be_turned_off,
    |app: TestApp| async move {
        app.set_option("ip_sign_in_failures", "3").await;
        seed_customers(&app, 0, 2).await;
        let office = app.client_from("192.0.2.50");
        // Many right passwords from one address (an office) never fill it.
        for _ in 0..5 {
            assert_eq!(token(&office, &email(0), PASSWORD).await.0, StatusCode::OK);
        }
        assert_eq!(address_failures(&app, "192.0.2.50").await, 0);
        for _ in 0..3 {
            token(&office, &email(1), "wrong-pass-1").await;
        }
        assert_eq!(
            token(&office, &email(0), PASSWORD).await.0,
            StatusCode::UNAUTHORIZED
        );
        app.set_option("ip_sign_in_failures", "0").await;
        assert_eq!(token(&office, &email(0), PASSWORD).await.0, StatusCode::OK);
    }
);

/// Property tests: SQLite, generated sequences against simple models.
mod properties {
    use std::collections::HashMap;
    use std::net::IpAddr;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use shop_accounts::recovery::{self, RequestError, Requester};
    use shop_accounts::store::{AccountTable, IpFailureRule, LockoutRule, NewCustomer};

    use crate::helpers::{Backend, TestApp};

    fn runner() -> (tokio::runtime::Runtime, TestRunner) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            cases: 48,
            failure_persistence: None,
            ..Config::default()
        };
        (runtime, TestRunner::new(config))
    }

    fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
        if ok {
            Ok(())
        } else {
            Err(TestCaseError::fail(what()))
        }
    }

    #[derive(Debug, Clone)]
    enum LockOp {
        /// An attempt reserves its place before the hash is checked.
        Reserve,
        /// The n-th outstanding reservation (modulo) turns out wrong / right.
        SettleWrong(usize),
        SettleRight(usize),
        Advance(i64),
    }

    fn lock_op() -> impl Strategy<Value = LockOp> {
        prop_oneof![
            4 => Just(LockOp::Reserve),
            3 => any::<usize>().prop_map(LockOp::SettleWrong),
            1 => any::<usize>().prop_map(LockOp::SettleRight),
            1 => (0i64..900).prop_map(LockOp::Advance),
        ]
    }

    /// The lockout columns as the statements should leave them.
    #[derive(Debug, Default)]
    struct LockModel {
        count: i64,
        locked_until: Option<i64>,
    }

    impl LockModel {
        fn open(&self, now: i64) -> bool {
            self.locked_until.is_none_or(|u| u <= now)
        }
        fn reserve(&mut self, now: i64, rule: LockoutRule) -> bool {
            if !self.open(now) {
                return false;
            }
            if self.count >= rule.failures {
                self.count = 0;
                self.locked_until = Some(rule.locked_until);
                return false;
            }
            self.count += 1;
            true
        }
        fn settle_wrong(&mut self, now: i64, rule: LockoutRule) -> bool {
            if self.open(now) && self.count >= rule.failures {
                self.count = 0;
                self.locked_until = Some(rule.locked_until);
                return true;
            }
            false
        }
        fn settle_right(&mut self, now: i64) -> bool {
            if self.open(now) {
                self.count = 0;
                self.locked_until = None;
                return true;
            }
            false
        }
    }

    #[test]
    fn the_lockout_counter_follows_its_model() {
        let (runtime, mut runner) = runner();
        let app = runtime.block_on(TestApp::spawn(Backend::Sqlite));
        let db = app.db().clone();
        let counter = std::cell::Cell::new(0);
        let strategy = (1i64..6, prop::collection::vec(lock_op(), 1..60));
        runner
            .run(&strategy, |(limit, ops)| {
                counter.set(counter.get() + 1);
                let case = counter.get();
                runtime.block_on(async {
                    let address = format!("lock{case}@example.com");
                    let id = db
                        .insert_customer(&NewCustomer {
                            email: &address,
                            email_key: &address,
                            firstname: "Pro",
                            lastname: "Perty",
                            password_hash: "x",
                            security_stamp: "s",
                            locale: "en",
                            created_at: 0,
                        })
                        .await
                        .unwrap();
                    let rule_at = |now: i64| LockoutRule {
                        failures: limit,
                        locked_until: now + 600,
                    };
                    let mut now = app.state.now();
                    let mut model = LockModel::default();
                    let mut outstanding: Vec<i64> = Vec::new();
                    for op in &ops {
                        match *op {
                            LockOp::Reserve => {
                                let got = db
                                    .reserve_sign_in_attempt(
                                        AccountTable::Customers,
                                        id,
                                        now,
                                        rule_at(now),
                                    )
                                    .await
                                    .unwrap();
                                let want = model.reserve(now, rule_at(now));
                                check(got == want, || format!("reserve at {now}: {got}"))?;
                                if got {
                                    outstanding.push(now);
                                }
                            }
                            LockOp::SettleWrong(n) | LockOp::SettleRight(n)
                                if !outstanding.is_empty() =>
                            {
                                let began = outstanding.remove(n % outstanding.len());
                                let (got, want) = if matches!(op, LockOp::SettleWrong(_)) {
                                    let got = db
                                        .settle_failed_sign_in(
                                            AccountTable::Customers,
                                            id,
                                            began,
                                            rule_at(began),
                                        )
                                        .await
                                        .unwrap();
                                    (got, model.settle_wrong(began, rule_at(began)))
                                } else {
                                    let got = db
                                        .settle_correct_password(
                                            AccountTable::Customers,
                                            id,
                                            began,
                                            true,
                                        )
                                        .await
                                        .unwrap();
                                    (got, model.settle_right(began))
                                };
                                check(got == want, || format!("{op:?}: {got}"))?;
                            }
                            LockOp::Advance(s) => now += s,
                            _ => {}
                        }
                        let row = db.customer_by_id(id).await.unwrap().unwrap();
                        check(
                            row.failed_sign_ins == model.count
                                && row.locked_until == model.locked_until,
                            || {
                                format!(
                                    "after {op:?}: stored ({}, {:?}), model {model:?}",
                                    row.failed_sign_ins, row.locked_until
                                )
                            },
                        )?;
                        // Never more checks in flight than the limit allows.
                        check(row.failed_sign_ins <= limit, || "count past limit".into())?;
                    }
                    Ok(())
                })
            })
            .unwrap();
    }

    #[derive(Debug, Clone)]
    enum IpOp {
        Reserve(usize),
        /// The n-th outstanding reservation had the right password.
        GiveBack(usize),
        Advance(i64),
    }

    fn ip_op() -> impl Strategy<Value = IpOp> {
        prop_oneof![
            6 => (0usize..2).prop_map(IpOp::Reserve),
            2 => any::<usize>().prop_map(IpOp::GiveBack),
            1 => (0i64..400).prop_map(IpOp::Advance),
        ]
    }

    #[test]
    fn the_per_address_counter_follows_its_model() {
        let (runtime, mut runner) = runner();
        let app = runtime.block_on(TestApp::spawn(Backend::Sqlite));
        let db = app.db().clone();
        let counter = std::cell::Cell::new(0);
        let strategy = (1i64..8, 1i64..4, prop::collection::vec(ip_op(), 1..80));
        runner
            .run(&strategy, |(limit, minutes, ops)| {
                counter.set(counter.get() + 1);
                let case = counter.get();
                let rule = IpFailureRule {
                    failures: limit,
                    window_seconds: minutes * 60,
                };
                runtime.block_on(async {
                    let keys = [format!("case{case}-a"), format!("case{case}-b")];
                    // key → (window_start, failures)
                    let mut model: HashMap<usize, (i64, i64)> = HashMap::new();
                    let mut outstanding = Vec::new();
                    let mut now = app.state.now();
                    for op in &ops {
                        match *op {
                            IpOp::Reserve(k) => {
                                let got = db.reserve_ip_sign_in(&keys[k], now, rule).await.unwrap();
                                let want = match model.get(&k).copied() {
                                    Some((start, n)) if start > now - rule.window_seconds => {
                                        (n < limit).then_some((start, n + 1))
                                    }
                                    _ => Some((now, 1)),
                                };
                                if let Some(row) = want {
                                    model.insert(k, row);
                                }
                                check(got.map(|r| (r.window_start, r.failures)) == want, || {
                                    format!("reserve {k} at {now}: {got:?}, model {want:?}")
                                })?;
                                if let Some(r) = got {
                                    outstanding.push((k, r));
                                }
                            }
                            IpOp::GiveBack(n) if !outstanding.is_empty() => {
                                let (k, r) = outstanding.remove(n % outstanding.len());
                                db.give_back_ip_sign_in(&keys[k], r).await.unwrap();
                                if let Some((start, n)) = model.get_mut(&k)
                                    && *start == r.window_start
                                    && *n > 0
                                {
                                    *n -= 1;
                                }
                            }
                            IpOp::Advance(s) => now += s,
                            _ => {}
                        }
                        for (k, key) in keys.iter().enumerate() {
                            let stored = db
                                .ip_sign_in_failures(key, now, rule.window_seconds)
                                .await
                                .unwrap();
                            let want = match model.get(&k) {
                                Some((start, n)) if *start > now - rule.window_seconds => *n,
                                _ => 0,
                            };
                            check(stored == want, || format!("{key}: {stored} vs {want}"))?;
                            check(stored <= limit, || "past the limit".into())?;
                        }
                    }
                    Ok(())
                })
            })
            .unwrap();
    }

    #[derive(Debug, Clone)]
    enum ResetOp {
        Request { ip: usize, email: usize },
        Advance(i64),
    }

    fn reset_op() -> impl Strategy<Value = ResetOp> {
        prop_oneof![
            5 => (0usize..3, 0usize..3).prop_map(|(ip, email)| ResetOp::Request { ip, email }),
            2 => (0i64..1500).prop_map(ResetOp::Advance),
        ]
    }

    /// Magento's rule on the accepted requests of the last hour: under `max`
    /// per key, and `gap` seconds since the key's latest (0 turns either off).
    fn model_allows(
        accepted: &[(usize, usize, i64)],
        ip: usize,
        email: usize,
        now: i64,
        max: i64,
        gap: i64,
    ) -> bool {
        let recent: Vec<_> = accepted.iter().filter(|r| r.2 > now - 3600).collect();
        let keyed = |same: &dyn Fn(&(usize, usize, i64)) -> bool| {
            let mine: Vec<i64> = recent.iter().filter(|r| same(r)).map(|r| r.2).collect();
            let under = max == 0 || (mine.len() as i64) < max;
            let spaced = gap == 0 || mine.iter().max().is_none_or(|t| now - t >= gap);
            under && spaced
        };
        keyed(&|r| r.0 == ip) && keyed(&|r| r.1 == email)
    }

    #[test]
    fn the_reset_limiter_follows_its_model() {
        let (runtime, mut runner) = runner();
        let app = runtime.block_on(TestApp::spawn(Backend::Sqlite));
        let counter = std::cell::Cell::new(0);
        let strategy = (0i64..4, 0i64..15, prop::collection::vec(reset_op(), 1..40));
        runner
            .run(&strategy, |(max, gap_minutes, ops)| {
                counter.set(counter.get() + 1);
                let case = counter.get();
                runtime.block_on(async {
                    app.set_option("max_requests_per_hour", &max.to_string())
                        .await;
                    app.set_option("min_minutes_between_requests", &gap_minutes.to_string())
                        .await;
                    let mut accepted = Vec::new();
                    for op in &ops {
                        match *op {
                            ResetOp::Request { ip, email } => {
                                let now = app.state.now();
                                let address: IpAddr =
                                    format!("10.77.{}.{}", case % 250, ip + 1).parse().unwrap();
                                let who = format!("nobody{email}-case{case}@example.com");
                                let got = recovery::request_reset(
                                    &app.state,
                                    &who,
                                    Requester::Visitor {
                                        client_ip: address,
                                        via: "storefront",
                                    },
                                )
                                .await;
                                let got = match got {
                                    Ok(()) => true,
                                    Err(RequestError::Limited) => false,
                                    Err(e) => panic!("{e}"),
                                };
                                let want =
                                    model_allows(&accepted, ip, email, now, max, gap_minutes * 60);
                                check(got == want, || {
                                    format!("request ip {ip} email {email} at {now}: {got}")
                                })?;
                                if got {
                                    accepted.push((ip, email, now));
                                }
                            }
                            ResetOp::Advance(s) => app.advance_clock(s),
                        }
                    }
                    // The next case starts past every window of this one.
                    app.advance_clock(2 * 3600);
                    Ok(())
                })
            })
            .unwrap();
    }
}
