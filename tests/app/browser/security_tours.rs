//! The shopper's security page (issue 13) in a real browser, in English and
//! Dutch: the page with two sessions and a token, Sign Out of the other one,
//! the new-device notice mail, its "This wasn't me" confirmation, and the
//! admin's security activity for the customer.

use serde_json::json;
use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::i18n::Locale;

use super::PASSWORD;
use super::harness::{Browser, wait_for_mail, with_browser};
use crate::helpers::*;

const ADMIN_EMAIL: &str = "ada@shop.test";
const ADMIN_PASSWORD: &str = "Admin-horse-77";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

async fn security_tour(app: TestApp, b: Browser) {
    let (first, last, email) = match b.locale {
        Locale::En => ("Jane", "Doe", "jane.doe@example.com"),
        Locale::Nl => ("Jan", "de Vries", "jan.devries@example.nl"),
    };
    b.goto("/customer/account/create").await;
    b.fill("#firstname", first).await;
    b.fill("#lastname", last).await;
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.fill("#password_confirmation", PASSWORD).await;
    b.submit("/customer/account/create", &b.t("register-button"))
        .await;
    b.wait_path("/customer/account").await;

    // Another browser signs in (a new device: a notice goes out), and an app
    // holds a token.
    let other = app.browser_from("198.51.100.7", Some(FIREFOX));
    assert_eq!(
        location(&other.sign_in(email, PASSWORD).await),
        "/customer/account"
    );
    let token: String = other
        .http
        .post(other.url("/rest/V1/integration/customer/token"))
        .json(&json!({ "username": email, "password": PASSWORD }))
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("a token");
    assert!(!token.is_empty());

    b.click_text(&b.t("security-title")).await;
    b.wait_path("/customer/account/security").await;
    b.page("security-01-page").await;

    b.submit(
        "/customer/account/security/sign-out",
        &b.t("security-sign-out"),
    )
    .await;
    b.wait_path("/customer/account/security").await;
    assert_eq!(b.flashes().await, vec![b.t("security-session-ended")]);
    b.page("security-02-signed-out-other").await;
    assert_eq!(
        other.get("/customer/account").await.status(),
        303,
        "the other browser is signed out"
    );

    let notice = wait_for_mail(&app, email, &b.t("email-new-device-subject"), 1).await;
    b.show_mail(&notice, "mail-3-new-device").await;
    let text = decode_mime(&notice.data);
    let start = text.find("/customer/account/notme?token=").expect("link");
    let link: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/?=_-".contains(*c))
        .collect();

    // The admin's view of it all.
    admins::create(
        &app.state,
        ADMIN_EMAIL,
        "Ada Admin",
        Role::Administrator,
        ADMIN_PASSWORD,
        None,
    )
    .await
    .expect("administrator");
    b.goto("/admin/login").await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#pass", ADMIN_PASSWORD).await;
    b.submit("/admin/login", &b.t("admin-login-button")).await;
    b.wait_path("/admin/customers").await;
    let id = app
        .db()
        .customer_by_email_key(email)
        .await
        .unwrap()
        .unwrap()
        .id;
    b.goto(&format!("/admin/customers/{id}")).await;
    b.page("security-03-admin-activity").await;

    // "This wasn't me": a confirmation first, then Set a New Password.
    b.goto(&link).await;
    b.wait_path("/customer/account/notme").await;
    b.page("security-04-not-me").await;
    b.submit("/customer/account/notme", &b.t("not-me-button"))
        .await;
    b.wait_path("/customer/account/createPassword").await;
    b.page("security-05-not-me-new-password").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn security_page_in_english() {
    with_browser("security_page_in_english", Locale::En, security_tour).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn security_page_in_dutch() {
    with_browser("security_page_in_dutch", Locale::Nl, security_tour).await;
}
