//! The shopper's tours: the whole storefront password recovery in English and
//! in Dutch, the language switch, and keyboard-only use.

use fantoccini::key::Key;
use shop_accounts::i18n::Locale;

use super::harness::{Browser, wait_for_mail, with_browser};
use super::{NEW_PASSWORD, PASSWORD};
use crate::helpers::*;

/// A shopper's whole storefront life in one language: register (with a
/// mistake first), My Account, sign out, a failed sign-in, Forgot Your
/// Password?, the mail, the link, a new password, sign in with it, and the used
/// link again. Every page is checked; the named ones are photographed.
async fn storefront_tour(app: TestApp, b: Browser) {
    let (first, last, email) = match b.locale {
        Locale::En => ("Jane", "Doe", "jane.doe@example.com"),
        Locale::Nl => ("Jan", "de Vries", "jan.devries@example.nl"),
    };

    b.goto("/").await;
    b.page("store-01-home").await;

    b.click_text(&b.t("nav-create-account")).await;
    b.wait_path("/customer/account/create").await;
    b.page("store-02-register").await;

    // A first try with a mistake: no first name, and passwords that differ.
    b.fill("#lastname", last).await;
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.fill("#password_confirmation", "Tulip-garden-24").await;
    b.submit("/customer/account/create", &b.t("register-button"))
        .await;
    b.wait_path("/customer/account/create").await;
    let flashes = b.flashes().await;
    let required = b.t("error-required-field");
    assert!(
        flashes.contains(&format!("{}: {required}", b.t("field-firstname"))),
        "{flashes:?}"
    );
    assert!(flashes.contains(&b.t("password-mismatch")), "{flashes:?}");
    b.assert_field_error("#firstname", &required).await;
    b.assert_field_error("#password_confirmation", &b.t("password-mismatch"))
        .await;
    assert_eq!(
        b.attr("#email", "value").await.as_deref(),
        Some(email),
        "the form keeps what was typed"
    );
    let (focused, _) = b.focused().await;
    assert_eq!(
        focused, "#firstname",
        "the first field with an error has focus"
    );
    b.page("store-03-register-errors").await;

    b.fill("#firstname", first).await;
    b.fill("#password", PASSWORD).await;
    b.fill("#password_confirmation", PASSWORD).await;
    b.submit("/customer/account/create", &b.t("register-button"))
        .await;
    b.wait_path("/customer/account").await;
    assert_eq!(b.flashes().await, vec![b.t("register-success")]);
    b.page("store-04-account").await;

    b.click_text(&b.t("account-change-password")).await;
    b.wait_path("/customer/account/edit").await;
    b.page("store-05-change-password").await;
    b.fill("#current_password", "not-my-password").await;
    b.fill("#password", NEW_PASSWORD).await;
    b.fill("#password_confirmation", NEW_PASSWORD).await;
    b.submit("/customer/account/edit", &b.t("edit-button"))
        .await;
    b.wait_path("/customer/account/edit").await;
    b.assert_field_error("#current_password", &b.t("edit-wrong-current"))
        .await;
    let stops = b.tab_stops().await;
    assert!(stops.iter().any(|s| s == "#password-reveal"), "{stops:?}");
    b.page("store-05-change-password-wrong-current").await;

    b.click_text(&b.t("nav-sign-out")).await;
    b.wait_path("/").await;
    assert_eq!(b.flashes().await, vec![b.t("logout-success")]);
    b.page("store-06-signed-out").await;

    b.click_text(&b.t("nav-sign-in")).await;
    b.wait_path("/customer/account/login").await;
    b.page("store-07-login").await;

    b.fill("#email", email).await;
    b.fill("#pass", "not-my-password").await;
    b.submit("/customer/account/login", &b.t("login-button"))
        .await;
    b.wait_path("/customer/account/login").await;
    assert_eq!(b.flashes().await, vec![b.t("login-failed")]);
    b.page("store-08-login-failed").await;

    b.click_text(&b.t("login-forgot-link")).await;
    b.wait_path("/customer/account/forgotpassword").await;
    b.page("store-09-forgot-password").await;

    b.fill("#email_address", "jane.doe.example.com").await;
    b.submit("/customer/account/forgotpassword", &b.t("forgot-button"))
        .await;
    b.wait_path("/customer/account/forgotpassword").await;
    b.assert_field_error("#email_address", &b.t("error-email-invalid"))
        .await;
    b.page("store-10-forgot-password-invalid").await;

    b.fill("#email_address", email).await;
    b.submit("/customer/account/forgotpassword", &b.t("forgot-button"))
        .await;
    b.wait_path("/customer/account/login").await;
    let sent = b.locale.t_with("forgot-sent", &[("email", email)]);
    assert_eq!(b.flashes().await, vec![sent]);
    b.page("store-11-reset-link-sent").await;

    // The mail at the SMTP server, in the shopper's language.
    let mail = wait_for_mail(&app, email, &b.t("email-reset-subject"), 1).await;
    let text = mail.text();
    assert!(text.contains(&b.t("email-reset-intro")), "{text}");
    assert!(
        text.contains(
            &b.locale
                .t_with("email-greeting", &[("name", &format!("{first} {last}"))])
        )
    );
    let link = reset_link(&mail).expect("a reset link in the mail");
    assert!(
        link.starts_with(&app.address),
        "{link} is built from BASE_URL"
    );
    b.show_mail(&mail, "mail-1-reset-link").await;

    b.goto(&link).await;
    b.wait_path("/customer/account/createPassword").await;
    b.page("store-12-set-new-password").await;

    b.fill("#password", "abc").await;
    b.fill("#password_confirmation", "abd").await;
    b.submit(
        "/customer/account/createPassword",
        &b.t("create-password-button"),
    )
    .await;
    b.wait_path("/customer/account/createPassword").await;
    let too_short = b.locale.t_with("password-too-short", &[("min", "6")]);
    // Waits for the answer: the form posts back to its own path.
    b.assert_field_error("#password", &too_short).await;
    assert!(b.flashes().await.contains(&too_short));
    b.assert_field_error("#password_confirmation", &b.t("password-mismatch"))
        .await;
    b.page("store-13-set-new-password-errors").await;

    b.fill("#password", NEW_PASSWORD).await;
    b.fill("#password_confirmation", NEW_PASSWORD).await;
    b.submit(
        "/customer/account/createPassword",
        &b.t("create-password-button"),
    )
    .await;
    b.wait_path("/customer/account/login").await;
    assert_eq!(b.flashes().await, vec![b.t("password-updated")]);
    b.page("store-14-password-updated").await;

    // The old password no longer works; the new one does.
    b.fill("#email", email).await;
    b.fill("#pass", PASSWORD).await;
    b.submit("/customer/account/login", &b.t("login-button"))
        .await;
    b.wait_path("/customer/account/login").await;
    assert_eq!(b.flashes().await, vec![b.t("login-failed")]);
    b.check().await;
    b.fill("#email", email).await;
    b.fill("#pass", NEW_PASSWORD).await;
    b.submit("/customer/account/login", &b.t("login-button"))
        .await;
    b.wait_path("/customer/account").await;
    b.check().await;
    let changed = wait_for_mail(&app, email, &b.t("email-changed-subject"), 1).await;
    assert!(changed.text().contains(&b.t("email-changed-intro")));
    assert!(reset_link(&changed).is_none(), "the notice holds no link");
    b.show_mail(&changed, "mail-2-password-changed").await;
    b.goto("/customer/account").await;

    // The used link again, signed out: expired.
    b.click_text(&b.t("nav-sign-out")).await;
    b.wait_path("/").await;
    b.goto(&link).await;
    b.wait_path("/customer/account/forgotpassword").await;
    assert_eq!(b.flashes().await, vec![b.t("reset-link-expired")]);
    b.page("store-15-reset-link-expired").await;

    b.goto("/customer/account/no-such-page").await;
    b.wait_path("/customer/account/no-such-page").await;
    b.page_allowing("store-16-not-found", &["404"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn storefront_password_recovery_in_english() {
    with_browser(
        "storefront_password_recovery_in_english",
        Locale::En,
        storefront_tour,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn storefront_password_recovery_in_dutch() {
    with_browser(
        "storefront_password_recovery_in_dutch",
        Locale::Nl,
        storefront_tour,
    )
    .await;
}

/// The language follows the browser, then the footer switch, which sticks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn language_follows_the_browser_then_the_footer_switch() {
    with_browser(
        "language_follows_the_browser_then_the_footer_switch",
        Locale::En,
        |app, b| async move {
            let _serving = app;
            b.goto("/customer/account/login").await;
            b.check().await;
            assert_eq!(b.attr("html", "lang").await.as_deref(), Some("en"));
            b.click_text("Nederlands").await;
            b.wait_path("/customer/account/login").await;
            let dutch = Browser {
                locale: Locale::Nl,
                ..b.clone()
            };
            dutch.check().await;
            assert_eq!(
                b.find("h1").await.text().await.unwrap(),
                Locale::Nl.t("login-title")
            );
            dutch.goto("/customer/account/forgotpassword").await;
            dutch.check().await;
            dutch.click_text("English").await;
            dutch.wait_path("/customer/account/forgotpassword").await;
            b.check().await;
            assert_eq!(
                b.find("h1").await.text().await.unwrap(),
                Locale::En.t("forgot-title")
            );
        },
    )
    .await;
}

/// Keyboard only: every control on the sign-in page takes focus in order with
/// a visible focus ring, the skip link works, and a shopper signs in without a
/// mouse. On the register page the strength meter and show/hide work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn keyboard_only_sign_in_with_visible_focus() {
    with_browser(
        "keyboard_only_sign_in_with_visible_focus",
        Locale::En,
        |app, b| async move {
            app.register("keys@example.com", PASSWORD).await;
            b.goto("/customer/account/login").await;
            b.check().await;

            // The first Tab shows the skip link; Enter moves to the content.
            b.press(&[Key::Tab]).await;
            let (first, visible) = b.focused().await;
            assert!(
                first.contains(&b.t("nav-skip")),
                "first stop is the skip link: {first}"
            );
            assert!(visible, "the skip link is visible when focused");

            // Every stop on the page shows where the focus is.
            let stops = b.tab_stops().await;
            for expected in ["#email", "#pass", "#pass-reveal"] {
                assert!(
                    stops.iter().any(|s| s == expected),
                    "{expected} is reachable by Tab: {stops:?}"
                );
            }
            let email_at = stops.iter().position(|s| s == "#email").unwrap();
            let pass_at = stops.iter().position(|s| s == "#pass").unwrap();
            assert!(email_at < pass_at, "email before password: {stops:?}");

            // Sign in with the keyboard alone.
            b.goto("/customer/account/login").await;
            b.press(&[Key::Tab, Key::Enter]).await;
            let mut guard = 0;
            loop {
                b.press(&[Key::Tab]).await;
                if b.focused().await.0 == "#email" {
                    break;
                }
                guard += 1;
                assert!(guard < 40, "Tab never reached #email");
            }
            b.type_text("keys@example.com").await;
            b.press(&[Key::Tab]).await;
            assert_eq!(b.focused().await.0, "#pass");
            b.type_text(PASSWORD).await;
            b.press(&[Key::Enter]).await;
            b.wait_path("/customer/account").await;
            b.check().await;
            b.click_text(&b.t("nav-sign-out")).await;
            b.wait_path("/").await;

            // Strength meter and show/hide on the register page.
            b.goto("/customer/account/create").await;
            let meter = "#password-meter";
            assert_eq!(b.attr(meter, "hidden").await, None, "the meter shows");
            b.fill("#password", "abc").await;
            let weak = b.find(meter).await.text().await.unwrap();
            assert!(weak.contains(&b.t("password-strength-weak")), "{weak}");
            b.fill("#password", "Correct-Horse-Battery-9").await;
            let strong = b.find(meter).await.text().await.unwrap();
            assert!(
                strong.contains(&b.t("password-strength-very-strong")),
                "{strong}"
            );
            assert_eq!(
                b.attr("#password", "type").await.as_deref(),
                Some("password")
            );
            b.find("#password-reveal").await.click().await.unwrap();
            assert_eq!(b.attr("#password", "type").await.as_deref(), Some("text"));
            b.find("#password-reveal").await.click().await.unwrap();
            assert_eq!(
                b.attr("#password", "type").await.as_deref(),
                Some("password")
            );
            b.check().await;
        },
    )
    .await;
}
