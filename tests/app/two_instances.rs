//! Two instances on one database under mixed load (issue 14): the reset limits
//! are exact across both, every accepted reset is mailed once although both
//! mail workers run, and Force Sign In on one instance is seen by the other on
//! its next request.
//!
//! Already proven elsewhere and not repeated here: a bulk job is claimed by one
//! instance only (`bulk::two_instances_share_one_job_queue_and_never_double_handle`,
//! `bulk::two_runners_claiming_one_job_at_once_never_both_get_it`), a queued
//! message is never sent by both workers (`recovery::two_instances_never_send_a_message_twice`),
//! the lockout counts across instances
//! (`lockout::parallel_wrong_passwords_across_two_instances_lock_the_account`)
//! and a two-factor code is used once (`two_factor::a_code_is_used_once_across_two_instances`).

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use shop_accounts::accounts::admins::{self, Role};

use crate::helpers::*;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const ADMIN_EMAIL: &str = "ada@shop.test";
const ADMIN_PASSWORD: &str = "admin-horse-77";
const TOKEN_PATH: &str = "/rest/V1/integration/customer/token";
const ME_PATH: &str = "/rest/V1/customers/me";
const FORCE_DONE: &str = "You have revoked the customer's tokens.";
/// The default limit: five reset requests per address an hour.
const PER_HOUR: usize = 5;

async fn token(client: &Client, email: &str) -> String {
    let response = client
        .http
        .post(client.url(TOKEN_PATH))
        .json(&serde_json::json!({ "username": email, "password": PASSWORD }))
        .send()
        .await
        .expect("POST token");
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<String>().await.unwrap()
}

async fn me(client: &Client, token: &str) -> StatusCode {
    client
        .http
        .get(client.url(ME_PATH))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET me")
        .status()
}

fn mails_to(app: &TestApp, recipient: &str) -> usize {
    app.smtp
        .received()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == recipient))
        .count()
}

store_test!(
    reset_limits_are_exact_and_each_mail_goes_once_across_two_instances_under_load,
    |app: TestApp| async move {
        app.register("target@example.com", PASSWORD).await;
        for i in 0..4 {
            app.register(&format!("bystander{i}@example.com"), PASSWORD)
                .await;
        }
        app.set_option("min_minutes_between_requests", "0").await;
        let mut other = app.second_instance().await;
        let instances = [&app, &other];

        // Mixed load on both instances at once: 24 requests for one address
        // (each from its own IP, so only the address limit counts), resets for
        // other customers, REST sign-ins and page views.
        let clients: Vec<Client> = (0..24).map(|i| instances[i % 2].client()).collect();
        for client in &clients {
            client.form_key().await;
        }
        let targeted = clients.iter().map(|client| async move {
            location(&client.request_reset("target@example.com").await)
        });
        let bystanders = (0..4).map(|i| {
            let client = instances[i % 2].client();
            async move {
                let answer = client
                    .request_reset(&format!("bystander{i}@example.com"))
                    .await;
                assert_eq!(location(&answer), "/customer/account/login");
                token(&client, &format!("bystander{i}@example.com")).await;
                assert_eq!(client.get("/customer/account/login").await.status(), 200);
            }
        });
        let (answers, _) = tokio::join!(join_all(targeted), join_all(bystanders));
        let accepted = answers
            .iter()
            .filter(|l| *l == "/customer/account/login")
            .count();
        let refused = answers
            .iter()
            .filter(|l| *l == "/customer/account/forgotpassword")
            .count();
        assert_eq!(
            (accepted, refused),
            (PER_HOUR, 24 - PER_HOUR),
            "exactly the limit across both instances: {answers:?}"
        );

        // Both mail workers run; each accepted request is mailed once.
        app.smtp.wait_for(PER_HOUR + 4).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(mails_to(&app, "target@example.com"), PER_HOUR);
        for i in 0..4 {
            assert_eq!(mails_to(&app, &format!("bystander{i}@example.com")), 1);
        }
        let received = app.smtp.received();
        let mut ids: Vec<String> = received
            .iter()
            .map(|m| m.header("Message-ID").unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), received.len(), "no message sent twice");
        assert_eq!(received.len(), PER_HOUR + 4);
        other.stop().await;
    }
);

store_test!(
    force_sign_in_on_one_instance_is_seen_by_the_other_on_its_next_request,
    |app: TestApp| async move {
        app.register("forced@example.com", PASSWORD).await;
        let id = app
            .db()
            .customer_by_email_key("forced@example.com")
            .await
            .unwrap()
            .expect("registered")
            .id;
        let mut b = app.second_instance().await;

        // The customer is signed in on B, in the browser and over REST.
        let shopper = b.client();
        assert_eq!(
            location(&shopper.sign_in("forced@example.com", PASSWORD).await),
            "/customer/account"
        );
        let token = token(&shopper, "forced@example.com").await;
        assert_eq!(me(&shopper, &token).await, StatusCode::OK);
        assert_eq!(shopper.get("/customer/account").await.status(), 200);

        // The administrator uses A.
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
        let forced = admin
            .post_form(&format!("/admin/customers/{id}/force-sign-in"), &[])
            .await;
        assert_eq!(flashes(&admin.follow(&forced).await), vec![FORCE_DONE]);

        // B's very next requests know.
        assert_eq!(me(&shopper, &token).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            location(&shopper.get("/customer/account").await),
            "/customer/account/login",
            "the storefront session on B ended"
        );
        // The same browser on A is signed out too, and can sign in again on B.
        assert_eq!(
            location(&shopper.on(&app).get("/customer/account").await),
            "/customer/account/login"
        );
        assert_eq!(
            location(&shopper.sign_in("forced@example.com", PASSWORD).await),
            "/customer/account"
        );
        b.stop().await;
    }
);
