//! Password recovery (issue 3): every numbered check of SECURITY-CHECKS.md that
//! the issue names, on both stores, through the real server, database and SMTP.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::smtp_sink::ReceivedMail;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const NEW_PASSWORD: &str = "fresh-meadow-42";
const EXPIRED: &str = "Your password reset link has expired.";
const FORGOT: &str = "/customer/account/forgotpassword";
const CREATE: &str = "/customer/account/createPassword";

fn sent_message(email: &str) -> String {
    format!(
        "If there is an account associated with {email} you will receive an email with a link to reset your password."
    )
}

fn limit_message() -> String {
    "Too many password reset requests. Please wait and try again or contact help@shop.test."
        .to_string()
}

/// Requests a link for `email` from a fresh visitor and returns the link that arrived.
async fn link_for(app: &TestApp, email: &str) -> String {
    let before = app.smtp.received().len();
    let response = app.client().request_reset(email).await;
    assert_eq!(location(&response), "/customer/account/login");
    for _ in 0..200 {
        // Other mail (a password-changed notice) may arrive in between.
        if let Some(link) = app.smtp.received()[before..].iter().find_map(reset_link) {
            return link;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reset link arrived for {email}");
}

/// Opens the link in `client` and sets `password` through the form.
async fn reset_with(client: &Client, link: &str, password: &str) -> reqwest::Response {
    let opened = client.get(&path_of(link)).await;
    assert_eq!(
        location(&opened),
        CREATE,
        "a live link moves to the token-free form"
    );
    client
        .post_form(
            CREATE,
            &[("password", password), ("password_confirmation", password)],
        )
        .await
}

async fn signs_in(app: &TestApp, email: &str, password: &str) -> bool {
    location(&app.client().sign_in(email, password).await) == "/customer/account"
}

fn mails_to<'a>(mails: &'a [ReceivedMail], to: &str) -> Vec<&'a ReceivedMail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .collect()
}

/// Headers that must not differ between two answers (dates and ids may).
fn comparable_headers(response: &reqwest::Response) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-request-id" | "set-cookie"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    headers.sort();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_string())
        .collect();
    headers.push(("set-cookie names".into(), cookies.join(",")));
    headers
}

store_test!(
    check_01_known_and_unknown_emails_get_identical_answers,
    |app: TestApp| async move {
        app.register("known@example.com", PASSWORD).await;
        let mut answers = Vec::new();
        for email in ["known@example.com", "unknown@example.com"] {
            let client = app.client();
            let response = client.request_reset(email).await;
            let status = response.status();
            let headers = comparable_headers(&response);
            let body = response.text().await.unwrap();
            let page = client.get_text("/customer/account/login").await;
            let flash = flashes(&page).join("|").replace(email, "EMAIL");
            answers.push((status, headers, body, flash));
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0].0, 303);
        assert_eq!(answers[0].3, sent_message("EMAIL"));
    }
);

store_test!(
    check_02_timing_does_not_tell_whether_an_account_exists,
    |app: TestApp| async move {
        app.register("timed@example.com", PASSWORD).await;
        app.set_option("protection_type", "none").await;
        let client = app.client();
        client.form_key().await;
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for i in 0..50 {
            for (email, samples) in [
                ("timed@example.com", &mut known),
                ("nobody-timed@example.com", &mut unknown),
            ] {
                let started = Instant::now();
                let response = client.request_reset(email).await;
                samples.push(started.elapsed());
                assert_eq!(response.status(), 303, "request {i}");
            }
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (k, u) = (median(&mut known), median(&mut unknown));
        let difference = k.abs_diff(u);
        assert!(
            difference < Duration::from_millis(50),
            "median known {k:?} vs unknown {u:?}"
        );
    }
);

store_test!(
    check_03_over_the_limit_known_and_unknown_look_alike_and_no_extra_mail,
    |app: TestApp| async move {
        app.register("limited@example.com", PASSWORD).await;
        app.set_option("min_minutes_between_requests", "0").await;
        let mut last_pages = Vec::new();
        for email in ["limited@example.com", "ghost@example.com"] {
            for i in 0..6 {
                let client = app.client(); // another IP each time: only the email counts here
                let response = client.request_reset(email).await;
                if i < 5 {
                    assert_eq!(
                        location(&response),
                        "/customer/account/login",
                        "request {i} for {email}"
                    );
                    client.follow(&response).await;
                } else {
                    assert_eq!(location(&response), FORGOT);
                    let flash = flashes(&client.follow(&response).await);
                    last_pages.push(flash);
                }
            }
        }
        assert_eq!(last_pages[0], vec![limit_message()]);
        assert_eq!(last_pages[0], last_pages[1]);
        let mails = app.smtp.wait_for(5).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            mails_to(&app.smtp.received(), "limited@example.com").len(),
            5
        );
        assert_eq!(app.smtp.received().len(), mails.len().max(5));
    }
);

store_test!(
    check_04_two_requests_within_the_interval_send_one_mail,
    |app: TestApp| async move {
        app.register("twice@example.com", PASSWORD).await;
        let first = app.client().request_reset("twice@example.com").await;
        assert_eq!(location(&first), "/customer/account/login");
        let second_client = app.client();
        let second = second_client.request_reset("twice@example.com").await;
        assert_eq!(location(&second), FORGOT);
        assert_eq!(
            flashes(&second_client.follow(&second).await),
            vec![limit_message()]
        );
        app.smtp.wait_for(1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.smtp.received().len(), 1);
        // After the interval a new request goes through.
        app.advance_clock(10 * 60);
        assert_eq!(
            location(&app.client().request_reset("twice@example.com").await),
            "/customer/account/login"
        );
        app.smtp.wait_for(2).await;
    }
);

store_test!(
    check_05_one_ip_across_many_emails_is_limited,
    |app: TestApp| async move {
        app.set_option("min_minutes_between_requests", "0").await;
        let client = app.client_from("192.0.2.7");
        for i in 0..5 {
            let response = client
                .request_reset(&format!("someone{i}@example.com"))
                .await;
            assert_eq!(location(&response), "/customer/account/login");
            client.follow(&response).await;
        }
        let refused = client.request_reset("someone-else@example.com").await;
        assert_eq!(location(&refused), FORGOT);
        assert_eq!(
            flashes(&client.follow(&refused).await),
            vec![limit_message()]
        );
    }
);

store_test!(
    check_06_limits_hold_across_two_instances,
    |app: TestApp| async move {
        app.register("shared@example.com", PASSWORD).await;
        let other = app.second_instance().await;
        let first = app.client().request_reset("shared@example.com").await;
        assert_eq!(location(&first), "/customer/account/login");
        let second = other.client().request_reset("shared@example.com").await;
        assert_eq!(
            location(&second),
            FORGOT,
            "the other instance sees the first request"
        );
    }
);

store_test!(
    check_07_link_uses_base_url_whatever_the_host_header,
    |app: TestApp| async move {
        let app = {
            drop(app);
            TestApp::spawn_with(Backend::Sqlite, |c| {
                c.base_url = "http://shop.example:8080".parse().unwrap()
            })
            .await
        };
        app.register("host@example.com", PASSWORD).await;
        let client = app.client();
        let key = client.form_key().await;
        let response = client
            .http
            .post(client.url(FORGOT))
            .header("host", "evil.example")
            .header("x-forwarded-host", "evil.example")
            .form(&[("email", "host@example.com"), ("form_key", key.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let mails = app.smtp.wait_for(1).await;
        let link = reset_link(&mails[0]).unwrap();
        assert!(
            link.starts_with("http://shop.example:8080/customer/account/createPassword?token="),
            "{link}"
        );
        assert!(!mails[0].data.contains("evil.example"));
    }
);

store_test!(
    check_08_mail_goes_to_the_stored_address_and_lookalikes_match_nothing,
    |app: TestApp| async move {
        app.register("jill@example.com", PASSWORD).await;
        app.register("jos\u{e9}@example.com", PASSWORD).await;
        app.set_option("protection_type", "ip").await;
        for lookalike in [
            "j\u{131}ll@example.com",  // dotless ı
            "\u{ff4a}ill@example.com", // fullwidth ｊ
            "JİLL@example.com",        // dotted capital İ
            "jose\u{301}@example.com", // NFD of josé
            "JOS\u{c9}@example.com",   // non-ASCII case folding
        ] {
            let response = app.client().request_reset(lookalike).await;
            assert_eq!(
                location(&response),
                "/customer/account/login",
                "{lookalike}"
            );
        }
        // ASCII case differences do match, and the mail goes to the stored address.
        app.client().request_reset("JILL@EXAMPLE.COM").await;
        let mails = app.smtp.wait_for(1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.smtp.received().len(), 1);
        assert_eq!(mails[0].to, vec!["jill@example.com".to_string()]);
    }
);

store_test!(
    check_09_requests_without_a_valid_form_key_are_rejected,
    |app: TestApp| async move {
        app.register("csrf@example.com", PASSWORD).await;
        let client = app.client();
        client.get(FORGOT).await;
        assert_eq!(
            client
                .post_raw(FORGOT, &[("email", "csrf@example.com")])
                .await
                .status(),
            403
        );
        assert_eq!(
            client
                .post_raw(FORGOT, &[("email", "csrf@example.com"), ("form_key", "x")])
                .await
                .status(),
            403
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(app.smtp.received().is_empty());
        // The same for setting the password.
        let link = link_for(&app, "csrf@example.com").await;
        let browser = app.client();
        browser.get(&path_of(&link)).await;
        let forged = browser
            .post_raw(
                CREATE,
                &[
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(forged.status(), 403);
        assert!(signs_in(&app, "csrf@example.com", PASSWORD).await);
    }
);

store_test!(
    check_10_mail_has_no_password_and_the_link_starts_with_base_url,
    |app: TestApp| async move {
        app.register("content@example.com", PASSWORD).await;
        let link = link_for(&app, "content@example.com").await;
        assert!(link.starts_with(&format!(
            "{}/customer/account/createPassword?token=",
            app.address
        )));
        let mail = &app.smtp.received()[0];
        assert!(!mail.text().contains(PASSWORD));
        assert_eq!(mail.subject(), "Reset your password");
        assert!(mail.data.contains("text/plain") && mail.data.contains("text/html"));
    }
);

store_test!(
    check_11_tokens_have_256_bits_and_differ,
    |app: TestApp| async move {
        app.register("entropy@example.com", PASSWORD).await;
        app.set_option("min_minutes_between_requests", "0").await;
        let first = token_of(&link_for(&app, "entropy@example.com").await);
        let second = token_of(&link_for(&app, "entropy@example.com").await);
        assert_ne!(first, second);
        for token in [&first, &second] {
            assert!(token.len() >= 22, "{token}");
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
    }
);

/// Every value in every table, as text.
async fn database_dump(app: &TestApp) -> String {
    use sqlx::Row;
    let mut dump = String::new();
    match app.db() {
        shop_accounts::store::Db::Sqlite(pool) => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            for table in tables {
                for row in sqlx::query(&format!("SELECT * FROM \"{table}\""))
                    .fetch_all(pool)
                    .await
                    .unwrap()
                {
                    for i in 0..row.columns().len() {
                        if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                            dump.push_str(&text);
                        } else if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                            dump.push_str(&String::from_utf8_lossy(&bytes));
                        }
                        dump.push('\t');
                    }
                    dump.push('\n');
                }
            }
        }
        shop_accounts::store::Db::Postgres(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for table in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                        .fetch_all(pool)
                        .await
                        .unwrap();
                for row in rows {
                    dump.push_str(&row);
                    dump.push('\n');
                }
            }
        }
    }
    dump
}

store_test!(
    check_12_the_database_holds_only_a_hash_of_the_token,
    |app: TestApp| async move {
        app.register("dump@example.com", PASSWORD).await;
        let link = link_for(&app, "dump@example.com").await;
        let token = token_of(&link);
        // Open the link too, so the session holds whatever it holds.
        let browser = app.client();
        browser.get(&path_of(&link)).await;
        tokio::time::sleep(Duration::from_millis(300)).await; // the worker erases the delivered body
        let dump = database_dump(&app).await;
        assert!(dump.contains("dump@example.com"), "the dump is real");
        assert!(
            !dump.contains(&token),
            "the token itself is stored somewhere"
        );
    }
);

store_test!(
    check_13_opening_the_link_twice_and_head_does_not_use_it_up,
    |app: TestApp| async move {
        app.register("prefetch@example.com", PASSWORD).await;
        let link = link_for(&app, "prefetch@example.com").await;
        let scanner = app.client();
        for _ in 0..2 {
            assert_eq!(location(&scanner.get(&path_of(&link)).await), CREATE);
            let head = scanner
                .http
                .head(scanner.url(&path_of(&link)))
                .send()
                .await
                .unwrap();
            assert_eq!(head.status(), 303);
        }
        let browser = app.client();
        browser.get(&path_of(&link)).await;
        assert_eq!(location(&browser.get(&path_of(&link)).await), CREATE);
        let form = browser.get(CREATE).await;
        assert_eq!(form.status(), 200);
        let done = reset_with(&browser, &link, NEW_PASSWORD).await;
        assert_eq!(location(&done), "/customer/account/login");
        assert_eq!(
            flashes(&browser.follow(&done).await),
            vec!["You updated your password."]
        );
        assert!(signs_in(&app, "prefetch@example.com", NEW_PASSWORD).await);
    }
);

store_test!(
    check_14_a_used_link_is_expired_for_get_and_post,
    |app: TestApp| async move {
        app.register("used@example.com", PASSWORD).await;
        let link = link_for(&app, "used@example.com").await;
        let browser = app.client();
        let done = reset_with(&browser, &link, NEW_PASSWORD).await;
        assert_eq!(location(&done), "/customer/account/login");
        browser.follow(&done).await;
        let again = app.client();
        let opened = again.get(&path_of(&link)).await;
        assert_eq!(location(&opened), FORGOT);
        assert_eq!(flashes(&again.follow(&opened).await), vec![EXPIRED]);
        // POST with the token in the URL, in a fresh browser, and in the same one.
        for client in [app.client(), browser] {
            let post = client
                .post_form(
                    &path_of(&link),
                    &[
                        ("password", "third-password-1"),
                        ("password_confirmation", "third-password-1"),
                    ],
                )
                .await;
            assert_eq!(location(&post), FORGOT);
            assert_eq!(flashes(&client.follow(&post).await), vec![EXPIRED]);
        }
        assert!(signs_in(&app, "used@example.com", NEW_PASSWORD).await);
    }
);

store_test!(
    check_15_link_works_at_23h59_and_not_at_24h01,
    |app: TestApp| async move {
        app.register("clock@example.com", PASSWORD).await;
        app.set_option("protection_type", "none").await;
        let link = link_for(&app, "clock@example.com").await;
        app.advance_clock(23 * 3600 + 59 * 60);
        let browser = app.client();
        assert_eq!(
            location(&reset_with(&browser, &link, NEW_PASSWORD).await),
            "/customer/account/login"
        );

        let late = link_for(&app, "clock@example.com").await;
        app.advance_clock(24 * 3600 + 60);
        let client = app.client();
        let opened = client.get(&path_of(&late)).await;
        assert_eq!(location(&opened), FORGOT);
        assert_eq!(flashes(&client.follow(&opened).await), vec![EXPIRED]);
    }
);

store_test!(
    check_15_an_opened_link_expires_on_the_form_too,
    |app: TestApp| async move {
        app.register("opened@example.com", PASSWORD).await;
        let link = link_for(&app, "opened@example.com").await;
        let browser = app.client();
        assert_eq!(location(&browser.get(&path_of(&link)).await), CREATE);
        app.advance_clock(24 * 3600 + 60);
        let post = browser
            .post_form(
                CREATE,
                &[
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&post), FORGOT);
        assert!(signs_in(&app, "opened@example.com", PASSWORD).await);
    }
);

store_test!(
    check_16_a_newer_link_replaces_the_older,
    |app: TestApp| async move {
        app.register("newer@example.com", PASSWORD).await;
        let first = link_for(&app, "newer@example.com").await;
        app.advance_clock(10 * 60);
        let second = link_for(&app, "newer@example.com").await;
        let client = app.client();
        assert_eq!(location(&client.get(&path_of(&first)).await), FORGOT);
        assert_eq!(
            location(&reset_with(&app.client(), &second, NEW_PASSWORD).await),
            "/customer/account/login"
        );
    }
);

store_test!(
    check_17_another_password_change_kills_outstanding_links,
    |app: TestApp| async move {
        let account = app.register("other-path@example.com", PASSWORD).await;
        let link = link_for(&app, "other-path@example.com").await;
        account.sign_in("other-path@example.com", PASSWORD).await;
        let changed = account
            .post_form(
                "/customer/account/edit",
                &[
                    ("current_password", PASSWORD),
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&changed), "/customer/account");
        let client = app.client();
        assert_eq!(location(&client.get(&path_of(&link)).await), FORGOT);
    }
);

store_test!(
    check_18_the_form_url_has_no_token_and_sends_no_referrer,
    |app: TestApp| async move {
        app.register("referrer@example.com", PASSWORD).await;
        let link = link_for(&app, "referrer@example.com").await;
        let browser = app.client();
        let opened = browser.get(&path_of(&link)).await;
        assert_eq!(opened.headers()["referrer-policy"], "no-referrer");
        assert_eq!(location(&opened), CREATE, "no token in the form's URL");
        let form = browser.get(CREATE).await;
        assert_eq!(form.headers()["referrer-policy"], "no-referrer");
        let csp = form.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.starts_with("default-src 'self'"));
        let html = form.text().await.unwrap();
        assert!(!html.contains(&token_of(&link)));
        for attribute in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(
                !html.contains(attribute),
                "third-party resource on the reset page: {attribute}"
            );
        }
    }
);

store_test!(
    check_19_reset_pages_are_not_cached,
    |app: TestApp| async move {
        app.register("cache@example.com", PASSWORD).await;
        let link = link_for(&app, "cache@example.com").await;
        let browser = app.client();
        for path in [FORGOT.to_string(), path_of(&link), CREATE.to_string()] {
            let response = browser.get(&path).await;
            assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        }
    }
);

store_test!(
    check_20_tampered_truncated_and_foreign_tokens_look_expired,
    |app: TestApp| async move {
        app.register("mine@example.com", PASSWORD).await;
        app.register("theirs@example.com", PASSWORD).await;
        let link = link_for(&app, "mine@example.com").await;
        let token = token_of(&link);
        let mut tampered = token.clone().into_bytes();
        tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        for bad in [
            tampered.as_str(),
            &token[..token.len() - 1],
            "",
            "%00",
            &"A".repeat(5000),
        ] {
            let client = app.client();
            let response = client.get(&format!("{CREATE}?token={bad}")).await;
            assert_eq!(location(&response), FORGOT, "token {bad:?}");
            assert_eq!(flashes(&client.follow(&response).await), vec![EXPIRED]);
        }
        // Someone else's token through REST: the owner's email must match.
        let api = app.client();
        let response = api
        .http
        .post(api.url("/rest/V1/customers/resetPassword"))
        .json(&serde_json::json!({"email": "theirs@example.com", "resetToken": token, "newPassword": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["message"],
            EXPIRED
        );
        assert!(signs_in(&app, "theirs@example.com", PASSWORD).await);
        assert!(signs_in(&app, "mine@example.com", PASSWORD).await);
    }
);

store_test!(
    check_22_policy_applies_to_the_new_password,
    |app: TestApp| async move {
        app.register("rules@example.com", PASSWORD).await;
        let link = link_for(&app, "rules@example.com").await;
        let browser = app.client();
        browser.get(&path_of(&link)).await;
        let cases = [
            (
                "abc12",
                "The password needs at least 6 characters. Create a new password and try again.",
            ),
            (
                "password123",
                "This password is too common and easy to guess. Choose a less common password.",
            ),
            (
                "rules@example.com",
                "The password can't be the same as the email address. Create a new password and try again.",
            ),
            ("has space9", "The password can't contain spaces."),
        ];
        for (password, message) in cases {
            let response = browser
                .post_form(
                    CREATE,
                    &[("password", password), ("password_confirmation", password)],
                )
                .await;
            assert_eq!(location(&response), CREATE, "{password}");
            assert_eq!(
                flashes(&browser.follow(&response).await),
                vec![message.to_string()],
                "{password}"
            );
            // The same message on registration.
            let signup = app.client();
            let registered = signup
                .post_form(
                    "/customer/account/create",
                    &[
                        ("firstname", "A"),
                        ("lastname", "B"),
                        ("email", "rules@example.com"),
                        ("password", password),
                        ("password_confirmation", password),
                    ],
                )
                .await;
            assert!(flashes(&signup.follow(&registered).await).contains(&message.to_string()));
        }
        let mismatch = browser
            .post_form(
                CREATE,
                &[
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", "other-thing-1"),
                ],
            )
            .await;
        assert_eq!(
            flashes(&browser.follow(&mismatch).await),
            vec!["New Password and Confirm New Password values didn't match."]
        );
        // None of those used the link up.
        assert_eq!(
            location(&reset_with(&browser, &link, NEW_PASSWORD).await),
            "/customer/account/login"
        );
    }
);

store_test!(
    check_23_long_and_non_ascii_passwords_are_kept_whole,
    |app: TestApp| async move {
        app.register("long@example.com", PASSWORD).await;
        app.set_option("protection_type", "none").await;
        let sixty_four: String = "wachtwoord-ñandú-€".chars().cycle().take(64).collect();
        let link = link_for(&app, "long@example.com").await;
        assert_eq!(
            location(&reset_with(&app.client(), &link, &sixty_four).await),
            "/customer/account/login"
        );
        assert!(signs_in(&app, "long@example.com", &sixty_four).await);

        let max: String = "Zz9!é".chars().cycle().take(256).collect();
        let link = link_for(&app, "long@example.com").await;
        assert_eq!(
            location(&reset_with(&app.client(), &link, &max).await),
            "/customer/account/login"
        );
        assert!(signs_in(&app, "long@example.com", &max).await);
        // No silent truncation: the first 72 bytes alone do not sign in.
        let first_72_bytes = String::from_utf8_lossy(&max.as_bytes()[..72]).to_string();
        assert!(!signs_in(&app, "long@example.com", &first_72_bytes).await);

        let too_long: String = "x".repeat(257);
        let link = link_for(&app, "long@example.com").await;
        let browser = app.client();
        let refused = reset_with(&browser, &link, &too_long).await;
        assert_eq!(
            flashes(&browser.follow(&refused).await),
            vec!["Please enter a password with at most 256 characters."]
        );
    }
);

store_test!(
    check_24_no_composition_rule_unless_configured,
    |app: TestApp| async move {
        app.register("classes@example.com", PASSWORD).await;
        let link = link_for(&app, "classes@example.com").await;
        let passphrase = "plain-lowercase-passphrase";
        assert_eq!(
            location(&reset_with(&app.client(), &link, passphrase).await),
            "/customer/account/login"
        );

        app.set_option("required_character_classes", "3").await;
        app.advance_clock(10 * 60);
        let link = link_for(&app, "classes@example.com").await;
        let browser = app.client();
        let refused = reset_with(&browser, &link, "another-lowercase-one").await;
        assert_eq!(
            flashes(&browser.follow(&refused).await),
            vec![
                "Minimum of different classes of characters in password is 3. Classes of characters: Lower Case, Upper Case, Digits, Special Characters."
            ]
        );
        let accepted = browser
            .post_form(
                CREATE,
                &[
                    ("password", "Another-one-9"),
                    ("password_confirmation", "Another-one-9"),
                ],
            )
            .await;
        assert_eq!(location(&accepted), "/customer/account/login");
    }
);

store_test!(
    check_25_26_27_reset_signs_in_nobody_and_ends_every_session_and_token,
    |app: TestApp| async move {
        let first = app.register("sessions@example.com", PASSWORD).await;
        first.sign_in("sessions@example.com", PASSWORD).await;
        let second = app.client();
        second.sign_in("sessions@example.com", PASSWORD).await;
        let api = app.client();
        let token: String = api
            .http
            .post(api.url("/rest/V1/integration/customer/token"))
            .json(&serde_json::json!({"username": "sessions@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let me = |token: String| {
            let api = &api;
            async move {
                api.http
                    .get(api.url("/rest/V1/customers/me"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(me(token.clone()).await, 200);

        let link = link_for(&app, "sessions@example.com").await;
        let browser = app.client();
        let done = reset_with(&browser, &link, NEW_PASSWORD).await;
        assert_eq!(location(&done), "/customer/account/login");
        // 25: the browser that reset is not signed in.
        assert_eq!(
            location(&browser.get("/customer/account").await),
            "/customer/account/login"
        );
        // 26: every earlier session ends on its next request.
        for client in [&first, &second] {
            assert_eq!(
                location(&client.get("/customer/account").await),
                "/customer/account/login"
            );
        }
        // 27: every earlier API token is refused.
        assert_eq!(me(token).await, 401);
    }
);

store_test!(
    check_28_a_password_changed_mail_follows_the_reset,
    |app: TestApp| async move {
        app.register("notice@example.com", PASSWORD).await;
        let link = link_for(&app, "notice@example.com").await;
        reset_with(&app.client(), &link, NEW_PASSWORD).await;
        let mails = app.smtp.wait_for(2).await;
        let notice = &mails[1];
        assert_eq!(notice.to, vec!["notice@example.com".to_string()]);
        assert_eq!(notice.subject(), "Your password was changed");
        assert!(!notice.text().contains(NEW_PASSWORD));
        assert!(reset_link(notice).is_none());
    }
);

store_test!(
    check_29_reset_unlocks_and_does_not_lock,
    |app: TestApp| async move {
        app.register("locked@example.com", PASSWORD).await;
        let attacker = app.client();
        for _ in 0..10 {
            attacker.sign_in("locked@example.com", "wrong-guess").await;
        }
        assert!(
            !signs_in(&app, "locked@example.com", PASSWORD).await,
            "locked after 10 failures"
        );
        let link = link_for(&app, "locked@example.com").await;
        reset_with(&app.client(), &link, NEW_PASSWORD).await;
        assert!(
            signs_in(&app, "locked@example.com", NEW_PASSWORD).await,
            "a successful reset unlocks"
        );
        // The counter starts afresh: 9 failures do not lock.
        for _ in 0..9 {
            attacker.sign_in("locked@example.com", "wrong-guess").await;
        }
        assert!(signs_in(&app, "locked@example.com", NEW_PASSWORD).await);
    }
);

store_test!(
    rest_reset_request_and_completion,
    |app: TestApp| async move {
        app.register("rest@example.com", PASSWORD).await;
        let api = app.client();
        // Each call from another address: only the email's limit applies.
        let put = |email: &'static str| {
            let api = app.client();
            async move {
                api.http
                    .put(api.url("/rest/V1/customers/password"))
                    .json(&serde_json::json!({"email": email, "template": "email_reset"}))
                    .send()
                    .await
                    .unwrap()
            }
        };
        for email in ["rest@example.com", "rest-nobody@example.com"] {
            let response = put(email).await;
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.json::<serde_json::Value>().await.unwrap(),
                serde_json::json!(true)
            );
        }
        let limited = put("rest@example.com").await;
        assert_eq!(limited.status(), 429);
        assert_eq!(
            limited.json::<serde_json::Value>().await.unwrap()["message"],
            limit_message()
        );

        let mails = app.smtp.wait_for(1).await;
        let token = token_of(&reset_link(&mails[0]).unwrap());
        let post = |body: serde_json::Value| {
            let api = &api;
            async move {
                api.http
                    .post(api.url("/rest/V1/customers/resetPassword"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let weak = post(serde_json::json!({"email": "rest@example.com", "resetToken": token, "newPassword": "abc"})).await;
        assert_eq!(weak.status(), 400);
        assert!(
            weak.json::<serde_json::Value>().await.unwrap()["message"]
                .as_str()
                .unwrap()
                .contains("at least 6")
        );
        let ok = post(serde_json::json!({"email": "REST@example.com", "resetToken": token, "newPassword": NEW_PASSWORD})).await;
        assert_eq!(ok.status(), 200);
        assert_eq!(
            ok.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!(true)
        );
        let again = post(serde_json::json!({"email": "rest@example.com", "resetToken": token, "newPassword": "yet-another-1"})).await;
        assert_eq!(again.status(), 400);
        assert!(signs_in(&app, "rest@example.com", NEW_PASSWORD).await);
        let garbage = api
            .http
            .post(api.url("/rest/V1/customers/resetPassword"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(garbage.status(), 400);
        assert!(garbage.json::<serde_json::Value>().await.unwrap()["message"].is_string());
    }
);

store_test!(
    mail_survives_an_smtp_outage_exactly_once,
    |app: TestApp| async move {
        let mut app = app;
        app.register("outage@example.com", PASSWORD).await;
        app.set_option("protection_type", "none").await;
        app.smtp.stop();
        for _ in 0..50 {
            let response = app.client().request_reset("outage@example.com").await;
            assert_eq!(location(&response), "/customer/account/login");
        }
        // The worker tries and fails twice: the outage is confirmed.
        let started = Instant::now();
        loop {
            let queue = app.db().mail_queue(None, 100).await.unwrap();
            // An attempt counts from its claim: only those no longer sending are over.
            let failed: i64 = queue
                .iter()
                .filter(|row| row.status != "sending")
                .map(|row| row.attempts)
                .sum();
            if failed >= 2 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "{queue:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(app.smtp.received().is_empty());
        app.smtp.resume().await;
        app.advance_clock_and_wake(120); // past the longest backoff, instead of waiting for it
        let mails = app.smtp.wait_for(50).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(app.smtp.received().len(), 50, "exactly 50, none twice");
        assert_eq!(mails_to(&mails, "outage@example.com").len(), 50);
        let counts = app.db().mail_status_counts().await.unwrap();
        assert_eq!(counts, vec![("sent".to_string(), 50)]);
    }
);

store_test!(
    mail_queued_before_a_restart_arrives_after_it,
    |app: TestApp| async move {
        let mut app = app;
        app.register("restart@example.com", PASSWORD).await;
        app.smtp.stop();
        app.client().request_reset("restart@example.com").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut app = app.restart().await;
        app.smtp.resume().await;
        app.advance_clock_and_wake(120);
        let mails = app.smtp.wait_for(1).await;
        assert_eq!(mails[0].to, vec!["restart@example.com".to_string()]);
        let link = reset_link(&mails[0]).unwrap();
        assert_eq!(
            location(&reset_with(&app.client(), &link, NEW_PASSWORD).await),
            "/customer/account/login"
        );
        app.stop().await;
    }
);

store_test!(
    permanent_refusals_are_retried_a_few_times_then_failed,
    |app: TestApp| async move {
        app.register("refused@example.com", PASSWORD).await;
        app.smtp.set_refusing(true);
        app.client().request_reset("refused@example.com").await;
        // Each step moves the clock past the backoff; stops once given up on.
        for _ in 0..25 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let counts = app.db().mail_status_counts().await.unwrap();
            if counts.iter().any(|(status, _)| status == "failed") {
                break;
            }
            app.advance_clock_and_wake(61);
        }
        let counts = app.db().mail_status_counts().await.unwrap();
        let queue = app.db().mail_queue(None, 10).await.unwrap();
        assert_eq!(counts, vec![("failed".to_string(), 1)], "{queue:?}");
        assert_eq!(queue[0].attempts, 5);
        assert!(queue[0].last_error.as_deref().unwrap_or("").contains("550"));
    }
);

store_test!(
    two_instances_never_send_a_message_twice,
    |mut app: TestApp| async move {
        app.register("pair@example.com", PASSWORD).await;
        app.set_option("protection_type", "none").await;
        app.smtp.stop();
        for _ in 0..30 {
            app.client().request_reset("pair@example.com").await;
        }
        let mut other = app.second_instance().await;
        app.smtp.resume().await;
        app.advance_clock_and_wake(120);
        app.smtp.wait_for(30).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(app.smtp.received().len(), 30);
        other.stop().await;
    }
);

store_test!(dutch_customers_get_dutch_mail, |app: TestApp| async move {
    let client = app.client();
    client.get("/language/nl?back=/").await;
    let response = client
        .post_form(
            "/customer/account/create",
            &[
                ("firstname", "Sanne"),
                ("lastname", "de Vries"),
                ("email", "sanne@example.nl"),
                ("password", PASSWORD),
                ("password_confirmation", PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&response), "/customer/account");
    let forgot = app.client();
    forgot.get("/language/nl?back=/").await;
    let response = forgot.request_reset("sanne@example.nl").await;
    let page = forgot.follow(&response).await;
    assert_eq!(
        flashes(&page),
        vec![
            "Als er een account bij sanne@example.nl hoort, ontvangt u een e-mail met een link om uw wachtwoord opnieuw in te stellen."
        ]
    );
    let mails = app.smtp.wait_for(1).await;
    assert_eq!(mails[0].subject(), "Stel uw wachtwoord opnieuw in");
    assert!(mails[0].text().contains("Beste Sanne de Vries"));
});

store_test!(
    metrics_count_queued_sent_and_limited,
    |app: TestApp| async move {
        app.register("metrics@example.com", PASSWORD).await;
        app.client().request_reset("metrics@example.com").await;
        app.client().request_reset("metrics@example.com").await;
        app.smtp.wait_for(1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let metrics = app.metrics().await;
        for name in [
            "shop_mail_queued_total",
            "shop_mail_sent_total",
            "shop_password_reset_limited_total",
        ] {
            assert!(metrics.contains(name), "{name} missing from /metrics");
        }
    }
);

/// The value of one counter line of /metrics (0 when absent).
fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

store_test!(
    a_password_change_counts_its_mail_in_the_metrics,
    |app: TestApp| async move {
        let series = "shop_mail_queued_total{kind=\"password_changed\"}";
        let client = app.register("counted@example.com", PASSWORD).await;
        client.sign_in("counted@example.com", PASSWORD).await;
        let before = counter(&app.metrics().await, series);
        let changed = client
            .post_form(
                "/customer/account/edit",
                &[
                    ("current_password", PASSWORD),
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&changed), "/customer/account");
        let after = counter(&app.metrics().await, series);
        assert!(
            after > before,
            "the notice of a password change is counted ({before} → {after})"
        );
    }
);

store_test!(
    check_21_guessing_tokens_is_limited_per_ip,
    |app: TestApp| async move {
        app.register("guess@example.com", PASSWORD).await;
        let link = link_for(&app, "guess@example.com").await;
        let guesser = app.client_from("198.51.100.9");
        for i in 0..20 {
            let guess = format!("{CREATE}?token={:0>43}", i);
            assert_eq!(location(&guesser.get(&guess).await), FORGOT);
        }
        // Now even the real link looks expired from that address…
        let blocked = guesser.get(&path_of(&link)).await;
        assert_eq!(location(&blocked), FORGOT);
        let api = guesser
            .http
            .post(guesser.url("/rest/V1/customers/resetPassword"))
            .json(&serde_json::json!({"email": "guess@example.com", "resetToken": token_of(&link), "newPassword": NEW_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), 400);
        // …while the customer, elsewhere, uses it as usual.
        let customer = app.client_from("203.0.113.5");
        assert_eq!(
            location(&reset_with(&customer, &link, NEW_PASSWORD).await),
            "/customer/account/login"
        );
        // After an hour the guesser's address may try again.
        app.advance_clock(3601);
        let fresh = link_for(&app, "guess@example.com").await;
        assert_eq!(location(&guesser.get(&path_of(&fresh)).await), CREATE);
    }
);

/// Rows in the session store.
async fn session_rows(app: &TestApp) -> i64 {
    let sql = match app.db() {
        shop_accounts::store::Db::Sqlite(_) => {
            "SELECT COUNT(*) + 0 * length($1) FROM tower_sessions"
        }
        shop_accounts::store::Db::Postgres(_) => {
            "SELECT COUNT(*) + 0 * length($1) FROM tower_sessions.session"
        }
    };
    scalar_with(app.db(), sql, "").await
}

store_test!(
    a_reset_request_writes_no_session_its_message_comes_in_a_signed_cookie,
    |app: TestApp| async move {
        app.register("cookie@example.com", PASSWORD).await;
        let sessions = session_rows(&app).await;
        let client = app.client();
        let response = client.request_reset("cookie@example.com").await;
        assert_eq!(location(&response), "/customer/account/login");
        let cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert!(
            cookies
                .iter()
                .any(|c| c.starts_with("flash=") && c.contains("HttpOnly")),
            "{cookies:?}"
        );
        assert!(
            !cookies.iter().any(|c| c.contains("session")),
            "{cookies:?}"
        );
        assert_eq!(
            flashes(&client.follow(&response).await),
            vec![sent_message("cookie@example.com")]
        );
        // Shown once: the page cleared the cookie.
        let again = client.get_text("/customer/account/login").await;
        assert!(flashes(&again).is_empty());
        assert_eq!(session_rows(&app).await, sessions, "no session was written");
        app.smtp.wait_for(1).await;

        // A cookie the server did not sign shows nothing.
        let forged = "W3sia2luZCI6ImVycm9yIiwidGV4dCI6IkNhbGwgKzEgNTU1In1d.bm90LWEtbWFj";
        let page = reqwest::Client::new()
            .get(client.url("/customer/account/login"))
            .header("cookie", format!("flash={forged}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(flashes(&page).is_empty(), "{:?}", flashes(&page));
        assert!(!page.contains("Call +1 555"));
    }
);

/// Holds the reset-link table for `hold`: SQLite's write lock, or a PostgreSQL
/// table lock, taken before it returns.
async fn hold_reset_links(app: &TestApp, hold: Duration) -> tokio::task::JoinHandle<()> {
    let (locked, is_locked) = tokio::sync::oneshot::channel();
    let db = app.db().clone();
    let task = tokio::spawn(async move {
        match db {
            shop_accounts::store::Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await.unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                locked.send(()).unwrap();
                tokio::time::sleep(hold).await;
                sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
            }
            shop_accounts::store::Db::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("LOCK TABLE password_reset_tokens IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                locked.send(()).unwrap();
                tokio::time::sleep(hold).await;
                tx.rollback().await.unwrap();
            }
        }
    });
    is_locked.await.unwrap();
    task
}

store_test!(
    reset_requests_that_arrive_together_are_written_together_each_with_its_own_link,
    |app: TestApp| async move {
        app.set_option("protection_type", "none").await;
        let emails: Vec<String> = (0..8).map(|i| format!("group{i}@example.com")).collect();
        for email in &emails {
            app.register(email, PASSWORD).await;
        }
        let groups_before = app.state.resets.groups_written();
        let clients: Vec<Client> = (0..10).map(|_| app.client()).collect();
        for client in &clients {
            client.form_key().await;
        }
        // The first request's group waits for the lock; the nine that come
        // meanwhile (one customer three times) wait for the next group.
        // (Well within the 1.5 s a serving statement waits for a lock.)
        let held = hold_reset_links(&app, Duration::from_millis(900)).await;
        let first = clients[0].request_reset(&emails[0]);
        let mut asked: Vec<&str> = emails[1..].iter().map(String::as_str).collect();
        asked.extend(["group1@example.com", "group1@example.com"]);
        let rest = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            futures_util::future::join_all(
                clients[1..]
                    .iter()
                    .zip(&asked)
                    .map(|(client, email)| client.request_reset(email)),
            )
            .await
        };
        let (first, rest, held) = tokio::join!(first, rest, held);
        held.unwrap();
        assert_eq!(first.status(), 303);
        for response in &rest {
            assert_eq!(location(response), "/customer/account/login");
        }
        let written = app.state.resets.groups_written() - groups_before;
        // group1's three requests go in three groups; the other requests
        // that waited for the lock share theirs.
        assert!(
            (3..=6).contains(&written),
            "10 requests in {written} groups"
        );
        // Every request got its mail; each customer holds one live link, the
        // last one sent to group1.
        let mut mails = Vec::new();
        for _ in 0..200 {
            mails = app.smtp.received();
            if mails.iter().filter_map(reset_link).count() >= 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let links: i64 = scalar_with(
            app.db(),
            "SELECT COUNT(*) + 0 * length($1) FROM password_reset_tokens",
            "",
        )
        .await;
        assert_eq!(links, 8);
        for email in &emails {
            assert!(!mails_to(&mails, email).is_empty(), "a mail for {email}");
        }
        let group1: Vec<String> = mails_to(&mails, "group1@example.com")
            .into_iter()
            .filter_map(reset_link)
            .collect();
        assert_eq!(group1.len(), 3);
        let mut live = 0;
        for link in &group1 {
            let opened = app.client().get(&path_of(link)).await;
            if location(&opened) == CREATE {
                live += 1;
            }
        }
        assert_eq!(live, 1, "a customer's newest link replaced the others");
    }
);
