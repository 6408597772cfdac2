//! The first administrator with two-factor sign-in required (issue 12), in
//! English and in Dutch: setup leads straight into enrolment with the QR code
//! visible, a code computed from the secret on the page confirms it, the
//! recovery codes are shown once, and the next sign-in asks for a code.

use shop_accounts::accounts::totp::TotpSecret;
use shop_accounts::i18n::Locale;

use super::harness::{Browser, with_browser};
use crate::helpers::*;

const ADMIN_PASSWORD: &str = "Admin-lighthouse-31";

async fn two_factor_tour(app: TestApp, b: Browser) {
    app.require_two_factor().await;
    let setup = shop_accounts::accounts::admins::setup::issue_if_needed(&app.state)
        .await
        .expect("setup token")
        .expect("no administrator yet");
    b.goto(&format!("/admin/setup?token={setup}")).await;
    b.fill("#name", "Ada Admin").await;
    b.fill("#email", "admin@shop.test").await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.fill("#password_confirmation", ADMIN_PASSWORD).await;
    b.find("form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    // Two-factor is required: setup leads straight into enrolment.
    b.wait_path("/admin/account/two-factor").await;
    let qr = b.find("#totp-qr svg").await;
    assert!(qr.is_displayed().await.unwrap(), "the QR code is visible");
    let link = b.attr("#totp-link", "href").await.unwrap();
    assert!(link.starts_with("otpauth://totp/"), "{link}");
    b.page("two-factor-01-enrol").await;
    let secret_text = b.find("#totp-secret").await.text().await.unwrap();
    let secret = TotpSecret::from_base32(&secret_text.replace(' ', "")).expect("base32");
    assert!(link.contains(&format!("secret={}", secret.to_base32())));

    b.fill("#code", &secret.code_at(app.state.now())).await;
    b.submit("/admin/account/two-factor", &b.t("admin-enrol-button"))
        .await;
    b.wait_path("/admin/account/two-factor").await;
    let codes = b.find("#recovery-codes").await.text().await.unwrap();
    assert_eq!(codes.lines().filter(|l| !l.trim().is_empty()).count(), 10);
    b.page("two-factor-02-recovery-codes").await;
    b.click_text(&b.t("admin-recovery-codes-continue")).await;
    b.wait_path("/admin/customers").await;

    // Out, and in again: password, then a code from the app.
    b.click_text(&b.t("nav-sign-out")).await;
    b.wait_path("/admin/login").await;
    b.fill("#email", "admin@shop.test").await;
    b.fill("#pass", ADMIN_PASSWORD).await;
    b.submit("/admin/login", &b.t("admin-login-button")).await;
    b.wait_path("/admin/login/two-factor").await;
    b.page("two-factor-03-code").await;
    // The enrolment used this step's code: the app shows the next one.
    app.advance_clock(30);
    b.fill("#code", &secret.code_at(app.state.now())).await;
    b.submit("/admin/login/two-factor", &b.t("admin-two-factor-button"))
        .await;
    b.wait_path("/admin/customers").await;
    b.click_text(&b.t("admin-nav-users")).await;
    b.wait_path("/admin/users").await;
    b.page("two-factor-04-administrators").await;
    b.click_text(&b.t("admin-nav-security")).await;
    b.wait_path("/admin/config/security").await;
    b.page("two-factor-05-security").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn admin_enrols_and_signs_in_with_a_code_in_english() {
    with_browser(
        "admin_enrols_and_signs_in_with_a_code_in_english",
        Locale::En,
        two_factor_tour,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn admin_enrols_and_signs_in_with_a_code_in_dutch() {
    with_browser(
        "admin_enrols_and_signs_in_with_a_code_in_dutch",
        Locale::Nl,
        two_factor_tour,
    )
    .await;
}
