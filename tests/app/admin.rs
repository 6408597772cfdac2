//! The admin (SPEC §3, issue 4): setup, sign-in, roles, the customer grid, the
//! customer actions with their audit records, Password Options and the logs —
//! on both stores, through the real server, database and SMTP.

use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::api_tokens;
use shop_accounts::settings::PasswordOptions;
use shop_accounts::store::{AuditRow, NewCustomer};

use crate::helpers::*;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const NEW_PASSWORD: &str = "fresh-meadow-42";
const ADMIN_EMAIL: &str = "ada@shop.test";
const SUPPORT_EMAIL: &str = "sam@shop.test";
const ADMIN_PASSWORD: &str = "admin-horse-77";
const FAILED: &str = "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.";
const RESET_SENT: &str = "The customer will receive an email with a link to reset password.";
const UNLOCKED: &str = "Customer has been unlocked successfully.";
const FORCE_QUESTION: &str = "Are you sure you want to revoke the customer's tokens?";
const FORCE_DONE: &str = "You have revoked the customer's tokens.";
const LIMIT: &str =
    "Too many password reset requests. Please wait and try again or contact help@shop.test.";

async fn create_admin(app: &TestApp, email: &str, role: Role) -> i64 {
    admins::create(&app.state, email, "Ada Admin", role, ADMIN_PASSWORD, None)
        .await
        .expect("create administrator")
}

/// A browser signed in to the admin as `email`, coming from `ip`.
async fn admin_client_from(app: &TestApp, email: &str, ip: &str) -> Client {
    let client = app.client_from(ip);
    let response = client
        .post_form(
            "/admin/login",
            &[("email", email), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/customers", "{email} signs in");
    client
}

async fn admin_client(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    let response = client
        .post_form(
            "/admin/login",
            &[("email", email), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/admin/customers", "{email} signs in");
    client
}

/// Registers a customer through the storefront; returns their id.
async fn customer(app: &TestApp, email: &str) -> i64 {
    app.register(email, PASSWORD).await;
    app.db()
        .customer_by_email_key(&email.to_ascii_lowercase())
        .await
        .unwrap()
        .expect("registered customer")
        .id
}

/// A customer API token, issued by the same sign-in the REST token call uses.
async fn api_token(app: &TestApp, email: &str, password: &str) -> String {
    api_tokens::issue(&app.state, email, password, [127, 0, 0, 1].into())
        .await
        .expect("a token for a valid sign-in")
}

/// Whether the token still opens the API (what `GET /rest/V1/customers/me` asks).
async fn token_works(app: &TestApp, token: &str) -> bool {
    api_tokens::verify(&app.state, token)
        .await
        .unwrap()
        .is_some()
}

/// POSTs an admin form and returns the flash messages of the page it redirects to.
async fn post_and_follow(client: &Client, path: &str, fields: &[(&str, &str)]) -> Vec<String> {
    let response = client.post_form(path, fields).await;
    assert_eq!(response.status(), 303, "POST {path}");
    flashes(&client.follow(&response).await)
}

/// The audit records of admin actions (sign-ins, recorded since issue 12, are
/// left out: these tests count the actions).
async fn audit_rows(app: &TestApp, customer_id: Option<i64>) -> Vec<AuditRow> {
    let mut rows = app.db().audit_page(customer_id, None, 1000).await.unwrap();
    rows.retain(|r| !r.action.starts_with("admin_sign_in"));
    rows
}

fn actions_of(rows: &[AuditRow]) -> Vec<&str> {
    rows.iter().map(|r| r.action.as_str()).collect()
}

/// How many reset-link messages the outbox holds for `recipient`.
async fn queued_links(app: &TestApp, recipient: &str) -> usize {
    app.db()
        .mail_queue(None, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == "reset_link" && m.recipient == recipient)
        .count()
}

/// A page's text with character references resolved (askama writes `&` as `&#38;`).
fn unescape(page: &str) -> String {
    html_unescape(&page.replace("&#38;", "&"))
}

/// The customer ids of the grid's rows, in order (each row's Edit link).
fn grid_ids(page: &str) -> Vec<i64> {
    page.split("<a href=\"/admin/customers/")
        .skip(1)
        .filter_map(|chunk| chunk.split('"').next()?.parse().ok())
        .collect()
}

store_test!(
    setup_url_creates_the_first_admin_then_dies,
    |app: TestApp| async move {
        let visitor = app.client();
        let login = visitor.get_text("/admin/login").await;
        assert!(
            login.contains("No administrator exists yet"),
            "the sign-in page points at the setup link"
        );
        // The raw token only goes to the log; issuing again gives the test its own.
        let token = admins::setup::issue_if_needed(&app.state)
            .await
            .unwrap()
            .expect("no administrator yet, so a setup token");
        let setup = format!("/admin/setup?token={token}");
        assert_eq!(visitor.get("/admin/setup").await.status(), 404);
        assert_eq!(
            visitor
                .get("/admin/setup?token=not-the-token")
                .await
                .status(),
            404
        );
        let form = visitor.get(&setup).await;
        assert_eq!(form.status(), 200);
        assert_eq!(form.headers()["referrer-policy"], "no-referrer");
        let form = form.text().await.unwrap();
        for field in ["email", "name", "password", "password_confirmation"] {
            assert!(form.contains(&format!("name=\"{field}\"")), "field {field}");
        }

        let fields = |confirmation: &'static str| {
            [
                ("email", "Owner@Shop.test"),
                ("name", "Olga Owner"),
                ("password", ADMIN_PASSWORD),
                ("password_confirmation", confirmation),
            ]
        };
        let mismatch = visitor.post_form(&setup, &fields("something-else-1")).await;
        assert_eq!(mismatch.status(), 422);
        let mismatch = unescape(&mismatch.text().await.unwrap());
        assert!(mismatch.contains("New Password and Confirm New Password values didn't match."));
        assert!(
            mismatch.contains("value=\"Olga Owner\""),
            "the form keeps the name"
        );
        assert_eq!(app.db().admin_count().await.unwrap(), 0);

        let created = visitor.post_form(&setup, &fields(ADMIN_PASSWORD)).await;
        assert_eq!(created.status(), 303);
        assert_eq!(location(&created), "/admin/customers");
        let grid = visitor.follow(&created).await;
        assert!(grid.contains("All Customers") && grid.contains("Olga Owner"));
        assert_eq!(app.db().admin_count().await.unwrap(), 1);

        // Used once: the same URL is gone, for GET and POST alike.
        assert_eq!(visitor.get(&setup).await.status(), 404);
        let again = app.client();
        let second = again
            .post_form(
                &setup,
                &[
                    ("email", "intruder@shop.test"),
                    ("name", "Intruder"),
                    ("password", ADMIN_PASSWORD),
                    ("password_confirmation", ADMIN_PASSWORD),
                ],
            )
            .await;
        assert_eq!(second.status(), 404);
        assert_eq!(app.db().admin_count().await.unwrap(), 1);
        assert!(
            admins::setup::issue_if_needed(&app.state)
                .await
                .unwrap()
                .is_none(),
            "no new setup token once an administrator exists"
        );
        let rows = audit_rows(&app, None).await;
        assert_eq!(actions_of(&rows), vec!["admin_setup"]);
        assert_eq!(rows[0].admin_email, "Owner@Shop.test");
    }
);

store_test!(
    admin_sign_in_sign_out_and_lockout,
    |app: TestApp| async move {
        create_admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let id = customer(&app, "shopper@example.com").await;
        let visitor = app.client();
        for path in [
            "/admin/customers".to_string(),
            format!("/admin/customers/{id}"),
            format!("/admin/customers/{id}/force-sign-in"),
            "/admin/config/customer".to_string(),
            "/admin/audit".to_string(),
            "/admin/mail".to_string(),
        ] {
            let response = visitor.get(&path).await;
            assert_eq!(response.status(), 303, "{path}");
            assert_eq!(location(&response), "/admin/login", "{path}");
        }
        let anonymous_post = visitor
            .post_form(&format!("/admin/customers/{id}/force-sign-in"), &[])
            .await;
        assert_eq!(location(&anonymous_post), "/admin/login");
        // A storefront sign-in opens nothing in the admin.
        let shopper = app.client();
        shopper.sign_in("shopper@example.com", PASSWORD).await;
        assert_eq!(
            location(&shopper.get("/admin/customers").await),
            "/admin/login"
        );

        for (email, password) in [
            (ADMIN_EMAIL, "wrong-password-1"),
            ("nobody@shop.test", ADMIN_PASSWORD),
        ] {
            let response = visitor
                .post_form("/admin/login", &[("email", email), ("password", password)])
                .await;
            assert_eq!(location(&response), "/admin/login");
            assert_eq!(flashes(&visitor.follow(&response).await), vec![FAILED]);
        }

        let admin = admin_client(&app, ADMIN_EMAIL).await;
        let grid = admin.get("/admin/customers").await;
        assert_eq!(grid.status(), 200);
        assert_eq!(grid.headers()["cache-control"], "no-store");
        let out = admin.post_form("/admin/logout", &[]).await;
        assert_eq!(location(&out), "/admin/login");
        assert_eq!(
            flashes(&admin.follow(&out).await),
            vec!["You are signed out of the admin."]
        );
        assert_eq!(
            location(&admin.get("/admin/customers").await),
            "/admin/login"
        );

        // Ten failures lock the administrator out, the right password included.
        for _ in 0..10 {
            visitor
                .post_form(
                    "/admin/login",
                    &[("email", ADMIN_EMAIL), ("password", "wrong-password-1")],
                )
                .await;
        }
        let locked = visitor
            .post_form(
                "/admin/login",
                &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(location(&locked), "/admin/login");
        assert_eq!(flashes(&visitor.follow(&locked).await), vec![FAILED]);
        app.advance_clock(10 * 60 + 1);
        admin_client(&app, ADMIN_EMAIL).await;
    }
);

store_test!(
    support_gets_403_on_force_sign_in_and_password_options,
    |app: TestApp| async move {
        create_admin(&app, SUPPORT_EMAIL, Role::Support).await;
        let id = customer(&app, "kept@example.com").await;
        let token = api_token(&app, "kept@example.com", PASSWORD).await;
        let support = admin_client(&app, SUPPORT_EMAIL).await;

        let grid = support.get_text("/admin/customers").await;
        assert_eq!(grid_ids(&grid), vec![id]);
        assert!(
            !grid.contains("href=\"/admin/config/customer\""),
            "no Password Options link for Support"
        );
        let view = support.get_text(&format!("/admin/customers/{id}")).await;
        assert!(view.contains("Reset Password"));
        assert!(
            !view.contains("/force-sign-in"),
            "no Force Sign In button for Support"
        );

        let force = format!("/admin/customers/{id}/force-sign-in");
        assert_eq!(support.get(&force).await.status(), 403);
        assert_eq!(support.post_form(&force, &[]).await.status(), 403);
        assert!(token_works(&app, &token).await, "the token still works");

        let config = "/admin/config/customer";
        assert_eq!(support.get(config).await.status(), 403);
        let changed = support
            .post_form(
                config,
                &[
                    ("protection_type", "none"),
                    ("max_requests_per_hour", "0"),
                    ("min_minutes_between_requests", "0"),
                    ("link_lifetime_hours", "720"),
                    ("min_password_length", "6"),
                    ("required_character_classes", "0"),
                    ("lockout_failures", "0"),
                    ("lockout_minutes", "1"),
                    ("api_token_lifetime_hours", "1"),
                ],
            )
            .await;
        assert_eq!(changed.status(), 403);
        assert_eq!(
            PasswordOptions::load(app.db()).await.unwrap(),
            PasswordOptions::default(),
            "nothing saved"
        );
        assert_eq!(support.get("/admin/audit").await.status(), 403);
        assert_eq!(support.get("/admin/mail").await.status(), 403);
        assert!(
            audit_rows(&app, None).await.is_empty(),
            "refused requests did nothing"
        );

        // What Support may do: Reset Password and Unlock.
        assert_eq!(
            post_and_follow(
                &support,
                &format!("/admin/customers/{id}/reset-password"),
                &[]
            )
            .await,
            vec![RESET_SENT]
        );
        assert_eq!(
            post_and_follow(&support, &format!("/admin/customers/{id}/unlock"), &[]).await,
            vec![UNLOCKED]
        );
        assert_eq!(
            actions_of(&audit_rows(&app, Some(id)).await),
            vec!["unlock", "reset_password"]
        );
    }
);

store_test!(
    admin_reset_password_sends_the_storefront_link_and_respects_the_limit,
    |app: TestApp| async move {
        create_admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let id = customer(&app, "reset.me@example.com").await;
        let other = customer(&app, "other@example.com").await;
        let admin = admin_client_from(&app, ADMIN_EMAIL, "10.200.0.9").await;
        let reset = format!("/admin/customers/{id}/reset-password");

        assert_eq!(admin.get(&reset).await.status(), 405, "a GET sends nothing");
        assert_eq!(queued_links(&app, "reset.me@example.com").await, 0);

        assert_eq!(post_and_follow(&admin, &reset, &[]).await, vec![RESET_SENT]);
        let mails = app.smtp.wait_for(1).await;
        assert_eq!(mails[0].to, vec!["reset.me@example.com"]);
        let link = reset_link(&mails[0]).expect("the mail holds a reset link");
        assert!(link.starts_with(&format!(
            "{}/customer/account/createPassword?token=",
            app.address
        )));
        let token = token_of(&link);
        let view = admin.get_text(&format!("/admin/customers/{id}")).await;
        assert!(!view.contains(&token), "the admin never sees the link");

        // A second click within ten minutes: the limit, said plainly, and no mail.
        assert_eq!(post_and_follow(&admin, &reset, &[]).await, vec![LIMIT]);
        assert_eq!(queued_links(&app, "reset.me@example.com").await, 1);

        // Counted on the customer's email only: the admin's IP is not limited.
        let same_ip = app.client_from("10.200.0.9");
        same_ip.request_reset("other@example.com").await;
        assert_eq!(queued_links(&app, "other@example.com").await, 1);

        // The customer follows the link like any storefront link.
        let shopper = app.client();
        let opened = shopper.get(&path_of(&link)).await;
        assert_eq!(location(&opened), "/customer/account/createPassword");
        let done = shopper
            .post_form(
                "/customer/account/createPassword",
                &[
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(done.status(), 303);
        assert!(
            flashes(&shopper.follow(&done).await)
                .contains(&"You updated your password.".to_string())
        );
        assert_eq!(
            location(
                &app.client()
                    .sign_in("reset.me@example.com", NEW_PASSWORD)
                    .await
            ),
            "/customer/account"
        );

        // Ten minutes later the admin may send another.
        app.advance_clock(10 * 60 + 1);
        assert_eq!(post_and_follow(&admin, &reset, &[]).await, vec![RESET_SENT]);
        assert_eq!(queued_links(&app, "reset.me@example.com").await, 2);

        let rows = audit_rows(&app, Some(id)).await;
        assert_eq!(
            actions_of(&rows),
            vec!["reset_password", "reset_password_refused", "reset_password"]
        );
        for row in &rows {
            assert_eq!(row.admin_email, ADMIN_EMAIL);
            assert_eq!(row.client_ip, "10.200.0.9");
            assert!(!row.detail.contains(&token));
        }
        assert!(audit_rows(&app, Some(other)).await.is_empty());
    }
);

store_test!(
    force_sign_in_ends_tokens_and_sessions_and_a_second_click_succeeds,
    |app: TestApp| async move {
        create_admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let id = customer(&app, "forced@example.com").await;
        let shopper = app.client();
        assert_eq!(
            location(&shopper.sign_in("forced@example.com", PASSWORD).await),
            "/customer/account"
        );
        let token = api_token(&app, "forced@example.com", PASSWORD).await;
        let admin = admin_client(&app, ADMIN_EMAIL).await;

        let view = unescape(&admin.get_text(&format!("/admin/customers/{id}")).await);
        assert!(view.contains("<dt>Active API Tokens</dt><dd>1</dd>"));
        assert!(view.contains(&format!("data-confirm=\"{FORCE_QUESTION}\"")));

        let force = format!("/admin/customers/{id}/force-sign-in");
        let confirm = admin.get(&force).await;
        assert_eq!(confirm.status(), 200);
        let confirm = unescape(&confirm.text().await.unwrap());
        assert!(confirm.contains(FORCE_QUESTION));
        assert!(confirm.contains("Jane Doe") && confirm.contains("forced@example.com"));
        assert!(confirm.contains(&format!("action=\"{force}\"")), "OK posts");
        assert!(
            confirm.contains(&format!("href=\"/admin/customers/{id}\"")),
            "Cancel goes back"
        );
        // The no-JavaScript path of the customer view's button only asks.
        let asked = admin.post_form(&force, &[("confirm_first", "1")]).await;
        assert_eq!(location(&asked), force);
        // Without the form key nothing happens either.
        assert_eq!(admin.post_raw(&force, &[]).await.status(), 403);
        assert!(token_works(&app, &token).await, "nothing acted yet");
        assert_eq!(shopper.get("/customer/account").await.status(), 200);

        assert_eq!(post_and_follow(&admin, &force, &[]).await, vec![FORCE_DONE]);
        assert!(!token_works(&app, &token).await, "the token is revoked");
        assert_eq!(
            location(&shopper.get("/customer/account").await),
            "/customer/account/login",
            "the storefront session ended"
        );
        let view = admin.get_text(&format!("/admin/customers/{id}")).await;
        assert!(view.contains("<dt>Active API Tokens</dt><dd>0</dd>"));

        assert_eq!(post_and_follow(&admin, &force, &[]).await, vec![FORCE_DONE]);
        assert_eq!(
            actions_of(&audit_rows(&app, Some(id)).await),
            vec!["force_sign_in", "force_sign_in"]
        );
        // The customer signs in again as usual.
        assert_eq!(
            location(&app.client().sign_in("forced@example.com", PASSWORD).await),
            "/customer/account"
        );
    }
);

store_test!(unlock_clears_the_lockout, |app: TestApp| async move {
    create_admin(&app, SUPPORT_EMAIL, Role::Support).await;
    let id = customer(&app, "locked@example.com").await;
    let shopper = app.client();
    for _ in 0..10 {
        shopper
            .sign_in("locked@example.com", "wrong-password-1")
            .await;
    }
    let admin = admin_client(&app, SUPPORT_EMAIL).await;
    let grid = admin.get_text("/admin/customers").await;
    assert!(grid.contains("<span class=\"badge locked\">Yes</span>"));
    let view_path = format!("/admin/customers/{id}");
    let view = admin.get_text(&view_path).await;
    assert!(view.contains("Locked until"));
    let unlock = format!("/admin/customers/{id}/unlock");
    assert!(view.contains(&format!("action=\"{unlock}\"")));

    assert_eq!(admin.get(&unlock).await.status(), 405);
    assert_eq!(
        location(&shopper.sign_in("locked@example.com", PASSWORD).await),
        "/customer/account/login",
        "a GET unlocked nothing"
    );

    assert_eq!(post_and_follow(&admin, &unlock, &[]).await, vec![UNLOCKED]);
    let view = admin.get_text(&view_path).await;
    assert!(
        !view.contains(&format!("action=\"{unlock}\"")),
        "no Unlock when not locked"
    );
    assert_eq!(
        location(&shopper.sign_in("locked@example.com", PASSWORD).await),
        "/customer/account"
    );
    let rows = audit_rows(&app, Some(id)).await;
    assert_eq!(actions_of(&rows), vec!["unlock"]);
    assert!(rows[0].created_at >= app.state.now() - 60);
});

/// 45 customers whose names and emails sort the same byte-wise and by any
/// collation: lowercase ASCII letters and digits where they differ.
async fn seed_grid(app: &TestApp) -> Vec<(i64, String, String)> {
    let mut people: Vec<(String, String, String)> = (0..42)
        .map(|i| {
            (
                "Filler".to_string(),
                format!("Person{i:02}"),
                format!("filler{i:02}@example.com"),
            )
        })
        .collect();
    people.push((
        "Jane".into(),
        "Smith".into(),
        "jane.smith@example.com".into(),
    ));
    people.push((
        "John".into(),
        "Smithson".into(),
        "jsmithson@shop.test".into(),
    ));
    people.push(("Maria".into(), "Garcia".into(), "maria@example.com".into()));
    let now = app.state.now();
    let mut seeded = Vec::new();
    for (i, (first, last, email)) in people.into_iter().enumerate() {
        let id = app
            .db()
            .insert_customer(&NewCustomer {
                email: &email,
                email_key: &email,
                firstname: &first,
                lastname: &last,
                password_hash: "not-a-real-hash",
                security_stamp: "stamp",
                locale: "en",
                created_at: now - 86_400 * (100 - i as i64),
            })
            .await
            .unwrap();
        seeded.push((id, format!("{first} {last}").to_lowercase(), email));
    }
    seeded
}

store_test!(grid_search_sort_and_paging, |app: TestApp| async move {
    create_admin(&app, ADMIN_EMAIL, Role::Administrator).await;
    let admin = admin_client(&app, ADMIN_EMAIL).await;
    let empty = admin.get_text("/admin/customers").await;
    assert!(empty.contains("There are no customers yet."));

    let seeded = seed_grid(&app).await;
    let id_of = |email: &str| seeded.iter().find(|c| c.2 == email).unwrap().0;
    let mut by_id: Vec<i64> = seeded.iter().map(|c| c.0).collect();
    by_id.sort_unstable_by(|a, b| b.cmp(a));

    // Default: newest first, 20 a page, 3 pages.
    let first = admin.get_text("/admin/customers").await;
    assert!(first.contains("45 records found"));
    assert!(first.contains("Page 1 of 3"));
    assert_eq!(grid_ids(&first), by_id[..20]);
    for column in [
        "ID",
        "Name",
        "Email",
        "Customer Since",
        "Last Sign-in",
        "Locked",
        "Active API Tokens",
        "Action",
    ] {
        assert!(first.contains(&format!(">{column}</")), "column {column}");
    }
    let second = unescape(&admin.get_text("/admin/customers?page=2").await);
    assert_eq!(grid_ids(&second), by_id[20..40]);
    // Next continues from the page's last customer (a keyset: as cheap deep
    // in a million matches as here); page 1 and Last go by number.
    let next = format!("&after={}&page=3", by_id[39]);
    for (rel, page) in [
        ("first", ""),
        ("prev", ""),
        ("next", next.as_str()),
        ("last", "&page=3"),
    ] {
        assert!(
            second.contains(&format!(
                "href=\"/admin/customers?sort=id&dir=desc{page}\" rel=\"{rel}\""
            )),
            "{rel} link"
        );
    }
    // The last page is read from the other end; it must still be the right rows.
    let last = admin.get_text("/admin/customers?page=3").await;
    assert_eq!(grid_ids(&last), by_id[40..]);
    assert_eq!(
        grid_ids(&admin.get_text("/admin/customers?page=99").await),
        by_id[40..],
        "past the end: the last page"
    );
    assert_eq!(
        grid_ids(&admin.get_text("/admin/customers?limit=50").await),
        by_id
    );
    assert_eq!(
        grid_ids(&admin.get_text("/admin/customers?limit=7").await).len(),
        20,
        "an unknown page size falls back to 20"
    );
    let odd = admin
        .get("/admin/customers?sort=password_hash&dir=up&page=x&limit=abc&q=%FF")
        .await;
    assert_eq!(odd.status(), 200);

    // Sorting by email ascending, and by name descending on its last page.
    let mut by_email = seeded.clone();
    by_email.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(&b.0)));
    let expected: Vec<i64> = by_email.iter().map(|c| c.0).collect();
    let page = admin.get_text("/admin/customers?sort=email&dir=asc").await;
    assert_eq!(grid_ids(&page), expected[..20]);
    assert!(page.contains("aria-sort=\"ascending\""));
    let mut by_name = seeded.clone();
    by_name.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let expected: Vec<i64> = by_name.iter().map(|c| c.0).collect();
    let page = admin
        .get_text("/admin/customers?sort=name&dir=desc&page=3")
        .await;
    assert_eq!(grid_ids(&page), expected[40..]);

    // Keyword: a prefix of the full name, the last name or the email, any case.
    let smith = admin
        .get_text("/admin/customers?q=SMITH&sort=id&dir=asc")
        .await;
    assert_eq!(
        grid_ids(&smith),
        vec![
            id_of("jane.smith@example.com"),
            id_of("jsmithson@shop.test")
        ]
    );
    assert!(smith.contains("2 records found"));
    assert!(
        smith.contains("Keyword: SMITH"),
        "the active filter is shown"
    );
    assert!(smith.contains("value=\"SMITH\""));
    assert_eq!(
        grid_ids(&admin.get_text("/admin/customers?q=jane+s").await),
        vec![id_of("jane.smith@example.com")]
    );
    assert_eq!(
        grid_ids(&admin.get_text("/admin/customers?q=jsmith").await),
        vec![id_of("jsmithson@shop.test")]
    );
    assert_eq!(
        grid_ids(&admin.get_text("/admin/customers?q=Maria%40").await),
        vec![id_of("maria@example.com")]
    );
    let filler = admin.get_text("/admin/customers?q=filler&page=3").await;
    assert_eq!(grid_ids(&filler).len(), 2, "42 fillers: 20, 20, 2");
    let none = unescape(&admin.get_text("/admin/customers?q=nobody").await);
    assert!(none.contains("We couldn't find any customers matching \"nobody\"."));
    assert!(none.contains("0 records found"));
});

store_test!(
    password_options_validation_saves_nothing,
    |app: TestApp| async move {
        create_admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let admin = admin_client(&app, ADMIN_EMAIL).await;
        let form = admin.get_text("/admin/config/customer").await;
        for (name, value) in [
            ("max_requests_per_hour", "5"),
            ("min_minutes_between_requests", "10"),
            ("link_lifetime_hours", "24"),
            ("min_password_length", "6"),
            ("required_character_classes", "0"),
            ("lockout_failures", "10"),
            ("lockout_minutes", "10"),
            ("api_token_lifetime_hours", "1"),
        ] {
            assert!(
                form.contains(&format!("name=\"{name}\""))
                    && form.contains(&format!("value=\"{value}\"")),
                "{name} shows its default"
            );
        }
        assert!(form.contains("<option value=\"ip_and_email\" selected>"));

        let valid = [
            ("protection_type", "email"),
            ("max_requests_per_hour", "7"),
            ("min_minutes_between_requests", "10"),
            ("link_lifetime_hours", "24"),
            ("min_password_length", "8"),
            ("required_character_classes", "0"),
            ("lockout_failures", "10"),
            ("lockout_minutes", "30"),
            ("api_token_lifetime_hours", "1"),
        ];
        let mut invalid = valid;
        invalid[0].1 = "everyone";
        invalid[4].1 = "3";
        invalid[7].1 = "ten";
        let refused = admin.post_form("/admin/config/customer", &invalid).await;
        assert_eq!(refused.status(), 422);
        let refused = refused.text().await.unwrap();
        let messages = flashes(&refused);
        assert!(messages.contains(
            &"The configuration was not saved. Correct the fields marked below.".to_string()
        ));
        assert!(
            messages.contains(
                &"Minimum Password Length: Enter a whole number from 6 to 256.".to_string()
            )
        );
        assert!(messages.contains(
            &"Lockout Time (minutes): Enter a whole number from 1 to 10080.".to_string()
        ));
        assert!(messages.contains(&"Choose one of the listed options.".to_string()));
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(refused.contains("value=\"ten\""), "the typed values stay");
        assert_eq!(
            PasswordOptions::load(app.db()).await.unwrap(),
            PasswordOptions::default(),
            "one wrong field and nothing is saved, not even the valid ones"
        );
        assert!(audit_rows(&app, None).await.is_empty());

        let saved = admin.post_form("/admin/config/customer", &valid).await;
        assert_eq!(location(&saved), "/admin/config/customer");
        let page = admin.follow(&saved).await;
        assert_eq!(flashes(&page), vec!["You saved the configuration."]);
        assert!(page.contains("<option value=\"email\" selected>"));
        let options = PasswordOptions::load(app.db()).await.unwrap();
        assert_eq!(
            (
                options.max_requests_per_hour,
                options.min_password_length,
                options.lockout_minutes
            ),
            (7, 8, 30)
        );
        let rows = audit_rows(&app, None).await;
        assert_eq!(actions_of(&rows), vec!["password_options"]);
        assert_eq!(
            rows[0].detail,
            "protection_type: ip_and_email → email, max_requests_per_hour: 5 → 7, \
             min_password_length: 6 → 8, lockout_minutes: 10 → 30"
        );
    }
);

store_test!(
    audit_and_mail_pages_show_who_did_what_and_no_secret,
    |app: TestApp| async move {
        create_admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let jane = customer(&app, "jane@example.com").await;
        let kim = customer(&app, "kim@example.com").await;
        let api = api_token(&app, "kim@example.com", PASSWORD).await;
        let admin = admin_client_from(&app, ADMIN_EMAIL, "10.201.0.5").await;
        post_and_follow(
            &admin,
            &format!("/admin/customers/{jane}/reset-password"),
            &[],
        )
        .await;
        post_and_follow(&admin, &format!("/admin/customers/{kim}/unlock"), &[]).await;
        post_and_follow(
            &admin,
            &format!("/admin/customers/{kim}/force-sign-in"),
            &[],
        )
        .await;
        let mails = app.smtp.wait_for(1).await;
        let reset_token = token_of(&reset_link(&mails[0]).unwrap());

        let page = unescape(&admin.get_text("/admin/audit").await);
        let force = page.find("Force Sign In</td>").expect("force row");
        let unlock = page.find("Unlock</td>").expect("unlock row");
        let reset = page.find("Reset Password</td>").expect("reset row");
        assert!(force < unlock && unlock < reset, "newest first");
        assert!(page.contains("10.201.0.5") && page.contains(ADMIN_EMAIL));
        assert!(!page.contains(&reset_token) && !page.contains(&api));

        let filtered = unescape(
            &admin
                .get_text(&format!("/admin/audit?customer={kim}"))
                .await,
        );
        assert!(
            filtered.contains("Force Sign In</td>") && !filtered.contains("Reset Password</td>")
        );
        let rows = audit_rows(&app, None).await;
        assert_eq!(rows.len(), 3);
        assert!(
            rows.iter()
                .all(|r| r.admin_email == ADMIN_EMAIL && r.client_ip == "10.201.0.5")
        );
        assert_eq!(
            rows.iter().map(|r| r.customer_id).collect::<Vec<_>>(),
            vec![Some(kim), Some(kim), Some(jane)]
        );

        // Paging backwards by id: 60 more entries make an older page.
        for _ in 0..60 {
            app.db()
                .insert_audit(&shop_accounts::store::AuditEntry {
                    at: app.state.now(),
                    admin_id: None,
                    admin_email: "script@shop.test".into(),
                    action: "unlock",
                    customer_id: Some(jane),
                    client_ip: "10.0.0.1".into(),
                    detail: String::new(),
                })
                .await
                .unwrap();
        }
        let newest = admin.get_text("/admin/audit").await;
        assert!(
            !newest.contains(ADMIN_EMAIL),
            "the first page is the newest 50"
        );
        let older = newest
            .split("href=\"")
            .find_map(|chunk| {
                chunk
                    .starts_with("/admin/audit?before=")
                    .then(|| chunk.split('"').next().unwrap().to_string())
            })
            .expect("an Older entries link");
        let older_page = admin.get_text(&unescape(&older)).await;
        assert!(older_page.contains(ADMIN_EMAIL));
        assert!(
            !older_page.contains("Older entries"),
            "nothing older than that"
        );

        // The mail queue: who, what kind, status, attempts; never a body or link.
        app.smtp.wait_for(1).await;
        let queue = admin.get_text("/admin/mail").await;
        assert!(queue.contains("jane@example.com") && queue.contains("Reset link"));
        assert!(!queue.contains(&reset_token) && !queue.contains("createPassword"));
        assert_eq!(admin.get("/admin/customers/abc").await.status(), 404);
        assert_eq!(admin.get("/admin/customers/999999").await.status(), 404);
        assert_eq!(
            admin
                .post_form("/admin/customers/999999/reset-password", &[])
                .await
                .status(),
            404
        );
    }
);
