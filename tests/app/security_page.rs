//! The shopper's own security (issue 13, SPEC §9): the security page's
//! sessions and API tokens, revoke-customer-token, the new-device notice and
//! its "This wasn't me" link, known devices through a lockout, and the admin's
//! view of the customer's security activity.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_accounts::accounts::admins::{self, Role};

use crate::helpers::*;
use crate::store_test;

const EMAIL: &str = "shopper@example.com";
const PASSWORD: &str = "correct-horse-9";
const NEW_PASSWORD: &str = "fresh-meadow-42";
const ADMIN_EMAIL: &str = "ada@shop.test";
const ADMIN_PASSWORD: &str = "admin-horse-77";
const FAILED: &str = "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.";
const SECURITY: &str = "/customer/account/security";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const NOTICE_SUBJECT: &str = "New sign-in to your account";

/// A browser with its own cookies, IP and User-Agent.
fn browser(app: &TestApp, ip: &str, user_agent: &str) -> Client {
    app.browser_from(ip, Some(user_agent))
}

async fn signed_in(client: &Client) -> bool {
    let response = client.get("/customer/account").await;
    response.status() == StatusCode::OK
}

async fn sign_in_ok(client: &Client) {
    let response = client.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(location(&response), "/customer/account", "sign-in works");
}

/// The row ids behind the page's Sign Out / Revoke buttons, in page order.
fn row_ids(page: &str, action: &str) -> Vec<String> {
    page.split(&format!("action=\"{action}\""))
        .skip(1)
        .filter_map(|form| {
            let start = form.find("name=\"id\" value=\"")? + "name=\"id\" value=\"".len();
            Some(form[start..].split('"').next()?.to_string())
        })
        .collect()
}

async fn api_token(client: &Client) -> String {
    let response = client
        .http
        .post(client.url("/rest/V1/integration/customer/token"))
        .json(&json!({"username": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<String>().await.unwrap()
}

async fn me_status(client: &Client, token: &str) -> u16 {
    client
        .http
        .get(client.url("/rest/V1/customers/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn mail_kinds(rows: &[shop_accounts::store::CustomerMailRow]) -> Vec<String> {
    rows.iter().map(|m| m.kind.clone()).collect()
}

async fn kinds_of_mail(app: &TestApp) -> Vec<String> {
    mail_kinds(&app.db().customer_mail(EMAIL, 100, 0).await.unwrap())
}

/// The "This wasn't me" link of the newest notice mail.
async fn not_me_link(app: &TestApp, count: usize) -> String {
    let mails = app.smtp.wait_for(count).await;
    let notice = mails
        .iter()
        .rev()
        .find(|m| decode_encoded_words(&m.subject()).contains(NOTICE_SUBJECT))
        .expect("a new-device notice");
    let text = decode_mime(&notice.data);
    let start = text.find("/customer/account/notme?token=").expect("a link");
    let link: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/?=_-".contains(*c))
        .collect();
    assert!(
        link.len() > "/customer/account/notme?token=".len() + 40,
        "{link}"
    );
    link
}

store_test!(
    sessions_are_listed_and_ended_one_or_all_others,
    |app: TestApp| async move {
        let own = app.register(EMAIL, PASSWORD).await;
        sign_in_ok(&own).await;
        let firefox = browser(&app, "198.51.100.7", FIREFOX);
        sign_in_ok(&firefox).await;
        let third = app.client_from("203.0.113.5");
        sign_in_ok(&third).await;

        let page = own.get_text(SECURITY).await;
        assert!(page.contains("This browser"), "{page}");
        assert!(
            page.contains("Firefox on Windows 10"),
            "browser and system: {page}"
        );
        assert!(page.contains("198.51.100.7") && page.contains("203.0.113.5"));
        let others = row_ids(&page, "/customer/account/security/sign-out");
        assert_eq!(others.len(), 2, "a Sign Out for each other session");
        assert!(page.contains("Sign Out Everywhere Else"));

        // Sign Out one (the Firefox one is listed first: newest activity first).
        let firefox_row = {
            let at = page.find("Firefox on Windows 10").unwrap();
            row_ids(&page[at..], "/customer/account/security/sign-out")[0].clone()
        };
        let out = own
            .post_form(
                "/customer/account/security/sign-out",
                &[("id", &firefox_row)],
            )
            .await;
        assert_eq!(location(&out), SECURITY);
        let flash = flashes(&own.follow(&out).await);
        assert!(flash.iter().any(|f| f.contains("signed out")), "{flash:?}");
        assert!(
            !signed_in(&firefox).await,
            "the ended session is out on its next request"
        );
        assert!(signed_in(&third).await && signed_in(&own).await);

        // Someone else's row id, or garbage, changes nothing and is no error.
        for id in ["999999", "x", ""] {
            let r = own
                .post_form("/customer/account/security/sign-out", &[("id", id)])
                .await;
            assert_eq!(location(&r), SECURITY, "{id:?}");
            own.follow(&r).await;
        }
        assert!(signed_in(&third).await);

        // A second instance sees the same list and honours an end from the first.
        let second = app.second_instance().await;
        let page = own.get_text(SECURITY).await;
        assert_eq!(
            row_ids(&page, "/customer/account/security/sign-out").len(),
            1
        );
        let all = own
            .post_form("/customer/account/security/sign-out-others", &[])
            .await;
        assert_eq!(location(&all), SECURITY);
        own.follow(&all).await;
        let third_on_second = third.on(&second);
        assert!(
            !signed_in(&third_on_second).await,
            "ended on every instance"
        );
        assert!(signed_in(&own).await, "this session stays");
        let page = own.get_text(SECURITY).await;
        assert!(row_ids(&page, "/customer/account/security/sign-out").is_empty());

        // Without a form key: 403, nothing changes.
        let bare = own
            .post_raw("/customer/account/security/sign-out-others", &[])
            .await;
        assert_eq!(bare.status(), 403);
    }
);

store_test!(
    last_active_is_written_at_most_once_a_minute,
    |app: TestApp| async move {
        let own = app.register(EMAIL, PASSWORD).await;
        sign_in_ok(&own).await;
        let id = app
            .db()
            .customer_by_email_key(EMAIL)
            .await
            .unwrap()
            .unwrap()
            .id;
        let seen = || async { app.db().customer_sessions(id, 0, 0).await.unwrap()[0].last_seen_at };
        let first = seen().await;
        app.advance_clock(30);
        assert!(signed_in(&own).await);
        assert_eq!(seen().await, first, "not written within the minute");
        app.advance_clock(31);
        assert!(signed_in(&own).await);
        assert!(
            seen().await >= first + 61,
            "written once the minute is over"
        );
    }
);

store_test!(
    api_tokens_are_listed_and_revoked_on_the_page_and_over_rest,
    |app: TestApp| async move {
        let own = app.register(EMAIL, PASSWORD).await;
        sign_in_ok(&own).await;
        let page = own.get_text(SECURITY).await;
        assert!(page.contains("No app has access to your account."));

        let first = api_token(&own).await;
        let second = api_token(&own).await;
        assert_eq!(me_status(&own, &first).await, 200);
        let page = own.get_text(SECURITY).await;
        let rows = row_ids(&page, "/customer/account/security/revoke-token");
        assert_eq!(rows.len(), 2);
        assert!(
            !page.contains(&first) && !page.contains(&second),
            "never a token value"
        );
        assert!(page.contains("Last used") && page.contains("Expires"));

        // Newest first: the first row is the second token.
        let r = own
            .post_form(
                "/customer/account/security/revoke-token",
                &[("id", &rows[0])],
            )
            .await;
        assert_eq!(location(&r), SECURITY);
        own.follow(&r).await;
        assert_eq!(me_status(&own, &second).await, 401, "revoked");
        assert_eq!(me_status(&own, &first).await, 200, "the other still works");

        // Magento's revoke-customer-token: every token of the customer ends.
        let third = api_token(&own).await;
        let response = own
            .http
            .post(own.url("/rest/V1/integration/customer/revoke-customer-token"))
            .bearer_auth(&first)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), json!(true));
        assert_eq!(me_status(&own, &first).await, 401);
        assert_eq!(me_status(&own, &third).await, 401);
        let unauthorized = own
            .http
            .post(own.url("/rest/V1/integration/customer/revoke-customer-token"))
            .bearer_auth(&first)
            .send()
            .await
            .unwrap();
        assert_eq!(unauthorized.status(), 401, "a dead token revokes nothing");
        let page = own.get_text(SECURITY).await;
        assert!(row_ids(&page, "/customer/account/security/revoke-token").is_empty());
        assert!(
            signed_in(&own).await,
            "the browser session is not an API token"
        );
    }
);

store_test!(
    a_new_browser_gets_a_notice_whose_link_ends_everything_once,
    |app: TestApp| async move {
        let own = app.register(EMAIL, PASSWORD).await;
        sign_in_ok(&own).await; // the registering browser is known: no notice
        let token = api_token(&own).await;
        let intruder = browser(&app, "198.51.100.66", FIREFOX);
        sign_in_ok(&intruder).await;
        let kinds = kinds_of_mail(&app).await;
        assert_eq!(
            kinds,
            vec!["new_device".to_string()],
            "one notice, for the new browser only"
        );

        let link = not_me_link(&app, 1).await;
        let mail = decode_mime(&app.smtp.received()[0].data);
        assert!(
            mail.contains("198.51.100.66") && mail.contains("Firefox"),
            "{mail}"
        );

        // Opening it (a mail scanner, or the customer) changes nothing.
        let reader = app.client();
        let opened = reader.get(&link).await;
        assert_eq!(opened.status(), 303);
        assert_eq!(
            location(&opened),
            "/customer/account/notme",
            "token leaves the URL"
        );
        assert_eq!(opened.headers()["referrer-policy"], "no-referrer");
        let confirm = reader.get_text("/customer/account/notme").await;
        assert!(confirm.contains("Secure My Account"), "{confirm}");
        assert!(signed_in(&own).await && signed_in(&intruder).await);
        assert_eq!(me_status(&own, &token).await, 200);

        // Confirming ends every session and token and leads to a new password.
        let done = reader.post_form("/customer/account/notme", &[]).await;
        assert_eq!(location(&done), "/customer/account/createPassword");
        assert!(!signed_in(&own).await && !signed_in(&intruder).await);
        assert_eq!(me_status(&own, &token).await, 401);
        let form = reader.get_text("/customer/account/createPassword").await;
        assert!(form.contains("name=\"password_confirmation\""), "{form}");
        let set = reader
            .post_form(
                "/customer/account/createPassword",
                &[
                    ("password", NEW_PASSWORD),
                    ("password_confirmation", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&set), "/customer/account/login");
        let r = own.sign_in(EMAIL, NEW_PASSWORD).await;
        assert_eq!(location(&r), "/customer/account");

        // The link works once.
        let again = app.client();
        let r = again.get(&link).await;
        assert_eq!(location(&r), "/customer/account/login");
        let page = again.follow(&r).await;
        assert!(page.contains("This link has expired or has already been used."));
        // And POST without having opened a live link does nothing.
        let r = again.post_form("/customer/account/notme", &[]).await;
        assert_eq!(location(&r), "/customer/account/login");
    }
);

store_test!(
    the_not_me_link_dies_after_24_hours,
    |app: TestApp| async move {
        let _own = app.register(EMAIL, PASSWORD).await;
        let other = app.client();
        sign_in_ok(&other).await;
        let link = not_me_link(&app, 1).await;
        app.advance_clock(24 * 3600 + 1);
        let r = app.client().get(&link).await;
        assert_eq!(location(&r), "/customer/account/login");
    }
);

store_test!(
    no_notice_when_the_setting_is_off,
    |app: TestApp| async move {
        app.set_option("new_device_email", "0").await;
        let _own = app.register(EMAIL, PASSWORD).await;
        let other = app.client();
        sign_in_ok(&other).await;
        assert!(kinds_of_mail(&app).await.is_empty(), "no notice queued");
        app.set_option("new_device_email", "1").await;
        let third = app.client();
        sign_in_ok(&third).await;
        assert_eq!(kinds_of_mail(&app).await, vec!["new_device".to_string()]);
    }
);

store_test!(
    a_known_browser_signs_in_through_a_lockout_from_elsewhere,
    |app: TestApp| async move {
        let own = app.register(EMAIL, PASSWORD).await; // keeps the device cookie
        let attacker = app.client_from("203.0.113.99");
        for _ in 0..10 {
            attacker.sign_in(EMAIL, "wrong-guess-1").await;
        }
        let customer = app
            .db()
            .customer_by_email_key(EMAIL)
            .await
            .unwrap()
            .unwrap();
        assert!(
            customer.locked_until.is_some(),
            "the guesses locked the account"
        );

        // An unknown browser with the right password sees §2's lockout.
        let r = attacker.sign_in(EMAIL, PASSWORD).await;
        assert_eq!(location(&r), "/customer/account/login");
        assert!(flashes(&attacker.follow(&r).await).contains(&FAILED.to_string()));
        let fresh = app.client();
        let r = fresh.sign_in(EMAIL, PASSWORD).await;
        assert_eq!(location(&r), "/customer/account/login");

        // The owner's own browser gets in; a wrong password from it still counts.
        let before = app
            .db()
            .customer_by_email_key(EMAIL)
            .await
            .unwrap()
            .unwrap();
        let r = own.sign_in(EMAIL, "own-typo-1").await;
        assert_eq!(location(&r), "/customer/account/login");
        let after = app
            .db()
            .customer_by_email_key(EMAIL)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.failed_sign_ins, before.failed_sign_ins + 1);
        sign_in_ok(&own).await;
        let still = app
            .db()
            .customer_by_email_key(EMAIL)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            still.locked_until, customer.locked_until,
            "the lock stays for others"
        );

        // A forged device cookie is an unknown browser.
        let id = customer.id;
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(
            &format!("device_{id}={id}.AAAA.BBBB; Path=/"),
            &app.address.parse().unwrap(),
        );
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.100".parse().unwrap());
        let http = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        let page = http
            .get(format!("{}/customer/account/login", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let key = extract_form_key(&page).unwrap();
        let r = http
            .post(format!("{}/customer/account/login", app.address))
            .form(&[("email", EMAIL), ("password", PASSWORD), ("form_key", &key)])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&r), "/customer/account/login");
    }
);

store_test!(
    the_admin_sees_the_security_activity_never_a_token_or_link,
    |app: TestApp| async move {
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
        let own = app.register(EMAIL, PASSWORD).await;
        let stranger = app.client_from("203.0.113.42");
        stranger.sign_in(EMAIL, "wrong-guess-1").await;
        let other = browser(&app, "198.51.100.7", FIREFOX);
        sign_in_ok(&other).await;
        let token = api_token(&own).await;
        own.request_reset(EMAIL).await;
        let mails = app.smtp.wait_for(2).await;
        let reset = mails.iter().find_map(reset_link).expect("a reset link");
        let opened = app.client();
        opened.get(&path_of(&reset)).await;
        let not_me = not_me_link(&app, 2).await;

        let admin = app.client();
        let r = admin
            .post_form(
                "/admin/login",
                &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            )
            .await;
        assert_eq!(location(&r), "/admin/customers");
        let id = app
            .db()
            .customer_by_email_key(EMAIL)
            .await
            .unwrap()
            .unwrap()
            .id;
        let r = admin
            .post_form(&format!("/admin/customers/{id}/force-sign-in"), &[])
            .await;
        assert_eq!(r.status(), 303);
        let page = admin.get_text(&format!("/admin/customers/{id}")).await;
        for line in [
            "Security Activity",
            "Failed sign-in",
            "203.0.113.42",
            "Sign-in from a new browser",
            "Firefox / Windows 10",
            "API token issued",
            "Password reset requested",
            "Reset link opened",
            "Force Sign In",
            "Email: reset link",
            "Email: new sign-in notice",
            "Storefront",
            "Sent",
        ] {
            assert!(page.contains(line), "{line} missing");
        }
        let reset_token = token_of(&reset);
        let not_me_token = not_me.split("token=").nth(1).unwrap();
        for secret in [
            token.as_str(),
            reset_token.as_str(),
            not_me_token,
            "token=",
            "notme",
        ] {
            assert!(!page.contains(secret), "the timeline shows {secret}");
        }
        // Force Sign In comes before (newer than) the reset request.
        assert!(
            page.find("Force Sign In").unwrap() < page.find("Password reset requested").unwrap()
        );

        // Paged: 20 a page, "Older" to the rest.
        for _ in 0..25 {
            stranger.sign_in(EMAIL, "wrong-guess-2").await;
        }
        let page = admin.get_text(&format!("/admin/customers/{id}")).await;
        assert!(page.contains(&format!("/admin/customers/{id}?activity=2")));
        let older = admin
            .get_text(&format!("/admin/customers/{id}?activity=2"))
            .await;
        assert!(older.contains("Newer"));
        let odd = admin
            .get(&format!("/admin/customers/{id}?activity=zzz"))
            .await;
        assert_eq!(odd.status(), 200, "a bad page number is the first page");
    }
);

store_test!(
    a_known_browser_that_locked_the_account_itself_is_refused,
    |app: TestApp| async move {
        let own = app.register(EMAIL, PASSWORD).await;
        for _ in 0..10 {
            own.sign_in(EMAIL, "own-guess-1").await;
        }
        let customer = app
            .db()
            .customer_by_email_key(EMAIL)
            .await
            .unwrap()
            .unwrap();
        assert!(
            customer.locked_until.is_some(),
            "its own guesses locked the account"
        );
        let r = own.sign_in(EMAIL, PASSWORD).await;
        assert_eq!(
            location(&r),
            "/customer/account/login",
            "not a lock from elsewhere"
        );
        app.advance_clock(10 * 60 + 1);
        sign_in_ok(&own).await;
    }
);
