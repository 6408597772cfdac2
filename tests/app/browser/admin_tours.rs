//! The administrator's tours: first-run setup, the customer grid, Force Sign
//! In, Reset Password, Unlock, Password Options, audit log and mail queue, in
//! English and in Dutch.

use serde_json::json;
use shop_accounts::i18n::Locale;

use super::harness::{Browser, wait_for_mail, with_browser};
use super::{NEW_PASSWORD, PASSWORD};
use crate::helpers::*;

const ADMIN_PASSWORD: &str = "Admin-lighthouse-31";

/// A customer made through the domain, in `locale` (as if registered on a page
/// in that language).
async fn customer(app: &TestApp, first: &str, last: &str, email: &str, locale: Locale) -> i64 {
    let registration = shop_accounts::accounts::customers::Registration {
        firstname: first,
        lastname: last,
        email,
        password: PASSWORD,
        password_confirmation: PASSWORD,
    };
    shop_accounts::accounts::customers::register(&app.state, &registration, locale)
        .await
        .expect("register a customer")
        .id
}

/// An administrator's day in one language: first-run setup, the All Customers
/// grid (no match, a match), a customer, Force Sign In through its confirmation
/// page (Cancel, then OK) and through the JavaScript confirm, Reset Password
/// and the customer using the mailed link, Unlock, Password Options, the audit
/// log, the mail queue, sign-out and sign-in.
async fn admin_tour(app: TestApp, b: Browser) {
    let (first, last, email) = match b.locale {
        Locale::En => ("Jane", "Doe", "jane.doe@example.com"),
        Locale::Nl => ("Jan", "de Vries", "jan.devries@example.nl"),
    };
    let id = customer(&app, first, last, email, b.locale).await;
    for (f, l, e) in [
        ("Ada", "Lovelace", "ada@example.com"),
        ("Grace", "Hopper", "grace.hopper@example.org"),
        ("Linus", "Pauling", "linus@example.net"),
    ] {
        customer(&app, f, l, e, b.locale).await;
    }
    let locked = customer(&app, "Lock", "Smith", "lock.smith@example.com", b.locale).await;
    for _ in 0..10 {
        let _ = shop_accounts::accounts::customers::sign_in(
            &app.state,
            "lock.smith@example.com",
            "wrong-password-1",
        )
        .await;
    }

    // The customer is signed in on the storefront and holds an API token.
    let shopper = app.client();
    assert_eq!(
        location(&shopper.sign_in(email, PASSWORD).await),
        "/customer/account"
    );
    let token: String = shopper
        .http
        .post(shopper.url("/rest/V1/integration/customer/token"))
        .json(&json!({ "username": email, "password": PASSWORD }))
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("a token");
    let me = |token: String| {
        let http = shopper.http.clone();
        let url = shopper.url("/rest/V1/customers/me");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("GET me")
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(token.clone()).await, 200);

    // First run: the one-time setup link creates the administrator.
    let setup = shop_accounts::accounts::admins::setup::issue_if_needed(&app.state)
        .await
        .expect("setup token")
        .expect("no administrator yet");
    b.goto(&format!("/admin/setup?token={setup}")).await;
    b.page("admin-01-setup").await;
    b.fill("#name", "Ada Admin").await;
    b.fill("#email", "admin@shop.test").await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.fill("#password_confirmation", ADMIN_PASSWORD).await;
    b.find("form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_path("/admin/customers").await;
    assert_eq!(b.flashes().await, vec![b.t("admin-setup-success")]);
    b.tab_stops().await;
    b.page("admin-02-customers").await;

    b.fill("#q", "nobody-here").await;
    b.click_text(&b.t("admin-grid-search-button")).await;
    b.wait_path_prefix("/admin/customers?q=nobody-here&").await;
    b.page("admin-03-customers-no-match").await;

    // The grid matches the start of a name or address ("de Vries" is not found by "Vries").
    let keyword = first;
    b.fill("#q", keyword).await;
    b.click_text(&b.t("admin-grid-search-button")).await;
    b.wait_path_prefix(&format!("/admin/customers?q={keyword}&"))
        .await;
    b.page("admin-04-customers-search").await;

    let view = format!("/admin/customers/{id}");
    b.find(&format!("table.grid a[href=\"{view}\"]"))
        .await
        .click()
        .await
        .unwrap();
    b.wait_path(&view).await;
    b.tab_stops().await;
    b.page("admin-05-customer").await;

    // Force Sign In through the confirmation page: Cancel changes nothing, OK revokes.
    let confirm = format!("{view}/force-sign-in");
    b.goto(&confirm).await;
    b.wait_path(&confirm).await;
    let question = b.t("admin-force-confirm");
    assert!(
        b.find("main")
            .await
            .text()
            .await
            .unwrap()
            .contains(&question)
    );
    b.page("admin-06-force-sign-in-confirm").await;
    b.click_text(&b.t("admin-cancel")).await;
    b.wait_path(&view).await;
    assert!(b.flashes().await.is_empty());
    assert_eq!(me(token.clone()).await, 200, "Cancel revoked nothing");
    b.goto(&confirm).await;
    b.submit(&confirm, &b.t("admin-ok")).await;
    b.wait_path(&view).await;
    assert_eq!(b.flashes().await, vec![b.t("admin-force-done")]);
    b.page("admin-07-force-sign-in-done").await;
    assert_eq!(me(token).await, 401, "the API token is revoked");
    assert_eq!(
        location(&shopper.get("/customer/account").await),
        "/customer/account/login",
        "the storefront session has ended"
    );

    // The same through the button's JavaScript confirm: dismiss, then accept.
    let button = format!("form[action=\"{confirm}\"] button[type=submit]");
    b.find(&button).await.click().await.unwrap();
    assert_eq!(b.client.get_alert_text().await.unwrap(), question);
    b.client.dismiss_alert().await.unwrap();
    b.check().await;
    assert_eq!(b.path().await, view);
    b.find(&button).await.click().await.unwrap();
    b.client.accept_alert().await.unwrap();
    b.wait_path(&view).await;
    assert_eq!(b.flashes().await, vec![b.t("admin-force-done")]);
    b.check().await;

    // Reset Password: the customer gets the link in their language and uses it.
    b.submit(
        &format!("{view}/reset-password"),
        &b.t("admin-reset-password"),
    )
    .await;
    b.wait_path(&view).await;
    assert_eq!(b.flashes().await, vec![b.t("admin-reset-sent")]);
    b.page("admin-08-reset-password-sent").await;
    let mail = wait_for_mail(&app, email, &b.t("email-reset-subject"), 1).await;
    let link = reset_link(&mail).expect("a reset link");
    b.goto(&link).await;
    b.wait_path("/customer/account/createPassword").await;
    b.check().await;
    b.fill("#password", NEW_PASSWORD).await;
    b.fill("#password_confirmation", NEW_PASSWORD).await;
    b.submit(
        "/customer/account/createPassword",
        &b.t("create-password-button"),
    )
    .await;
    b.wait_path("/customer/account/login").await;
    assert_eq!(b.flashes().await, vec![b.t("password-updated")]);
    b.fill("#email", email).await;
    b.fill("#pass", NEW_PASSWORD).await;
    b.submit("/customer/account/login", &b.t("login-button"))
        .await;
    b.wait_path("/customer/account").await;
    b.check().await;

    // Unlock a locked customer.
    let locked_view = format!("/admin/customers/{locked}");
    b.goto(&locked_view).await;
    b.page("admin-09-customer-locked").await;
    b.submit(&format!("{locked_view}/unlock"), &b.t("admin-unlock"))
        .await;
    b.wait_path(&locked_view).await;
    assert_eq!(b.flashes().await, vec![b.t("admin-unlocked")]);
    assert!(
        !b.exists(&format!("form[action=\"{locked_view}/unlock\"]"))
            .await
    );
    b.check().await;

    b.click_text(&b.t("admin-nav-config")).await;
    b.wait_path("/admin/config/customer").await;
    b.page("admin-10-password-options").await;
    b.click_text(&b.t("admin-nav-audit")).await;
    b.wait_path("/admin/audit").await;
    b.page("admin-11-audit-log").await;
    b.click_text(&b.t("admin-nav-mail")).await;
    b.wait_path("/admin/mail").await;
    b.page("admin-12-mail-queue").await;

    // Sign out, a wrong password, then in again.
    b.click_text(&b.t("nav-sign-out")).await;
    b.wait_path("/admin/login").await;
    b.page("admin-13-login").await;
    b.fill("#email", "admin@shop.test").await;
    b.fill("#pass", "not-the-password").await;
    b.submit("/admin/login", &b.t("admin-login-button")).await;
    b.wait_path("/admin/login").await;
    assert_eq!(b.flashes().await, vec![b.t("login-failed")]);
    b.page("admin-14-login-failed").await;
    b.fill("#email", "admin@shop.test").await;
    b.fill("#pass", ADMIN_PASSWORD).await;
    b.submit("/admin/login", &b.t("admin-login-button")).await;
    b.wait_path("/admin/customers").await;
    b.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn admin_reset_password_and_force_sign_in_in_english() {
    with_browser(
        "admin_reset_password_and_force_sign_in_in_english",
        Locale::En,
        admin_tour,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn admin_reset_password_and_force_sign_in_in_dutch() {
    with_browser(
        "admin_reset_password_and_force_sign_in_in_dutch",
        Locale::Nl,
        admin_tour,
    )
    .await;
}
