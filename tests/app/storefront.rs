//! Storefront accounts (issue 2): register, sign in, My Account, sign out,
//! lockout, password change, CSRF and hostile input.

use crate::helpers::*;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const FAILED: &str = "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.";

store_test!(
    register_sign_in_account_sign_out,
    |app: TestApp| async move {
        let client = app.client();
        let page = client.get_text("/customer/account/create").await;
        assert!(
            page.contains("name=\"firstname\"") && page.contains("name=\"password_confirmation\"")
        );
        let response = client
            .post_form(
                "/customer/account/create",
                &[
                    ("firstname", "Jane"),
                    ("lastname", "Doe"),
                    ("email", "Jane.Doe@Example.com"),
                    ("password", PASSWORD),
                    ("password_confirmation", PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/customer/account");
        let account = client.follow(&response).await;
        assert!(
            account.contains("Jane.Doe@Example.com"),
            "My Account shows the address as typed"
        );
        assert!(account.contains("My Account") && account.contains("Sign Out"));

        let out = client.post_form("/customer/account/logout", &[]).await;
        assert_eq!(out.status(), 303);
        assert_eq!(
            location(&client.get("/customer/account").await),
            "/customer/account/login"
        );

        // Sign in again, with the address in another ASCII case.
        let signed_in = client.sign_in("jane.doe@EXAMPLE.com", PASSWORD).await;
        assert_eq!(location(&signed_in), "/customer/account");
        assert_eq!(client.get("/customer/account").await.status(), 200);
    }
);

store_test!(duplicate_email_is_a_form_error, |app: TestApp| async move {
    app.register("taken@example.com", PASSWORD).await;
    let client = app.client();
    let response = client
        .post_form(
            "/customer/account/create",
            &[
                ("firstname", "Other"),
                ("lastname", "Person"),
                ("email", "TAKEN@example.com"),
                ("password", PASSWORD),
                ("password_confirmation", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/customer/account/create");
    let page = client.follow(&response).await;
    assert_eq!(
        flashes(&page),
        vec!["There is already an account with this email address."]
    );
    assert!(
        page.contains("value=\"TAKEN@example.com\""),
        "the form keeps what was typed"
    );
});

store_test!(
    wrong_password_and_unknown_email_get_the_same_message,
    |app: TestApp| async move {
        app.register("known@example.com", PASSWORD).await;
        for (email, password) in [
            ("known@example.com", "wrong-password"),
            ("nobody@example.com", PASSWORD),
        ] {
            let client = app.client();
            let response = client.sign_in(email, password).await;
            assert_eq!(response.status(), 303);
            assert_eq!(location(&response), "/customer/account/login");
            assert_eq!(flashes(&client.follow(&response).await), vec![FAILED]);
        }
    }
);

store_test!(
    lockout_after_ten_failures_and_open_after_the_window,
    |app: TestApp| async move {
        app.register("lock@example.com", PASSWORD).await;
        let client = app.client();
        for _ in 0..10 {
            client.sign_in("lock@example.com", "wrong-password").await;
        }
        // The right password is refused while locked, with the same message.
        let locked = client.sign_in("lock@example.com", PASSWORD).await;
        assert_eq!(location(&locked), "/customer/account/login");
        assert_eq!(flashes(&client.follow(&locked).await), vec![FAILED]);
        app.advance_clock(9 * 60 + 30); // a margin for the real seconds the test itself takes
        assert_eq!(
            location(&client.sign_in("lock@example.com", PASSWORD).await),
            "/customer/account/login"
        );
        app.advance_clock(31);
        assert_eq!(
            location(&client.sign_in("lock@example.com", PASSWORD).await),
            "/customer/account"
        );
    }
);

store_test!(
    password_change_ends_the_other_session,
    |app: TestApp| async move {
        let first = app.register("change@example.com", PASSWORD).await;
        first.sign_in("change@example.com", PASSWORD).await;
        let second = app.client();
        second.sign_in("change@example.com", PASSWORD).await;
        assert_eq!(second.get("/customer/account").await.status(), 200);

        let response = first
            .post_form(
                "/customer/account/edit",
                &[
                    ("current_password", PASSWORD),
                    ("password", "brand-new-secret-7"),
                    ("password_confirmation", "brand-new-secret-7"),
                ],
            )
            .await;
        assert_eq!(location(&response), "/customer/account");
        assert_eq!(
            flashes(&first.follow(&response).await),
            vec!["You updated your password."]
        );
        // This session stays; the other one is gone on its very next request.
        assert_eq!(first.get("/customer/account").await.status(), 200);
        assert_eq!(
            location(&second.get("/customer/account").await),
            "/customer/account/login"
        );
        // The new password works, the old one does not.
        let third = app.client();
        assert_eq!(
            location(&third.sign_in("change@example.com", PASSWORD).await),
            "/customer/account/login"
        );
        assert_eq!(
            location(
                &third
                    .sign_in("change@example.com", "brand-new-secret-7")
                    .await
            ),
            "/customer/account"
        );
    }
);

store_test!(
    password_change_needs_the_current_password_and_policy,
    |app: TestApp| async move {
        let client = app.register("policy@example.com", PASSWORD).await;
        client.sign_in("policy@example.com", PASSWORD).await;
        let wrong = client
            .post_form(
                "/customer/account/edit",
                &[
                    ("current_password", "nope-nope"),
                    ("password", "another-9x"),
                    ("password_confirmation", "another-9x"),
                ],
            )
            .await;
        assert_eq!(
            flashes(&client.follow(&wrong).await),
            vec!["The password doesn't match this account. Verify the password and try again."]
        );
        let mismatch = client
            .post_form(
                "/customer/account/edit",
                &[
                    ("current_password", PASSWORD),
                    ("password", "another-9x"),
                    ("password_confirmation", "another-9y"),
                ],
            )
            .await;
        assert_eq!(
            flashes(&client.follow(&mismatch).await),
            vec!["New Password and Confirm New Password values didn't match."]
        );
        // Still the old password.
        assert_eq!(
            location(&app.client().sign_in("policy@example.com", PASSWORD).await),
            "/customer/account"
        );
    }
);

store_test!(
    post_without_csrf_is_403_and_changes_nothing,
    |app: TestApp| async move {
        let client = app.client();
        client.get("/customer/account/create").await; // has the cookie, but sends no key
        let fields = [
            ("firstname", "No"),
            ("lastname", "Token"),
            ("email", "csrf@example.com"),
            ("password", PASSWORD),
            ("password_confirmation", PASSWORD),
        ];
        let response = client.post_raw("/customer/account/create", &fields).await;
        assert_eq!(response.status(), 403);
        let mut with_bad_key = fields.to_vec();
        with_bad_key.push(("form_key", "forged"));
        assert_eq!(
            client
                .post_raw("/customer/account/create", &with_bad_key)
                .await
                .status(),
            403
        );
        // A key from another browser does not work either.
        let other_key = app.client().form_key().await;
        let mut with_other_key = fields.to_vec();
        with_other_key.push(("form_key", &other_key));
        assert_eq!(
            client
                .post_raw("/customer/account/create", &with_other_key)
                .await
                .status(),
            403
        );
        assert!(
            app.db()
                .customer_by_email_key("csrf@example.com")
                .await
                .unwrap()
                .is_none()
        );
        // Another site's Origin is refused even with a valid key.
        let key = client.form_key().await;
        let mut valid = fields.to_vec();
        valid.push(("form_key", &key));
        let cross = client
            .http
            .post(client.url("/customer/account/create"))
            .header("origin", "https://evil.example")
            .form(&valid)
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403);
        assert!(
            app.db()
                .customer_by_email_key("csrf@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }
);

store_test!(
    hostile_input_gets_a_4xx_with_a_message_never_a_500,
    |app: TestApp| async move {
        let client = app.client();
        // Empty fields.
        let empty = client.post_form("/customer/account/create", &[]).await;
        assert_eq!(empty.status(), 303);
        let page = client.follow(&empty).await;
        assert!(
            flashes(&page)
                .iter()
                .any(|f| f.contains("This is a required field.")),
            "{page}"
        );
        let empty_login = client.post_form("/customer/account/login", &[]).await;
        assert_eq!(flashes(&client.follow(&empty_login).await), vec![FAILED]);
        // A 10,000-character email.
        let long = format!("{}@example.com", "a".repeat(10_000));
        let response = client
            .post_form(
                "/customer/account/create",
                &[
                    ("firstname", "A"),
                    ("lastname", "B"),
                    ("email", &long),
                    ("password", PASSWORD),
                    ("password_confirmation", PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        assert!(
            flashes(&client.follow(&response).await)
                .iter()
                .any(|f| f.contains("too long"))
        );
        let forgot = client.request_reset(&long).await;
        assert!(forgot.status().is_redirection());
        // Invalid UTF-8 in a form body.
        let key = client.form_key().await;
        let mut body = format!("form_key={key}&email=").into_bytes();
        body.extend_from_slice(&[0xff, 0xfe, 0xfd]);
        body.extend_from_slice(b"&password=x");
        let bad = client
            .http
            .post(client.url("/customer/account/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            bad.status().is_client_error(),
            "invalid UTF-8 got {}",
            bad.status()
        );
        assert!(
            bad.text()
                .await
                .unwrap()
                .contains("could not be understood")
        );
        // Unknown pages and methods.
        let missing = client.get("/no/such/page").await;
        assert_eq!(missing.status(), 404);
        assert!(html_unescape(&missing.text().await.unwrap()).contains("can't find the page"));
        // A 2 MB body, last: the server refuses it unread and drops that
        // connection, which the client would otherwise try to reuse.
        let huge = "x".repeat(2 * 1024 * 1024);
        let big = client
            .post_form(
                "/customer/account/login",
                &[("email", &huge), ("password", "x")],
            )
            .await;
        assert_eq!(big.status(), 413);
        assert!(big.text().await.unwrap().contains("too large"));
    }
);

store_test!(pages_send_security_headers, |app: TestApp| async move {
    let client = app.client();
    let response = client.get("/customer/account/login").await;
    let headers = response.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let body = response.text().await.unwrap();
    assert!(body.contains("Forgot Your Password?"));
});

store_test!(
    anonymous_page_views_write_nothing,
    |app: TestApp| async move {
        let client = app.client();
        for path in [
            "/",
            "/customer/account/login",
            "/customer/account/create",
            "/customer/account/forgotpassword",
        ] {
            assert_eq!(client.get(path).await.status(), 200);
        }
        let sessions: i64 = match app.db() {
            shop_accounts::store::Db::Sqlite(pool) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions")
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
            shop_accounts::store::Db::Postgres(pool) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions.session")
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(sessions, 0);
    }
);

store_test!(health_and_readiness, |app: TestApp| async move {
    let client = app.client();
    assert_eq!(client.get("/healthz").await.status(), 200);
    assert_eq!(client.get("/readyz").await.status(), 200);
    let metrics = app.metrics().await;
    let _ = metrics; // the exporter answers; counters appear once something happened
});

store_test!(
    dutch_pages_by_accept_language_and_switch,
    |app: TestApp| async move {
        let client = app.client();
        let page = client
            .http
            .get(client.url("/customer/account/login"))
            .header("accept-language", "nl-NL,nl;q=0.9")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("lang=\"nl\"") && page.contains("Wachtwoord vergeten?"));
        let switch = client
            .get("/language/nl?back=/customer/account/create")
            .await;
        assert_eq!(location(&switch), "/customer/account/create");
        assert!(
            client
                .get_text("/customer/account/create")
                .await
                .contains("Account aanmaken")
        );
        let evil = client.get("/language/en?back=//evil.example").await;
        assert_eq!(location(&evil), "/");
    }
);

#[tokio::test]
async fn https_shops_send_hsts_and_secure_cookies() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.base_url = "https://shop.example".parse().unwrap()
    })
    .await;
    let response = app.client().get("/customer/account/login").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    let plain = TestApp::spawn(Backend::Sqlite).await;
    let response = plain.client().get("/customer/account/login").await;
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}

store_test!(
    error_pages_know_who_is_signed_in,
    |app: TestApp| async move {
        let client = app.register("lost@example.com", PASSWORD).await;
        let anonymous = client.get_text("/no/such/page").await;
        assert!(anonymous.contains("/customer/account/login"));
        client.sign_in("lost@example.com", PASSWORD).await;
        let missing = client.get("/no/such/page").await;
        assert_eq!(missing.status(), 404);
        let page = missing.text().await.unwrap();
        assert!(
            page.contains("Sign Out") && page.contains("My Account"),
            "{page}"
        );
        // Its Sign Out button works: the header carries this browser's form key.
        let key = extract_form_key(&page).unwrap();
        assert_eq!(key, client.form_key().await);
    }
);
