//! REST customer API tokens (SPEC §4, issue 4): issue, `me`, expiry, Force Sign
//! In, password changes, the shared lockout, and JSON errors for bad requests.

use reqwest::StatusCode;
use serde_json::Value;
use shop_accounts::store::{AuditEntry, CustomerRow};

use crate::helpers::*;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const FAILED: &str = "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.";
const TOKEN_PATH: &str = "/rest/V1/integration/customer/token";
const ME_PATH: &str = "/rest/V1/customers/me";

/// POSTs username and password to the token endpoint.
async fn token_request(client: &Client, username: &str, password: &str) -> reqwest::Response {
    client
        .http
        .post(client.url(TOKEN_PATH))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("POST token")
}

/// A fresh token for the customer, asserting the endpoint's 200 and JSON string.
async fn issue_token(client: &Client, username: &str, password: &str) -> String {
    let response = token_request(client, username, password).await;
    assert_eq!(response.status(), StatusCode::OK);
    match response.json::<Value>().await.unwrap() {
        Value::String(token) => token,
        other => panic!("the token endpoint answered {other} instead of a JSON string"),
    }
}

async fn me(client: &Client, token: &str) -> reqwest::Response {
    client
        .http
        .get(client.url(ME_PATH))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET me")
}

/// The status and the `message` of a JSON error, asserting the error shape.
async fn json_error(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "a {status} error is JSON, not {content_type:?}"
    );
    let body: Value = response.json().await.unwrap();
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("a {status} error carries a message: {body}"))
        .to_string();
    assert!(!message.is_empty());
    (status, message)
}

async fn assert_unauthorized(client: &Client, token: &str) {
    let (status, _) = json_error(me(client, token).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn customer(app: &TestApp, email_key: &str) -> CustomerRow {
    app.db()
        .customer_by_email_key(email_key)
        .await
        .unwrap()
        .expect("the customer exists")
}

fn audit_entry(app: &TestApp, customer: &CustomerRow) -> AuditEntry {
    AuditEntry {
        at: app.state.now(),
        admin_id: None,
        admin_email: "admin@shop.test".into(),
        action: "force_sign_in",
        customer_id: Some(customer.id),
        client_ip: "127.0.0.1".into(),
        detail: String::new(),
    }
}

store_test!(token_issue_then_me, |app: TestApp| async move {
    app.register("api@example.com", PASSWORD).await;
    let client = app.client();
    // The address matches in any ASCII case, as on the storefront.
    let token = issue_token(&client, "API@Example.com", PASSWORD).await;
    assert_eq!(token.len(), 43, "256 bits, base64url");
    let response = me(&client, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let id = customer(&app, "api@example.com").await.id;
    assert_eq!(
        body,
        serde_json::json!({ "id": id, "email": "api@example.com", "firstname": "Jane", "lastname": "Doe" })
    );
    // A second token is independent of the first.
    let second = issue_token(&client, "api@example.com", PASSWORD).await;
    assert_ne!(second, token);
    assert_eq!(me(&client, &token).await.status(), StatusCode::OK);
    assert_eq!(me(&client, &second).await.status(), StatusCode::OK);
});

store_test!(
    unknown_and_garbage_tokens_are_401,
    |app: TestApp| async move {
        app.register("garbage@example.com", PASSWORD).await;
        let client = app.client();
        let token = issue_token(&client, "garbage@example.com", PASSWORD).await;
        let mut altered = token.clone().into_bytes();
        altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        for bad in [
            altered.as_str(),
            "garbage",
            "",
            "\u{e9}\u{e9}\u{e9}",
            &"x".repeat(43),
            &"y".repeat(5000),
        ] {
            assert_unauthorized(&client, bad).await;
        }
        // No Authorization header at all, and a scheme other than Bearer.
        let (status, _) = json_error(client.get(ME_PATH).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let basic = client
            .http
            .get(client.url(ME_PATH))
            .header("authorization", format!("Basic {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(json_error(basic).await.0, StatusCode::UNAUTHORIZED);
        // The real token still works: the refusals above were about the token.
        assert_eq!(me(&client, &token).await.status(), StatusCode::OK);
    }
);

store_test!(
    token_expires_after_its_lifetime,
    |app: TestApp| async move {
        app.register("expiry@example.com", PASSWORD).await;
        let client = app.client();
        let token = issue_token(&client, "expiry@example.com", PASSWORD).await;
        app.advance_clock(3600 - 60);
        assert_eq!(me(&client, &token).await.status(), StatusCode::OK);
        app.advance_clock(61);
        assert_unauthorized(&client, &token).await;

        // The lifetime comes from the Password Options.
        app.set_option("api_token_lifetime_hours", "3").await;
        let longer = issue_token(&client, "expiry@example.com", PASSWORD).await;
        app.advance_clock(3 * 3600 - 60);
        assert_eq!(me(&client, &longer).await.status(), StatusCode::OK);
        app.advance_clock(61);
        assert_unauthorized(&client, &longer).await;
    }
);

store_test!(
    force_sign_in_revokes_tokens_and_ends_the_session,
    |app: TestApp| async move {
        let browser = app.register("force@example.com", PASSWORD).await;
        browser.sign_in("force@example.com", PASSWORD).await;
        assert_eq!(browser.get("/customer/account").await.status(), 200);
        let client = app.client();
        let first = issue_token(&client, "force@example.com", PASSWORD).await;
        let second = issue_token(&client, "force@example.com", PASSWORD).await;
        // Another customer's token is not touched.
        app.register("bystander@example.com", PASSWORD).await;
        let bystander = issue_token(&client, "bystander@example.com", PASSWORD).await;

        let row = customer(&app, "force@example.com").await;
        let revoked =
            shop_accounts::api_tokens::force_sign_in(&app.state, &row, &audit_entry(&app, &row))
                .await
                .unwrap();
        assert_eq!(revoked, 2);
        assert_unauthorized(&client, &first).await;
        assert_unauthorized(&client, &second).await;
        assert_eq!(me(&client, &bystander).await.status(), StatusCode::OK);
        let account = browser.get("/customer/account").await;
        assert_eq!(account.status(), 303);
        assert_eq!(location(&account), "/customer/account/login");

        // Clicking it again still succeeds, and the audit log has both.
        let row = customer(&app, "force@example.com").await;
        let again =
            shop_accounts::api_tokens::force_sign_in(&app.state, &row, &audit_entry(&app, &row))
                .await
                .unwrap();
        assert_eq!(again, 0);
        let audit = app.db().audit_page(Some(row.id), None, 10).await.unwrap();
        assert_eq!(audit.len(), 2);
        assert!(audit.iter().all(|a| a.action == "force_sign_in"));

        // The customer can sign in again, with a new token.
        let fresh = issue_token(&client, "force@example.com", PASSWORD).await;
        assert_eq!(me(&client, &fresh).await.status(), StatusCode::OK);
        assert_unauthorized(&client, &first).await;
    }
);

store_test!(
    storefront_password_change_ends_tokens,
    |app: TestApp| async move {
        let browser = app.register("change@example.com", PASSWORD).await;
        let client = app.client();
        let token = issue_token(&client, "change@example.com", PASSWORD).await;
        browser.sign_in("change@example.com", PASSWORD).await;
        let response = browser
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
        assert_unauthorized(&client, &token).await;
        // The old password no longer buys a token; the new one does.
        assert_eq!(
            json_error(token_request(&client, "change@example.com", PASSWORD).await)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        let fresh = issue_token(&client, "change@example.com", "brand-new-secret-7").await;
        assert_eq!(me(&client, &fresh).await.status(), StatusCode::OK);
    }
);

store_test!(
    wrong_password_is_generic_and_counts_toward_the_lockout,
    |app: TestApp| async move {
        app.register("lock@example.com", PASSWORD).await;
        let client = app.client();
        let wrong =
            json_error(token_request(&client, "lock@example.com", "wrong-password").await).await;
        let unknown =
            json_error(token_request(&client, "nobody@example.com", "wrong-password").await).await;
        assert_eq!(wrong, (StatusCode::UNAUTHORIZED, FAILED.to_string()));
        assert_eq!(
            unknown, wrong,
            "no account and a wrong password look the same"
        );
        for _ in 1..10 {
            token_request(&client, "lock@example.com", "wrong-password").await;
        }
        // Ten REST failures lock the account everywhere, with the same message.
        let locked = json_error(token_request(&client, "lock@example.com", PASSWORD).await).await;
        assert_eq!(locked, (StatusCode::UNAUTHORIZED, FAILED.to_string()));
        let browser = app.client();
        let storefront = browser.sign_in("lock@example.com", PASSWORD).await;
        assert_eq!(location(&storefront), "/customer/account/login");
        assert_eq!(flashes(&browser.follow(&storefront).await), vec![FAILED]);

        // The lock ends after its 10 minutes.
        app.advance_clock(10 * 60 + 1);
        let token = issue_token(&client, "lock@example.com", PASSWORD).await;
        assert_eq!(me(&client, &token).await.status(), StatusCode::OK);
    }
);

store_test!(
    storefront_failures_lock_the_token_endpoint,
    |app: TestApp| async move {
        app.register("mixed@example.com", PASSWORD).await;
        let browser = app.client();
        let client = app.client();
        for _ in 0..5 {
            browser.sign_in("mixed@example.com", "wrong-password").await;
            token_request(&client, "mixed@example.com", "wrong-password").await;
        }
        let locked = json_error(token_request(&client, "mixed@example.com", PASSWORD).await).await;
        assert_eq!(locked, (StatusCode::UNAUTHORIZED, FAILED.to_string()));
    }
);

store_test!(
    rest_password_change_returns_true_and_ends_the_token,
    |app: TestApp| async move {
        app.register("restpw@example.com", PASSWORD).await;
        let client = app.client();
        let token = issue_token(&client, "restpw@example.com", PASSWORD).await;
        let change = |current: &'static str, new: &'static str, token: String| {
            let client = &client;
            async move {
                client
                    .http
                    .put(client.url("/rest/V1/customers/me/password"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "currentPassword": current, "newPassword": new }))
                    .send()
                    .await
                    .unwrap()
            }
        };
        // A wrong current password changes nothing.
        let (status, _) =
            json_error(change("not-it-at-all", "brand-new-secret-7", token.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(me(&client, &token).await.status(), StatusCode::OK);
        // A new password that breaks the policy changes nothing.
        let (status, _) = json_error(change(PASSWORD, "a b", token.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(me(&client, &token).await.status(), StatusCode::OK);

        let response = change(PASSWORD, "brand-new-secret-7", token.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap(), Value::Bool(true));
        assert_unauthorized(&client, &token).await;
        assert_eq!(
            json_error(token_request(&client, "restpw@example.com", PASSWORD).await)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        let fresh = issue_token(&client, "restpw@example.com", "brand-new-secret-7").await;
        assert_eq!(me(&client, &fresh).await.status(), StatusCode::OK);
        // Without a live token the call is refused.
        let (status, _) =
            json_error(change("brand-new-secret-7", "another-secret-8", token).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
);

store_test!(bad_requests_get_json_errors, |app: TestApp| async move {
    app.register("bad@example.com", PASSWORD).await;
    let client = app.client();
    let token = issue_token(&client, "bad@example.com", PASSWORD).await;
    let raw = |method: reqwest::Method, path: &str, content_type: &str, body: &str| {
        client
            .http
            .request(method, client.url(path))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
    };
    let json = "application/json";
    let cases = [
        (reqwest::Method::POST, TOKEN_PATH, json, "{\"username\": "),
        (reqwest::Method::POST, TOKEN_PATH, json, "not json"),
        (reqwest::Method::POST, TOKEN_PATH, json, "[1, 2]"),
        (
            reqwest::Method::POST,
            TOKEN_PATH,
            json,
            "{\"username\": 5, \"password\": []}",
        ),
        (reqwest::Method::POST, TOKEN_PATH, json, ""),
        (reqwest::Method::POST, TOKEN_PATH, json, "{}"),
        (
            reqwest::Method::POST,
            TOKEN_PATH,
            "text/plain",
            "{\"username\": \"bad@example.com\", \"password\": \"correct-horse-9\"}",
        ),
        (
            reqwest::Method::POST,
            TOKEN_PATH,
            "application/x-www-form-urlencoded",
            "username=bad%40example.com&password=correct-horse-9",
        ),
        (
            reqwest::Method::PUT,
            "/rest/V1/customers/me/password",
            json,
            "{\"currentPassword\"",
        ),
        (
            reqwest::Method::PUT,
            "/rest/V1/customers/me/password",
            "text/plain",
            "x",
        ),
        (
            reqwest::Method::PUT,
            "/rest/V1/customers/me/password",
            json,
            "{}",
        ),
        (
            reqwest::Method::PUT,
            "/rest/V1/customers/password",
            json,
            "{\"email\": 7}",
        ),
        (
            reqwest::Method::POST,
            "/rest/V1/customers/resetPassword",
            json,
            "{}",
        ),
        (
            reqwest::Method::POST,
            "/rest/V1/customers/resetPassword",
            json,
            "nope",
        ),
    ];
    for (method, path, content_type, body) in cases {
        let response = raw(method.clone(), path, content_type, body).await.unwrap();
        let (status, _) = json_error(response).await;
        assert!(
            status.is_client_error(),
            "{method} {path} ({content_type}) {body:?} answered {status}"
        );
    }
    // None of it touched the account or its token.
    assert_eq!(me(&client, &token).await.status(), StatusCode::OK);
    assert_eq!(
        customer(&app, "bad@example.com").await.failed_sign_ins,
        0,
        "a refused body is no sign-in attempt"
    );
});

store_test!(unknown_rest_paths_are_json_404, |app: TestApp| async move {
    let client = app.client();
    for path in [
        "/rest/V1/nothing-here",
        "/rest/V1/customers/me/extra",
        "/rest/V2/customers/me",
        "/rest",
    ] {
        let (status, _) = json_error(client.get(path).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // A known path with a method it does not take is a JSON error too.
    let (status, _) = json_error(client.get(TOKEN_PATH).await).await;
    assert!(
        status.is_client_error(),
        "GET {TOKEN_PATH} answered {status}"
    );
});

store_test!(the_rest_root_is_a_json_404_too, |app: TestApp| async move {
    let client = app.client();
    for path in ["/rest/", "/rest/V2/anything"] {
        let response = client.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["message"].is_string(), "{path}");
    }
});

store_test!(api_answers_are_not_cached, |app: TestApp| async move {
    app.register("nocache@example.com", "correct-horse-9").await;
    let client = app.client();
    let response = client
        .http
        .post(client.url("/rest/V1/integration/customer/token"))
        .json(
            &serde_json::json!({"username": "nocache@example.com", "password": "correct-horse-9"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
});
