//! The lockout under concurrency (issue 8, findings 1 and 6): parallel wrong
//! passwords on one or two instances cannot get more checks in than the limit,
//! the right password is refused for the lock period afterwards, and the
//! current password of a password change counts like a sign-in.

use futures_util::future::join_all;
use reqwest::StatusCode;
use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::store::AccountTable;

use crate::helpers::*;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const ADMIN_PASSWORD: &str = "admin-horse-77";
const TOKEN_PATH: &str = "/rest/V1/integration/customer/token";
const LOGIN: &str = "/customer/account/login";

async fn token_status(client: &Client, username: &str, password: &str) -> StatusCode {
    client
        .http
        .post(client.url(TOKEN_PATH))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("POST token")
        .status()
}

/// The stored failure count and lock of an account.
async fn lock_state(app: &TestApp, table: AccountTable, email: &str) -> (i64, Option<i64>) {
    let sql = match table {
        AccountTable::Customers => {
            "SELECT failed_sign_ins, locked_until FROM customers WHERE email = $1"
        }
        AccountTable::Admins => "SELECT failed_sign_ins, locked_until FROM admins WHERE email = $1",
    };
    match app.db() {
        shop_accounts::store::Db::Sqlite(pool) => sqlx::query_as(sql)
            .bind(email)
            .fetch_one(pool)
            .await
            .unwrap(),
        shop_accounts::store::Db::Postgres(pool) => sqlx::query_as(sql)
            .bind(email)
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

fn is_locked(app: &TestApp, locked_until: Option<i64>) -> bool {
    locked_until.is_some_and(|until| until > app.state.now())
}

store_test!(
    parallel_wrong_rest_passwords_lock_the_account,
    |app: TestApp| async move {
        app.register("burst@example.com", PASSWORD).await;
        let client = app.client();
        let attempts = (0..30).map(|_| token_status(&client, "burst@example.com", "wrong-pass-1"));
        let answers = join_all(attempts).await;
        assert!(answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
        let (_, locked_until) =
            lock_state(&app, AccountTable::Customers, "burst@example.com").await;
        assert!(
            is_locked(&app, locked_until),
            "30 parallel guesses lock the account"
        );
        assert_eq!(
            token_status(&client, "burst@example.com", PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "the right password is refused for the lock period"
        );
        app.advance_clock(10 * 60 + 1);
        assert_eq!(
            token_status(&client, "burst@example.com", PASSWORD).await,
            StatusCode::OK,
            "and works again once the lock period is over"
        );
    }
);

store_test!(
    exactly_ten_parallel_wrong_passwords_lock_the_account,
    |app: TestApp| async move {
        app.register("ten@example.com", PASSWORD).await;
        let client = app.client();
        join_all((0..10).map(|_| token_status(&client, "ten@example.com", "wrong-pass-1"))).await;
        let (_, locked_until) = lock_state(&app, AccountTable::Customers, "ten@example.com").await;
        assert!(is_locked(&app, locked_until));
        assert_eq!(
            token_status(&client, "ten@example.com", PASSWORD).await,
            StatusCode::UNAUTHORIZED
        );
    }
);

store_test!(
    parallel_wrong_storefront_passwords_lock_the_account,
    |app: TestApp| async move {
        app.register("shop-burst@example.com", PASSWORD).await;
        let attacker = app.client();
        attacker.form_key().await;
        let attempts = (0..20).map(|_| attacker.sign_in("shop-burst@example.com", "wrong-pass-1"));
        for response in join_all(attempts).await {
            assert_eq!(location(&response), LOGIN);
        }
        let owner = app.client();
        let refused = owner.sign_in("shop-burst@example.com", PASSWORD).await;
        assert_eq!(
            location(&refused),
            LOGIN,
            "the right password is refused while locked"
        );
    }
);

store_test!(
    parallel_wrong_admin_passwords_lock_the_admin,
    |app: TestApp| async move {
        admins::create(
            &app.state,
            "boss@example.com",
            "Ada Admin",
            Role::Administrator,
            ADMIN_PASSWORD,
            None,
        )
        .await
        .unwrap();
        let attacker = app.client();
        attacker.form_key().await;
        let attempts = (0..20).map(|_| {
            attacker.post_form(
                "/admin/login",
                &[("email", "boss@example.com"), ("password", "wrong-pass-1")],
            )
        });
        for response in join_all(attempts).await {
            assert_eq!(location(&response), "/admin/login");
        }
        let (_, locked_until) = lock_state(&app, AccountTable::Admins, "boss@example.com").await;
        assert!(is_locked(&app, locked_until));
        let owner = app.client();
        let refused = owner
            .post_form(
                "/admin/login",
                &[("email", "boss@example.com"), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(
            location(&refused),
            "/admin/login",
            "the right password is refused while locked"
        );
    }
);

store_test!(
    parallel_wrong_passwords_across_two_instances_lock_the_account,
    |app: TestApp| async move {
        app.register("pair-lock@example.com", PASSWORD).await;
        let other = app.second_instance().await;
        let here = app.client();
        let there = other.client();
        let attempts = (0..45).flat_map(|_| {
            [
                token_status(&here, "pair-lock@example.com", "wrong-pass-1"),
                token_status(&there, "pair-lock@example.com", "wrong-pass-1"),
            ]
        });
        join_all(attempts).await;
        for client in [&here, &there] {
            assert_eq!(
                token_status(client, "pair-lock@example.com", PASSWORD).await,
                StatusCode::UNAUTHORIZED,
                "locked on both instances"
            );
        }
    }
);

store_test!(
    nine_failures_then_the_right_password_still_signs_in,
    |app: TestApp| async move {
        app.register("nine@example.com", PASSWORD).await;
        let client = app.client();
        for _ in 0..9 {
            assert_eq!(
                token_status(&client, "nine@example.com", "wrong-pass-1").await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            token_status(&client, "nine@example.com", PASSWORD).await,
            StatusCode::OK
        );
        assert_eq!(
            lock_state(&app, AccountTable::Customers, "nine@example.com").await,
            (0, None),
            "a success starts the count afresh"
        );
    }
);

store_test!(
    wrong_current_passwords_on_my_account_count_and_end_the_session,
    |app: TestApp| async move {
        let client = app.register("guess@example.com", PASSWORD).await;
        let signed_in = client.sign_in("guess@example.com", PASSWORD).await;
        assert_eq!(location(&signed_in), "/customer/account");
        for i in 0..10 {
            let response = client
                .post_form(
                    "/customer/account/edit",
                    &[
                        ("current_password", "wrong-pass-1"),
                        ("password", "new-horse-42"),
                        ("password_confirmation", "new-horse-42"),
                    ],
                )
                .await;
            let expected = if i < 9 {
                "/customer/account/edit"
            } else {
                LOGIN
            };
            assert_eq!(location(&response), expected, "attempt {}", i + 1);
        }
        let (_, locked_until) =
            lock_state(&app, AccountTable::Customers, "guess@example.com").await;
        assert!(
            is_locked(&app, locked_until),
            "ten wrong current passwords lock the account"
        );
        assert_eq!(
            location(&client.get("/customer/account").await),
            LOGIN,
            "the session that guessed has ended"
        );
        let again = client.sign_in("guess@example.com", PASSWORD).await;
        assert_eq!(location(&again), LOGIN, "and the lockout holds");
    }
);

store_test!(
    wrong_current_passwords_over_rest_count_and_end_the_token,
    |app: TestApp| async move {
        app.register("rest-guess@example.com", PASSWORD).await;
        let client = app.client();
        let response = client
            .http
            .post(client.url(TOKEN_PATH))
            .json(
                &serde_json::json!({ "username": "rest-guess@example.com", "password": PASSWORD }),
            )
            .send()
            .await
            .unwrap();
        let token: String = response.json().await.unwrap();
        let change = |current: &'static str| {
            client
                .http
                .put(client.url("/rest/V1/customers/me/password"))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "currentPassword": current, "newPassword": "new-horse-42" }))
                .send()
        };
        for _ in 0..9 {
            assert_eq!(
                change("wrong-pass-1").await.unwrap().status(),
                StatusCode::BAD_REQUEST
            );
        }
        assert_eq!(
            change("wrong-pass-1").await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "the tenth wrong current password locks the account"
        );
        let me = client
            .http
            .get(client.url("/rest/V1/customers/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            me.status(),
            StatusCode::UNAUTHORIZED,
            "the token that guessed has ended"
        );
        assert_eq!(
            token_status(&client, "rest-guess@example.com", PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "and the lockout holds"
        );
    }
);
