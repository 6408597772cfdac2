//! Two-factor sign-in for administrators (SPEC §8, issue 12): enrolment,
//! the code after the password, replay (one instance and two), recovery
//! codes, the lockout, every admin route refusing a half-signed-in
//! administrator, the CLI, and the audit log with its filters and export —
//! on both stores.

use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::accounts::totp::TotpSecret;
use shop_accounts::http::admin::{Access, route_list};

use crate::helpers::*;
use crate::store_test;

pub const ADMIN_PASSWORD: &str = "admin-horse-77";
const FAILED: &str = "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.";

pub async fn create_admin(app: &TestApp, email: &str, role: Role) -> i64 {
    admins::create(&app.state, email, "Ada Admin", role, ADMIN_PASSWORD, None)
        .await
        .expect("create administrator")
}

/// POSTs the password step; returns where it leads.
pub async fn password_step(client: &Client, email: &str) -> String {
    let response = client
        .post_form(
            "/admin/login",
            &[("email", email), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
    location(&response)
}

/// The secret shown on the enrolment page.
pub fn secret_on(page: &str) -> TotpSecret {
    let marker = "id=\"totp-secret\" class=\"secret\">";
    let start = page.find(marker).expect("the secret as text") + marker.len();
    let end = page[start..].find('<').unwrap() + start;
    TotpSecret::from_base32(&page[start..end].replace(' ', "")).expect("base32 secret")
}

fn recovery_codes_on(page: &str) -> Vec<String> {
    page.split("<li><code>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_string())
        .collect()
}

/// Enrols the half- or fully-signed-in `client`: returns the secret and the
/// recovery codes shown.
pub async fn enrol(app: &TestApp, client: &Client) -> (TotpSecret, Vec<String>) {
    let page = client.get_text("/admin/account/two-factor").await;
    assert!(page.contains("otpauth://totp/"), "the otpauth link");
    assert!(page.contains("<svg"), "the QR code as inline SVG");
    let secret = secret_on(&page);
    let code = secret.code_at(app.state.now());
    let response = client
        .post_form("/admin/account/two-factor", &[("code", &code)])
        .await;
    assert_eq!(response.status(), 200, "the recovery codes page");
    let codes = recovery_codes_on(&response.text().await.unwrap());
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// A client signed in (both factors) as a new, enrolled administrator.
pub async fn enrolled_admin(app: &TestApp, email: &str, role: Role) -> (Client, TotpSecret) {
    create_admin(app, email, role).await;
    let client = app.client();
    assert_eq!(
        password_step(&client, email).await,
        "/admin/account/two-factor"
    );
    let (secret, _) = enrol(app, &client).await;
    assert_eq!(client.get("/admin/customers").await.status(), 200);
    (client, secret)
}

async fn give_code(client: &Client, code: &str) -> reqwest::Response {
    client
        .post_form("/admin/login/two-factor", &[("code", code)])
        .await
}

async fn actions(app: &TestApp) -> Vec<String> {
    app.db()
        .audit_page(None, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect()
}

store_test!(
    required_two_factor_enrols_before_any_page,
    |app: TestApp| async move {
        app.require_two_factor().await;
        create_admin(&app, "ada@shop.test", Role::Administrator).await;
        let client = app.client();
        assert_eq!(
            password_step(&client, "ada@shop.test").await,
            "/admin/account/two-factor"
        );
        // Half-signed-in: no admin page.
        assert_eq!(
            location(&client.get("/admin/customers").await),
            "/admin/login"
        );
        let page = client.get_text("/admin/account/two-factor").await;
        let secret = secret_on(&page);
        assert!(page.contains(&format!("secret={}", secret.to_base32())));
        assert!(page.contains("issuer=127.0.0.1"));
        // The same secret on a reload (a second tab sees the same).
        assert_eq!(
            secret_on(&client.get_text("/admin/account/two-factor").await),
            secret
        );
        // A wrong code: back to the page, not enrolled.
        let wrong = client
            .post_form("/admin/account/two-factor", &[("code", "000000")])
            .await;
        assert_eq!(location(&wrong), "/admin/account/two-factor");
        let (_, codes) = enrol(&app, &client).await;
        assert!(codes.iter().all(|c| c.len() == 19));
        assert_eq!(client.get("/admin/customers").await.status(), 200);
        // Sealed at rest: the secret is not in the database in any readable form.
        let stored: String = match app.db() {
            shop_accounts::store::Db::Sqlite(p) => {
                sqlx::query_scalar("SELECT totp_secret FROM admins")
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
            shop_accounts::store::Db::Postgres(p) => {
                sqlx::query_scalar("SELECT totp_secret FROM admins")
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
        };
        assert!(stored.starts_with("v1."), "sealed: {stored:.8}");
        assert!(!stored.contains(&secret.to_base32()));
        // After enrolment nothing shows the secret or a recovery code again.
        let after = client.get_text("/admin/account/two-factor").await;
        assert!(!after.contains(&secret.to_base32()[..8]));
        assert!(!after.contains("otpauth://"));
        assert!(!after.contains(&codes[0]));
        let acts = actions(&app).await;
        assert!(
            acts.contains(&"two_factor_enrolled".to_string()),
            "{acts:?}"
        );
        assert!(acts.contains(&"admin_sign_in".to_string()), "{acts:?}");
    }
);

store_test!(
    a_code_is_asked_after_the_password_and_works_once,
    |app: TestApp| async move {
        app.require_two_factor().await;
        let (_, secret) = enrolled_admin(&app, "ada@shop.test", Role::Administrator).await;
        // The enrolment code's step is used: move to a fresh step.
        app.advance_clock(30);
        let client = app.client();
        assert_eq!(
            password_step(&client, "ada@shop.test").await,
            "/admin/login/two-factor"
        );
        assert_eq!(
            location(&client.get("/admin/customers").await),
            "/admin/login"
        );
        let code = secret.code_at(app.state.now());
        let ok = give_code(&client, &code).await;
        assert_eq!(location(&ok), "/admin/customers");
        assert_eq!(client.get("/admin/customers").await.status(), 200);
        // The same code again, in another browser: refused.
        let other = app.client();
        assert_eq!(
            password_step(&other, "ada@shop.test").await,
            "/admin/login/two-factor"
        );
        let replay = give_code(&other, &code).await;
        assert_eq!(location(&replay), "/admin/login/two-factor");
        assert_eq!(
            location(&other.get("/admin/customers").await),
            "/admin/login"
        );
        // One step either side is accepted (once); two steps away is not.
        app.advance_clock(30);
        let next = secret.code_at(app.state.now() + 30);
        assert_eq!(
            location(&give_code(&other, &next).await),
            "/admin/customers"
        );
        let third = app.client();
        password_step(&third, "ada@shop.test").await;
        let far = secret.code_at(app.state.now() + 90);
        if far != secret.code_at(app.state.now()) && far != next {
            assert_eq!(
                location(&give_code(&third, &far).await),
                "/admin/login/two-factor"
            );
        }
    }
);

store_test!(
    a_code_is_used_once_across_two_instances,
    |app: TestApp| async move {
        app.require_two_factor().await;
        let (_, secret) = enrolled_admin(&app, "ada@shop.test", Role::Administrator).await;
        app.advance_clock(30);
        let other_instance = app.second_instance().await;
        let a = app.client();
        let b = other_instance.client();
        password_step(&a, "ada@shop.test").await;
        password_step(&b, "ada@shop.test").await;
        let code = secret.code_at(app.state.now());
        let (first, second) = tokio::join!(give_code(&a, &code), give_code(&b, &code));
        let targets = [location(&first), location(&second)];
        assert_eq!(
            targets.iter().filter(|t| *t == "/admin/customers").count(),
            1,
            "exactly one instance accepts the code: {targets:?}"
        );
    }
);

store_test!(recovery_codes_work_once_each, |app: TestApp| async move {
    app.require_two_factor().await;
    create_admin(&app, "ada@shop.test", Role::Administrator).await;
    let client = app.client();
    password_step(&client, "ada@shop.test").await;
    let (_, codes) = enrol(&app, &client).await;
    let second = app.client();
    password_step(&second, "ada@shop.test").await;
    let used = give_code(&second, &codes[3].to_uppercase()).await;
    assert_eq!(location(&used), "/admin/customers");
    let page = second.get_text("/admin/customers").await;
    assert!(
        flashes(&page)
            .iter()
            .any(|f| f.contains("Recovery codes left: 9")),
        "{:?}",
        flashes(&page)
    );
    let third = app.client();
    password_step(&third, "ada@shop.test").await;
    assert_eq!(
        location(&give_code(&third, &codes[3]).await),
        "/admin/login/two-factor",
        "a recovery code works once"
    );
    // No page shows the codes again.
    for path in ["/admin/account/two-factor", "/admin/users", "/admin/audit"] {
        let page = second.get_text(path).await;
        assert!(codes.iter().all(|c| !page.contains(c.as_str())), "{path}");
    }
});

store_test!(
    wrong_codes_count_toward_the_lockout,
    |app: TestApp| async move {
        app.require_two_factor().await;
        app.set_option("lockout_failures", "3").await;
        let (_, secret) = enrolled_admin(&app, "ada@shop.test", Role::Administrator).await;
        app.advance_clock(30);
        let client = app.client();
        // A right password between wrong codes does not clear the count.
        password_step(&client, "ada@shop.test").await;
        assert_eq!(
            location(&give_code(&client, "000001").await),
            "/admin/login/two-factor"
        );
        assert_eq!(
            location(&give_code(&client, "000002").await),
            "/admin/login/two-factor"
        );
        password_step(&client, "ada@shop.test").await;
        let locked = give_code(&client, "000003").await;
        assert_eq!(
            location(&locked),
            "/admin/login",
            "the third wrong code locks"
        );
        assert!(flashes(&client.follow(&locked).await).contains(&FAILED.to_string()));
        // Locked: the right password is refused, and so is a right code.
        let again = client
            .post_form(
                "/admin/login",
                &[("email", "ada@shop.test"), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(location(&again), "/admin/login");
        let code = secret.code_at(app.state.now());
        assert_eq!(location(&give_code(&client, &code).await), "/admin/login");
        assert_eq!(
            location(&client.get("/admin/customers").await),
            "/admin/login"
        );
        let acts = actions(&app).await;
        assert!(
            acts.iter().filter(|a| *a == "admin_sign_in_failed").count() >= 4,
            "{acts:?}"
        );
    }
);

/// A concrete path for a route pattern.
fn concrete(path: &str, id: i64) -> String {
    path.replace("{id}", &id.to_string())
}

/// Every admin route that needs a signed-in administrator refuses `client`
/// with GET and with POST (form key included): a redirect to a sign-in or
/// two-factor page, or 405 where the route has no such method — never the page
/// or the action.
async fn assert_every_route_refuses(client: &Client, customer: i64, who: &str) {
    let routes = route_list();
    assert!(routes.iter().any(|(p, _)| *p == "/admin/users"));
    for (path, access) in routes {
        if access != Access::SignedIn {
            continue;
        }
        let path = concrete(path, customer);
        let get = client.get(&path).await;
        let post = client
            .post_form(
                &path,
                &[
                    ("protection_type", "none"),
                    ("lockout_failures", "0"),
                    ("role", "support"),
                    ("active", "0"),
                    ("email", "x@shop.test"),
                    ("name", "X Y"),
                    ("admin_two_factor", "optional"),
                ],
            )
            .await;
        for (method, response) in [("GET", get), ("POST", post)] {
            let status = response.status().as_u16();
            let target = location(&response);
            assert!(
                status == 405
                    || (status == 303
                        && [
                            "/admin/login",
                            "/admin/account/two-factor",
                            "/admin/login/two-factor"
                        ]
                        .contains(&target.as_str())),
                "{who}: {method} {path} answered {status} → {target:?}"
            );
        }
    }
}

store_test!(
    every_admin_route_refuses_a_half_signed_in_admin,
    |app: TestApp| async move {
        app.require_two_factor().await;
        app.register("jane@shop.test", "correct-horse-9").await;
        let customer = app
            .db()
            .customer_by_email_key("jane@shop.test")
            .await
            .unwrap()
            .unwrap()
            .id;
        // Enrolled, code not given.
        let (_, _) = enrolled_admin(&app, "ada@shop.test", Role::Administrator).await;
        let half = app.client();
        assert_eq!(
            password_step(&half, "ada@shop.test").await,
            "/admin/login/two-factor"
        );
        // Not enrolled while required.
        create_admin(&app, "bob@shop.test", Role::Administrator).await;
        let unenrolled = app.client();
        assert_eq!(
            password_step(&unenrolled, "bob@shop.test").await,
            "/admin/account/two-factor"
        );
        // Signed in while optional, then two-factor became required.
        app.set_option("admin_two_factor", "optional").await;
        create_admin(&app, "cy@shop.test", Role::Administrator).await;
        let before_required = app.client();
        assert_eq!(
            password_step(&before_required, "cy@shop.test").await,
            "/admin/customers"
        );
        app.require_two_factor().await;
        let audit_before = actions(&app).await.len();
        let options_before = shop_accounts::settings::keys::all(app.db()).await.unwrap();
        for (client, who) in [
            (&half, "code not given"),
            (&unenrolled, "not enrolled"),
            (&before_required, "signed in before it was required"),
        ] {
            assert_every_route_refuses(client, customer, who).await;
        }
        // Nothing changed: no setting, no audit record of an action.
        assert_eq!(
            shop_accounts::settings::keys::all(app.db()).await.unwrap(),
            options_before
        );
        let acts = actions(&app).await;
        assert_eq!(acts.len(), audit_before, "{acts:?}");
        assert_eq!(app.db().all_admins().await.unwrap().len(), 3);
    }
);

store_test!(
    cli_resets_two_factor_and_sets_every_setting,
    |app: TestApp| async move {
        app.require_two_factor().await;
        let (client, _) = enrolled_admin(&app, "ada@shop.test", Role::Administrator).await;
        let said = shop_accounts::cli::reset_two_factor(&app.state, "ADA@shop.test")
            .await
            .unwrap();
        assert!(said.contains("removed"), "{said}");
        // Sessions ended; the next sign-in enrols again.
        assert_eq!(
            location(&client.get("/admin/customers").await),
            "/admin/login"
        );
        let again = app.client();
        assert_eq!(
            password_step(&again, "ada@shop.test").await,
            "/admin/account/two-factor"
        );
        assert!(
            shop_accounts::cli::reset_two_factor(&app.state, "nobody@shop.test")
                .await
                .is_err()
        );

        // The binary: get, set, and a bad value (exit 1, nothing changed).
        let bin = env!("CARGO_BIN_EXE_shop-accounts");
        let run = |args: &[&str]| {
            let mut command = std::process::Command::new(bin);
            command
                .args(args)
                .env("DATABASE_URL", &app.database_url)
                .env("RUST_LOG", "warn");
            if app.backend == Backend::Postgres {
                command.env("SECRET_KEY", "test-secret-key-of-postgres-test-instances");
            }
            command.output().unwrap()
        };
        let all = run(&["config", "get"]);
        assert!(all.status.success());
        let text = String::from_utf8(all.stdout).unwrap();
        for line in [
            "admin_two_factor=required",
            "new_device_email=1",
            "lockout_failures=10",
            "protection_type=ip_and_email",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        let set = run(&["config", "set", "admin_two_factor", "optional"]);
        assert!(
            set.status.success(),
            "{}",
            String::from_utf8_lossy(&set.stderr)
        );
        let set = run(&["config", "set", "lockout_minutes", "30"]);
        assert!(set.status.success());
        for (key, value) in [
            ("lockout_minutes", "0"),
            ("admin_two_factor", "off"),
            ("new_device_email", "2"),
            ("protection_type", "all"),
            ("no_such_key", "1"),
        ] {
            let bad = run(&["config", "set", key, value]);
            assert_eq!(bad.status.code(), Some(1), "{key}={value}");
            assert!(!bad.stderr.is_empty());
        }
        let one = run(&["config", "get", "lockout_minutes"]);
        assert_eq!(
            String::from_utf8(one.stdout).unwrap(),
            "lockout_minutes=30\n"
        );
        let one = run(&["config", "get", "admin_two_factor"]);
        assert_eq!(
            String::from_utf8(one.stdout).unwrap(),
            "admin_two_factor=optional\n"
        );
        let rows = app.db().audit_page(None, None, 100).await.unwrap();
        let cli_rows: Vec<_> = rows.iter().filter(|r| r.admin_email == "cli").collect();
        let details: Vec<&str> = cli_rows.iter().map(|r| r.detail.as_str()).collect();
        assert!(
            details.contains(&"admin_two_factor: required → optional"),
            "{details:?}"
        );
        assert!(details.contains(&"lockout_minutes: 10 → 30"), "{details:?}");
        assert!(cli_rows.iter().any(|r| r.action == "two_factor_removed"));
        assert_eq!(cli_rows.len(), 3, "refused values wrote nothing");
    }
);

store_test!(
    audit_log_records_sign_ins_filters_and_exports,
    |app: TestApp| async move {
        create_admin(&app, "ada@shop.test", Role::Administrator).await;
        create_admin(&app, "sam@shop.test", Role::Support).await;
        let failing = app.client_from("203.0.113.7");
        let wrong = failing
            .post_form(
                "/admin/login",
                &[("email", "ada@shop.test"), ("password", "nope-nope-1")],
            )
            .await;
        assert_eq!(location(&wrong), "/admin/login");
        let ada = app.client_from("198.51.100.4");
        assert_eq!(
            password_step(&ada, "ada@shop.test").await,
            "/admin/customers"
        );
        let sam = app.client();
        assert_eq!(
            password_step(&sam, "sam@shop.test").await,
            "/admin/customers"
        );
        // A settings change, with old → new.
        let saved = ada
            .post_form(
                "/admin/config/security",
                &[("admin_two_factor", "optional"), ("new_device_email", "0")],
            )
            .await;
        assert_eq!(location(&saved), "/admin/config/security");
        let bad = ada
            .post_form(
                "/admin/config/security",
                &[("admin_two_factor", "maybe"), ("new_device_email", "1")],
            )
            .await;
        assert_eq!(bad.status(), 422);
        // A detail a spreadsheet would run as a formula.
        let evil = app.client();
        evil.post_form(
            "/admin/login",
            &[("email", "=HYPERLINK(\"x\")"), ("password", "p")],
        )
        .await;

        let rows = app.db().audit_page(None, None, 100).await.unwrap();
        let failed = rows
            .iter()
            .find(|r| r.action == "admin_sign_in_failed" && r.admin_email == "ada@shop.test")
            .unwrap();
        assert_eq!(failed.client_ip, "203.0.113.7");
        let success = rows
            .iter()
            .find(|r| r.action == "admin_sign_in" && r.admin_email == "ada@shop.test")
            .unwrap();
        assert_eq!(success.client_ip, "198.51.100.4");
        let settings = rows
            .iter()
            .filter(|r| r.action == "settings")
            .collect::<Vec<_>>();
        assert_eq!(settings.len(), 1, "the refused form wrote nothing");
        assert_eq!(settings[0].detail, "new_device_email: 1 → 0");

        // Filters.
        let page = ada
            .get_text("/admin/audit?admin=SAM%40shop.test&action=admin_sign_in")
            .await;
        assert!(page.contains("sam@shop.test"));
        assert!(!page.contains("203.0.113.7"));
        let today = time::OffsetDateTime::from_unix_timestamp(app.state.now())
            .unwrap()
            .date();
        let day = format!(
            "{}-{:02}-{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        );
        let page = ada
            .get_text(&format!(
                "/admin/audit?from={day}&to={day}&action=admin_sign_in_failed"
            ))
            .await;
        assert!(page.contains("203.0.113.7"));
        let page = ada
            .get_text("/admin/audit?from=2000-01-01&to=2000-01-02")
            .await;
        assert!(!page.contains("203.0.113.7"));
        let page = ada.get_text("/admin/audit?from=yesterday").await;
        assert!(page.contains("could not be read"));

        // Export: Administrator only; BOM, RFC 4180, formulas as text.
        assert_eq!(sam.get("/admin/audit/export.csv").await.status(), 403);
        let export = ada
            .get("/admin/audit/export.csv?action=admin_sign_in_failed")
            .await;
        assert_eq!(export.status(), 200);
        assert!(
            export.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let bytes = export.bytes().await.unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.starts_with("\u{feff}id,time_utc,admin,action,customer_id,ip,detail\r\n"));
        assert!(text.contains("203.0.113.7"));
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{text}");
        assert!(!text.contains("sam@shop.test"), "filtered");
        assert!(actions(&app).await.contains(&"audit_export".to_string()));
    }
);
