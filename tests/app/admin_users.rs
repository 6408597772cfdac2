//! The Administrators page (SPEC §8, issue 12): invite with an emailed
//! one-time link, activation (the token leaves the address), role changes,
//! disabling (sessions end at once), the last active Administrator protected,
//! Support refused, and nothing an administrator opens showing a token, a
//! secret or a hash — on both stores.

use shop_accounts::accounts::admins::Role;

use crate::helpers::*;
use crate::store_test;
use crate::two_factor::{ADMIN_PASSWORD, create_admin, enrol, password_step};

/// The activation link in the newest mail.
async fn activation_link(app: &TestApp, mails: usize) -> String {
    let mail = app.smtp.wait_for(mails).await.pop().unwrap();
    let text = mail.text();
    let start = text.find("http").expect("a link");
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    assert!(link.contains("/admin/account/activate?token="), "{link}");
    link
}

async fn admin_id(app: &TestApp, email: &str) -> i64 {
    app.db()
        .all_admins()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.email == email)
        .unwrap()
        .id
}

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    assert_eq!(password_step(&client, email).await, "/admin/customers");
    client
}

store_test!(
    an_invited_administrator_activates_and_enrols,
    |app: TestApp| async move {
        create_admin(&app, "ada@shop.test", Role::Administrator).await;
        let ada = signed_in(&app, "ada@shop.test").await;
        let invited = ada
            .post_form(
                "/admin/users",
                &[
                    ("email", "Bea@Shop.test"),
                    ("name", "Bea Boss"),
                    ("role", "support"),
                ],
            )
            .await;
        assert_eq!(location(&invited), "/admin/users");
        let list = ada.follow(&invited).await;
        assert!(
            list.contains("Bea@Shop.test") && list.contains("Invited"),
            "listed as invited"
        );
        // Bad input: a clear message, nothing created.
        for fields in [
            [
                ("email", "not-an-email"),
                ("name", "X Y"),
                ("role", "support"),
            ],
            [
                ("email", "bea@shop.test"),
                ("name", "X Y"),
                ("role", "support"),
            ],
            [
                ("email", "cy@shop.test"),
                ("name", "X Y"),
                ("role", "owner"),
            ],
        ] {
            let refused = ada.post_form("/admin/users", &fields).await;
            assert_eq!(location(&refused), "/admin/users");
            let page = ada.follow(&refused).await;
            assert!(!flashes(&page).is_empty(), "{fields:?}");
        }
        assert_eq!(app.db().all_admins().await.unwrap().len(), 2);

        let link = activation_link(&app, 1).await;
        let token = token_of(&link);
        // Not activated: no sign-in with any password.
        let bea = app.client();
        let response = bea
            .post_form(
                "/admin/login",
                &[("email", "bea@shop.test"), ("password", "")],
            )
            .await;
        assert_eq!(location(&response), "/admin/login");
        // The token leaves the address at once.
        let opened = bea.get(&path_of(&link)).await;
        assert_eq!(opened.status(), 303);
        assert_eq!(location(&opened), "/admin/account/activate");
        let form = bea.get_text("/admin/account/activate").await;
        assert!(form.contains("Bea Boss"));
        assert!(!form.contains(&token));
        let weak = bea
            .post_form(
                "/admin/account/activate",
                &[("password", "short"), ("password_confirmation", "short")],
            )
            .await;
        assert_eq!(weak.status(), 422, "the password policy applies");
        let done = bea
            .post_form(
                "/admin/account/activate",
                &[
                    ("password", ADMIN_PASSWORD),
                    ("password_confirmation", ADMIN_PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&done), "/admin/login");
        // The link works once.
        let again = app.client().get(&path_of(&link)).await;
        assert_eq!(location(&again), "/admin/login");
        // Two-factor required: the new administrator enrols before anything else.
        app.require_two_factor().await;
        let bea = app.client();
        assert_eq!(
            password_step(&bea, "bea@shop.test").await,
            "/admin/account/two-factor"
        );
        enrol(&app, &bea).await;
        assert_eq!(bea.get("/admin/customers").await.status(), 200);
        // Support: not the Administrators page.
        assert_eq!(bea.get("/admin/users").await.status(), 403);
        // Ada has no second factor yet: now that it is required, she enrols first.
        assert_eq!(
            location(&ada.get("/admin/users").await),
            "/admin/account/two-factor"
        );
        enrol(&app, &ada).await;
        let list = ada.get_text("/admin/users").await;
        assert!(list.contains("Active") && !list.contains("Invited"));
        let rows = app.db().audit_page(None, None, 100).await.unwrap();
        let acts: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
        assert!(
            acts.contains(&"admin_created") && acts.contains(&"admin_activated"),
            "{acts:?}"
        );
    }
);

store_test!(
    an_expired_activation_link_is_refused,
    |app: TestApp| async move {
        create_admin(&app, "ada@shop.test", Role::Administrator).await;
        let ada = signed_in(&app, "ada@shop.test").await;
        ada.post_form(
            "/admin/users",
            &[
                ("email", "bea@shop.test"),
                ("name", "Bea Boss"),
                ("role", "administrator"),
            ],
        )
        .await;
        let link = activation_link(&app, 1).await;
        app.advance_clock(24 * 3600 + 1);
        let opened = app.client().get(&path_of(&link)).await;
        assert_eq!(location(&opened), "/admin/login");
    }
);

store_test!(
    disabling_ends_sessions_and_the_last_administrator_stays,
    |app: TestApp| async move {
        create_admin(&app, "ada@shop.test", Role::Administrator).await;
        create_admin(&app, "bob@shop.test", Role::Administrator).await;
        let ada = signed_in(&app, "ada@shop.test").await;
        let bob = signed_in(&app, "bob@shop.test").await;
        let bob_id = admin_id(&app, "bob@shop.test").await;
        let ada_id = admin_id(&app, "ada@shop.test").await;
        // Disabled: Bob's open session ends at once, and he cannot sign in.
        let disabled = ada
            .post_form(&format!("/admin/users/{bob_id}"), &[("active", "0")])
            .await;
        assert_eq!(location(&disabled), "/admin/users");
        assert_eq!(location(&bob.get("/admin/customers").await), "/admin/login");
        let refused = app
            .client()
            .post_form(
                "/admin/login",
                &[("email", "bob@shop.test"), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(location(&refused), "/admin/login");
        // Ada is now the last active Administrator: no demotion, no disabling.
        for fields in [[("role", "support")], [("active", "0")]] {
            let response = ada
                .post_form(&format!("/admin/users/{ada_id}"), &fields)
                .await;
            let page = ada.follow(&response).await;
            assert!(
                flashes(&page)
                    .iter()
                    .any(|f| f.contains("last active Administrator")),
                "{fields:?}: {:?}",
                flashes(&page)
            );
        }
        assert_eq!(
            ada.get("/admin/users").await.status(),
            200,
            "still an Administrator"
        );
        // Bad values: a message, nothing changed.
        for fields in [[("role", "owner")], [("active", "yes")]] {
            let response = ada
                .post_form(&format!("/admin/users/{bob_id}"), &fields)
                .await;
            assert!(!flashes(&ada.follow(&response).await).is_empty());
        }
        assert_eq!(
            ada.post_form("/admin/users/999999", &[("active", "1")])
                .await
                .status(),
            404
        );
        // Enabled again as Support: signs in, but cannot manage administrators.
        ada.post_form(
            &format!("/admin/users/{bob_id}"),
            &[("active", "1"), ("role", "support")],
        )
        .await;
        let bob = signed_in(&app, "bob@shop.test").await;
        assert_eq!(bob.get("/admin/users").await.status(), 403);
        let forbidden = bob
            .post_form(&format!("/admin/users/{ada_id}"), &[("active", "0")])
            .await;
        assert_eq!(forbidden.status(), 403);
        // Now Ada can demote... no: she is still the last Administrator.
        let demote = ada
            .post_form(&format!("/admin/users/{ada_id}"), &[("role", "support")])
            .await;
        assert!(
            flashes(&ada.follow(&demote).await)
                .iter()
                .any(|f| f.contains("last active"))
        );
        let rows = app.db().audit_page(None, None, 100).await.unwrap();
        let disabled = rows.iter().find(|r| r.action == "admin_disabled").unwrap();
        assert!(
            disabled.detail.contains("active: 1 → 0"),
            "{}",
            disabled.detail
        );
        assert!(
            rows.iter().any(|r| r.action == "admin_changed"
                && r.detail.contains("role: administrator → support"))
        );
    }
);

store_test!(
    no_admin_page_shows_a_token_secret_or_hash,
    |app: TestApp| async move {
        create_admin(&app, "ada@shop.test", Role::Administrator).await;
        let ada = signed_in(&app, "ada@shop.test").await;
        let (secret, codes) = enrol(&app, &ada).await;
        ada.post_form(
            "/admin/users",
            &[
                ("email", "bea@shop.test"),
                ("name", "Bea Boss"),
                ("role", "support"),
            ],
        )
        .await;
        let token = token_of(&activation_link(&app, 1).await);
        app.register("jane@shop.test", "correct-horse-9").await;
        app.client().request_reset("jane@shop.test").await;
        let mails = app.smtp.wait_for(2).await;
        let reset = mails.iter().find_map(reset_link).expect("a reset link");
        let reset_token = token_of(&reset);
        let customer = app
            .db()
            .customer_by_email_key("jane@shop.test")
            .await
            .unwrap()
            .unwrap()
            .id;
        let mut secrets = vec![
            token.clone(),
            reset_token,
            secret.to_base32(),
            "$argon2".to_string(),
        ];
        secrets.extend(codes);
        let audit_csv = String::from_utf8(
            ada.get("/admin/audit/export.csv")
                .await
                .bytes()
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        for path in [
            "/admin/users".to_string(),
            "/admin/account/two-factor".to_string(),
            "/admin/audit".to_string(),
            "/admin/mail".to_string(),
            "/admin/config/security".to_string(),
            "/admin/customers".to_string(),
            format!("/admin/customers/{customer}"),
        ] {
            let page = ada.get_text(&path).await;
            for secret in &secrets {
                assert!(!page.contains(secret.as_str()), "{path} shows a secret");
            }
        }
        for secret in &secrets {
            assert!(
                !audit_csv.contains(secret.as_str()),
                "the export shows a secret"
            );
        }
    }
);
