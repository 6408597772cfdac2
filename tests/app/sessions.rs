//! Sessions (issue 8): a new session id whenever a session gains a sign-in or
//! a reset link, `__Host-` cookie names over https, an absolute lifetime on
//! top of the idle one, and control characters refused in every text input.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::accounts::hash_for_demo;
use shop_accounts::store::NewCustomer;

use crate::helpers::*;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const NEW_PASSWORD: &str = "fresh-meadow-42";
const ADMIN_EMAIL: &str = "ada@shop.test";
const ADMIN_PASSWORD: &str = "admin-horse-77";
const FAILED: &str = "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.";
const EXPIRED: &str = "Your password reset link has expired.";
const CONTROL: &str = "Please remove the control characters (such as NUL or a line break).";
const PASSWORD_CONTROL: &str = "The password can't contain control characters.";
const EMAIL_INVALID: &str = "Please enter a valid email address (Ex: johndoe@domain.com).";
const CREATE: &str = "/customer/account/createPassword";

/// The value a response sets for cookie `name`, if it sets one.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookie_line(response, name).map(|line| {
        let pair = line.split(';').next().unwrap();
        pair.split_once('=').unwrap().1.to_string()
    })
}

/// The whole Set-Cookie line a response sends for cookie `name`.
fn set_cookie_line(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|line| line.starts_with(&format!("{name}=")))
}

/// A browser whose cookie jar starts with `cookie` (as an attacker would plant
/// it), talking to the app directly.
struct PlantedBrowser {
    base: String,
    http: reqwest::Client,
}

impl PlantedBrowser {
    fn new(app: &TestApp, ip: &str, cookie: &str) -> PlantedBrowser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(cookie, &app.address.parse().unwrap());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        let http = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .pool_idle_timeout(std::time::Duration::from_secs(4))
            .build()
            .unwrap();
        PlantedBrowser {
            base: app.address.clone(),
            http,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// POSTs `fields` with the form key of the page at `form_page`.
    async fn post_form(
        &self,
        form_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let page = self.get(form_page).await.text().await.unwrap();
        let key = extract_form_key(&page).expect("a form key");
        let mut all = fields.to_vec();
        all.push(("form_key", &key));
        self.http
            .post(format!("{}{path}", self.base))
            .form(&all)
            .send()
            .await
            .unwrap()
    }
}

/// A reset link for `email`, asked for by a third party.
async fn link_for(app: &TestApp, email: &str) -> String {
    let before = app.smtp.received().len();
    app.client().request_reset(email).await;
    for _ in 0..200 {
        if let Some(link) = app.smtp.received()[before..].iter().find_map(reset_link) {
            return link;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reset link arrived for {email}");
}

async fn signs_in(app: &TestApp, email: &str, password: &str) -> bool {
    location(&app.client().sign_in(email, password).await) == "/customer/account"
}

store_test!(
    a_planted_session_cannot_use_the_victims_reset_link,
    |app: TestApp| async move {
        app.register("victim@example.com", PASSWORD).await;
        // The attacker gets a session from the server (the forgot form keeps a
        // mistyped address in it) and keeps its cookie.
        let attacker = app.client();
        let mistyped = attacker.request_reset("not-an-address").await;
        let planted = set_cookie(&mistyped, "shop_session").expect("a session cookie");

        // The victim's browser carries the planted cookie and opens their link.
        let victim = PlantedBrowser::new(&app, "10.200.0.1", &format!("shop_session={planted}"));
        let link = link_for(&app, "victim@example.com").await;
        let opened = victim.get(&path_of(&link)).await;
        assert_eq!(location(&opened), CREATE);
        let fresh = set_cookie(&opened, "shop_session").expect("a new session cookie");
        assert_ne!(
            fresh, planted,
            "opening the link gives the session a new id"
        );

        // The attacker's jar (the old id) cannot set the password.
        let stolen = attacker
            .post_form(
                CREATE,
                &[
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&stolen), "/customer/account/forgotpassword");
        assert!(flashes(&attacker.follow(&stolen).await).contains(&EXPIRED.to_string()));
        assert!(!signs_in(&app, "victim@example.com", NEW_PASSWORD).await);

        // The victim's own browser still can.
        let own = victim
            .post_form(
                CREATE,
                CREATE,
                &[
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&own), "/customer/account/login");
        assert!(signs_in(&app, "victim@example.com", NEW_PASSWORD).await);
    }
);

store_test!(
    sign_in_and_password_change_give_a_new_session_id,
    |app: TestApp| async move {
        app.register("cycle@example.com", PASSWORD).await;
        let client = app.client();
        // A session before signing in: the forgot form keeps a mistyped address.
        let mistyped = client.request_reset("not-an-address").await;
        let before = set_cookie(&mistyped, "shop_session").expect("a session cookie");
        let signed_in = client.sign_in("cycle@example.com", PASSWORD).await;
        assert_eq!(location(&signed_in), "/customer/account");
        let after_sign_in = set_cookie(&signed_in, "shop_session").expect("a session cookie");
        assert_ne!(after_sign_in, before);

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
        let after_change = set_cookie(&changed, "shop_session").expect("a session cookie");
        assert_ne!(after_change, after_sign_in);
        // This browser stays signed in; the id it had before does not.
        assert_eq!(client.get("/customer/account").await.status(), 200);
        let old = PlantedBrowser::new(&app, "10.200.0.2", &format!("shop_session={after_sign_in}"));
        assert_eq!(
            location(&old.get("/customer/account").await),
            "/customer/account/login"
        );

        // The admin sign-in as well.
        admins::create(
            &app.state,
            ADMIN_EMAIL,
            "Ada Admin",
            Role::Administrator,
            ADMIN_PASSWORD,
            None,
        )
        .await
        .unwrap();
        // A session this browser already had (its own earlier sign-in) is
        // not the one a new sign-in goes on in.
        let admin = app.client();
        let first = admin
            .post_form(
                "/admin/login",
                &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            )
            .await;
        let before = set_cookie(&first, "admin_session").expect("an admin session cookie");
        let signed_in = admin
            .post_form(
                "/admin/login",
                &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(location(&signed_in), "/admin/customers");
        let after = set_cookie(&signed_in, "admin_session").expect("an admin session cookie");
        assert_ne!(after, before);
    }
);

/// Over https every cookie is `__Host-…`: Secure, Path=/, no Domain; and the
/// server reads them back under those names.
async fn https_cookies_are_host_only(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.base_url = "https://shop.example".parse().unwrap()
    })
    .await;
    admins::create(
        &app.state,
        ADMIN_EMAIL,
        "Ada Admin",
        Role::Administrator,
        ADMIN_PASSWORD,
        None,
    )
    .await
    .unwrap();
    // No cookie store: the cookies are sent back by hand, as a browser on
    // https://shop.example would.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", app.address);
    let host_only = |line: &str| {
        line.contains("; Path=/")
            && line.contains("Secure")
            && line.contains("HttpOnly")
            && !line.to_ascii_lowercase().contains("domain")
    };

    let page = http
        .get(url("/customer/account/login"))
        .send()
        .await
        .unwrap();
    let seed_line = set_cookie_line(&page, "__Host-form_seed").expect("a __Host- seed cookie");
    assert!(host_only(&seed_line), "{seed_line}");
    let seed = set_cookie(&page, "__Host-form_seed").unwrap();
    let key = extract_form_key(&page.text().await.unwrap()).unwrap();
    let cookie = format!("__Host-form_seed={seed}");

    // A failed sign-in's message comes in the flash cookie; a mistyped address
    // on the forgot form is kept in a storefront session; an administrator's
    // sign-in starts an admin session.
    for (path, fields, set) in [
        (
            "/customer/account/login",
            [("email", ADMIN_EMAIL), ("password", "wrong-guess")],
            "__Host-flash",
        ),
        (
            "/admin/login",
            [("email", ADMIN_EMAIL), ("password", "wrong-guess")],
            "__Host-admin_flash",
        ),
        (
            "/customer/account/forgotpassword",
            [("email", "not-an-address"), ("unused", "")],
            "__Host-shop_session",
        ),
        (
            "/admin/login",
            [("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            "__Host-admin_session",
        ),
    ] {
        let mut form = fields.to_vec();
        form.push(("form_key", &key));
        let response = http
            .post(url(path))
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            303,
            "the seed is read under its new name"
        );
        let line = set_cookie_line(&response, set).unwrap_or_else(|| panic!("a {set} cookie"));
        assert!(host_only(&line), "{line}");
    }

    let switched = http.get(url("/language/nl")).send().await.unwrap();
    let line = set_cookie_line(&switched, "__Host-lang").expect("a __Host- language cookie");
    assert!(
        host_only(&line) && line.starts_with("__Host-lang=nl;"),
        "{line}"
    );
    let dutch = http
        .get(url("/customer/account/login"))
        .header("cookie", "__Host-lang=nl")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        dutch.contains("<html lang=\"nl\""),
        "the language cookie is read back"
    );

    // Over http the names stay as they were.
    let plain = TestApp::spawn(backend).await;
    let page = plain.client().get("/customer/account/login").await;
    assert!(set_cookie(&page, "form_seed").is_some());
    let switched = plain.client().get("/language/nl").await;
    assert!(set_cookie(&switched, "lang").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_cookies_are_host_only_sqlite() {
    https_cookies_are_host_only(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_cookies_are_host_only_postgres() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL half skipped");
        return;
    }
    https_cookies_are_host_only(Backend::Postgres).await;
}

store_test!(
    a_storefront_sign_in_lasts_seven_days_at_most,
    |app: TestApp| async move {
        let client = app.register("week@example.com", PASSWORD).await;
        client.sign_in("week@example.com", PASSWORD).await;
        // A margin for the real seconds the test itself takes.
        app.advance_clock(7 * 24 * 3600 - 300);
        assert_eq!(client.get("/customer/account").await.status(), 200);
        app.advance_clock(600);
        let ended = client.get("/customer/account").await;
        assert_eq!(location(&ended), "/customer/account/login");
        // Signing in again starts a new lifetime.
        client.sign_in("week@example.com", PASSWORD).await;
        assert_eq!(client.get("/customer/account").await.status(), 200);
    }
);

store_test!(
    an_admin_sign_in_lasts_twelve_hours_at_most,
    |app: TestApp| async move {
        admins::create(
            &app.state,
            ADMIN_EMAIL,
            "Ada Admin",
            Role::Administrator,
            ADMIN_PASSWORD,
            None,
        )
        .await
        .unwrap();
        let admin = app.client();
        let signed_in = admin
            .post_form(
                "/admin/login",
                &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(location(&signed_in), "/admin/customers");
        app.advance_clock(12 * 3600 - 300);
        assert_eq!(admin.get("/admin/customers").await.status(), 200);
        app.advance_clock(600);
        let ended = admin.get("/admin/customers").await;
        assert_eq!(location(&ended), "/admin/login");
    }
);

store_test!(
    control_characters_in_storefront_forms_are_refused,
    |app: TestApp| async move {
        let client = app.client();
        let register = |first: &'static str, email: &'static str, password: &'static str| {
            let client = &client;
            async move {
                let response = client
                    .post_form(
                        "/customer/account/create",
                        &[
                            ("firstname", first),
                            ("lastname", "Doe"),
                            ("email", email),
                            ("password", password),
                            ("password_confirmation", password),
                        ],
                    )
                    .await;
                assert_eq!(location(&response), "/customer/account/create");
                flashes(&client.follow(&response).await)
            }
        };
        assert!(
            register("Ja\0ne", "jane@example.com", PASSWORD)
                .await
                .contains(&format!("First Name: {CONTROL}"))
        );
        assert!(
            register("Jane", "ja\0ne@example.com", PASSWORD)
                .await
                .contains(&format!("Email: {EMAIL_INVALID}"))
        );
        assert!(
            register("Jane", "jane@example.com", "correct\0horse-9")
                .await
                .contains(&PASSWORD_CONTROL.to_string())
        );
        assert!(
            !signs_in(&app, "jane@example.com", PASSWORD).await,
            "nothing was created"
        );

        // Sign-in: refused like a wrong password, whatever the field.
        app.register("jane@example.com", PASSWORD).await;
        for (email, password) in [
            ("jane\0@example.com", PASSWORD),
            ("jane@example.com", "correct-horse-9\0"),
        ] {
            let response = client.sign_in(email, password).await;
            assert_eq!(location(&response), "/customer/account/login");
            assert_eq!(flashes(&client.follow(&response).await), vec![FAILED]);
        }

        // Forgot Your Password?
        let response = client.request_reset("jane\0@example.com").await;
        assert_eq!(location(&response), "/customer/account/forgotpassword");
        assert_eq!(
            flashes(&client.follow(&response).await),
            vec![format!("Email: {EMAIL_INVALID}")]
        );

        // My Account: a new password with a control character breaks the policy.
        client.sign_in("jane@example.com", PASSWORD).await;
        let response = client
            .post_form(
                "/customer/account/edit",
                &[
                    ("current_password", PASSWORD),
                    ("password", "fresh\0meadow-42"),
                    ("password_confirmation", "fresh\0meadow-42"),
                ],
            )
            .await;
        assert_eq!(location(&response), "/customer/account/edit");
        assert!(flashes(&client.follow(&response).await).contains(&PASSWORD_CONTROL.to_string()));
        assert!(signs_in(&app, "jane@example.com", PASSWORD).await);
    }
);

store_test!(
    a_stored_password_with_a_control_character_never_signs_in,
    |app: TestApp| async move {
        // Set before the policy refused them; such a password now needs a reset.
        let hash = hash_for_demo("old\u{1}password").unwrap();
        app.db()
            .insert_customer(&NewCustomer {
                email: "old@example.com",
                email_key: "old@example.com",
                firstname: "Old",
                lastname: "Timer",
                password_hash: &hash,
                security_stamp: "stamp",
                locale: "en",
                created_at: app.state.now(),
            })
            .await
            .unwrap();
        assert!(!signs_in(&app, "old@example.com", "old\u{1}password").await);
        let response = app
            .client()
            .http
            .post(format!(
                "{}/rest/V1/integration/customer/token",
                app.address
            ))
            .json(&json!({ "username": "old@example.com", "password": "old\u{1}password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
);

store_test!(
    control_characters_in_the_admin_setup_are_refused,
    |app: TestApp| async move {
        let token = admins::setup::issue_if_needed(&app.state)
            .await
            .unwrap()
            .expect("a setup token");
        let setup = format!("/admin/setup?token={token}");
        let visitor = app.client();
        for (email, name, password, message) in [
            (
                ADMIN_EMAIL,
                "Ada\0",
                ADMIN_PASSWORD,
                format!("Name: {CONTROL}"),
            ),
            (
                "ada\0@shop.test",
                "Ada",
                ADMIN_PASSWORD,
                format!("Email: {EMAIL_INVALID}"),
            ),
            (
                ADMIN_EMAIL,
                "Ada",
                "admin\0horse-77",
                PASSWORD_CONTROL.to_string(),
            ),
        ] {
            let response = visitor
                .post_form(
                    &setup,
                    &[
                        ("email", email),
                        ("name", name),
                        ("password", password),
                        ("password_confirmation", password),
                    ],
                )
                .await;
            assert_eq!(response.status(), 422);
            let page = html_unescape(&response.text().await.unwrap());
            assert!(page.contains(&message), "{message} in {page}");
        }
        assert_eq!(
            app.db().admin_count().await.unwrap(),
            0,
            "nothing was created"
        );
        assert!(
            admins::create(
                &app.state,
                ADMIN_EMAIL,
                "Ada\0",
                Role::Support,
                ADMIN_PASSWORD,
                None
            )
            .await
            .is_err()
        );
    }
);

store_test!(
    control_characters_in_password_options_are_refused,
    |app: TestApp| async move {
        admins::create(
            &app.state,
            ADMIN_EMAIL,
            "Ada Admin",
            Role::Administrator,
            ADMIN_PASSWORD,
            None,
        )
        .await
        .unwrap();
        let admin = app.client();
        admin
            .post_form(
                "/admin/login",
                &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            )
            .await;
        let response = admin
            .post_form(
                "/admin/config/customer",
                &[
                    ("protection_type", "ip\0"),
                    ("max_requests_per_hour", "5\0"),
                    ("min_minutes_between_requests", "10"),
                    ("link_lifetime_hours", "24"),
                    ("min_password_length", "6"),
                    ("required_character_classes", "0"),
                    ("lockout_failures", "10"),
                    ("lockout_minutes", "10"),
                    ("api_token_lifetime_hours", "1"),
                ],
            )
            .await;
        assert_eq!(response.status(), 422, "a form error, not a 500");
    }
);

store_test!(
    control_characters_in_rest_fields_are_refused,
    |app: TestApp| async move {
        app.register("jane@example.com", PASSWORD).await;
        let client = app.client();
        let post = |path: &'static str, body: Value| {
            let client = &client;
            async move {
                let response = client
                    .http
                    .request(
                        if path.ends_with("/password") {
                            reqwest::Method::PUT
                        } else {
                            reqwest::Method::POST
                        },
                        client.url(path),
                    )
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap();
                (
                    status,
                    body["message"].as_str().unwrap_or_default().to_string(),
                )
            }
        };
        let token = "/rest/V1/integration/customer/token";
        assert_eq!(
            post(
                token,
                json!({ "username": "jane\u{0}@example.com", "password": PASSWORD })
            )
            .await,
            (StatusCode::UNAUTHORIZED, FAILED.to_string())
        );
        assert_eq!(
            post(
                token,
                json!({ "username": "jane@example.com", "password": "correct-horse-9\u{0}" })
            )
            .await,
            (StatusCode::UNAUTHORIZED, FAILED.to_string())
        );
        assert_eq!(
            post(
                "/rest/V1/customers/password",
                json!({ "email": "jane\u{0}@example.com", "template": "email_reset" })
            )
            .await,
            (StatusCode::BAD_REQUEST, EMAIL_INVALID.to_string())
        );
        let (status, message) = post(
            "/rest/V1/customers/resetPassword",
            json!({ "email": "jane\u{0}@example.com", "resetToken": "x\u{0}", "newPassword": "fresh\u{0}meadow" }),
        )
        .await;
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, EXPIRED)
        );
        // The account is untouched and still signs in.
        assert!(signs_in(&app, "jane@example.com", PASSWORD).await);
    }
);

// The janitor's purge of expired sessions (at start and hourly) deletes what
// has expired and nothing else, through the expiry index on both stores.
store_test!(
    the_purge_deletes_expired_sessions_and_keeps_live_ones,
    |app: TestApp| async move {
        use shop_accounts::store::Db;
        use tower_sessions::session::{Id, Record};
        use tower_sessions::session_store::{ExpiredDeletion, SessionStore as _};

        let store = shop_accounts::store::sessions::SessionStore::new(app.db().clone());
        let now = time::OffsetDateTime::now_utc();
        // Seconds from now: long gone, just gone, about to go, tomorrow.
        let mut sessions = Vec::new();
        for offset in [-30 * 86_400, -3, 60, 86_400] {
            let mut record = Record {
                id: Id::default(),
                data: Default::default(),
                expiry_date: now + time::Duration::seconds(offset),
            };
            store.create(&mut record).await.unwrap();
            sessions.push((offset, record.id.to_string()));
        }
        store.delete_expired().await.unwrap();
        let table = match app.db() {
            Db::Sqlite(_) => "tower_sessions",
            Db::Postgres(_) => "tower_sessions.session",
        };
        for (offset, id) in sessions {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = $1");
            let rows = scalar_with(app.db(), &sql, &id).await;
            assert_eq!(
                rows,
                i64::from(offset > 0),
                "the session expiring {offset} s from now"
            );
        }
        if let Db::Sqlite(pool) = app.db() {
            let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
                "EXPLAIN QUERY PLAN DELETE FROM tower_sessions WHERE expiry_date < '2026-01-01T00:00:00Z'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            assert!(
                plan.iter()
                    .any(|(_, _, _, detail)| detail.contains("tower_sessions_expiry")),
                "{plan:?}"
            );
        }
    }
);
