//! The All Customers grid's filters and export link in a real browser (issue
//! 10, gridperf): on a desktop and a phone width (every `page` call audits and
//! photographs both), in English and in Dutch. The filters are plain form
//! controls (no JavaScript needed); the chosen ones stay in every link, a value
//! the grid does not understand is a notice, and the export link carries the
//! view's filters and answers a CSV with a BOM.

use serde_json::json;
use shop_accounts::i18n::Locale;

use super::PASSWORD;
use super::harness::{Browser, with_browser};
use crate::helpers::*;

const ADMIN_PASSWORD: &str = "Admin-gridwalker-58";

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

/// The emails in the grid's rows, in order.
async fn grid_emails(b: &Browser) -> Vec<String> {
    let value = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('table.grid tbody tr'))\
             .map(tr => tr.querySelectorAll('td')[3].textContent.trim());",
            vec![],
        )
        .await
        .expect("grid rows");
    serde_json::from_value(value).expect("a list of emails")
}

/// Waits until the grid's query holds `pair` (the form sends its empty
/// choices too, so the pair's place in the query varies).
async fn wait_query(b: &Browser, pair: &str) {
    for _ in 0..400 {
        let path = b.path().await;
        if path.starts_with("/admin/customers?") && path.split(['?', '&']).any(|p| p == pair) {
            b.wait_path(&path).await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the grid never showed {pair}: {}", b.path().await);
}

async fn grid_tour(app: TestApp, b: Browser) {
    for (f, l, e) in [
        ("Jan", "de Vries", "jan.devries@example.com"),
        ("Ada", "Lovelace", "ada@gmail.com"),
        ("Grace", "Hopper", "grace.hopper@example.org"),
        ("Emma", "Jansen", "emma.jansen@gmail.com"),
    ] {
        customer(&app, f, l, e, b.locale).await;
    }
    // Grace is locked out; Ada holds a live API token.
    for _ in 0..10 {
        let _ = shop_accounts::accounts::customers::sign_in(
            &app.state,
            "grace.hopper@example.org",
            "wrong-password-1",
            &shop_accounts::accounts::customers::SignInFrom {
                ip: [127, 0, 0, 1].into(),
                device_cookie: &|_| None,
            },
        )
        .await;
    }
    let shopper = app.client();
    let status = shopper
        .http
        .post(shopper.url("/rest/V1/integration/customer/token"))
        .json(&json!({ "username": "ada@gmail.com", "password": PASSWORD }))
        .send()
        .await
        .expect("token request")
        .status();
    assert_eq!(status, 200, "Ada gets a token");

    let setup = shop_accounts::accounts::admins::setup::issue_if_needed(&app.state)
        .await
        .expect("setup token")
        .expect("no administrator yet");
    b.goto(&format!("/admin/setup?token={setup}")).await;
    b.fill("#name", "Grid Admin").await;
    b.fill("#email", "grid-admin@shop.test").await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.fill("#password_confirmation", ADMIN_PASSWORD).await;
    b.find("form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_path("/admin/customers").await;
    b.page("grid-01-all-customers").await;
    assert_eq!(grid_emails(&b).await.len(), 4);

    // A word from inside an email: "gmail" finds both Gmail addresses.
    b.fill("#q", "gmail").await;
    b.click_text(&b.t("admin-grid-search-button")).await;
    b.wait_path_prefix("/admin/customers?q=gmail&").await;
    let mut found = grid_emails(&b).await;
    found.sort();
    assert_eq!(found, ["ada@gmail.com", "emma.jansen@gmail.com"]);

    // Active API tokens = yes, with the keyword: only Ada.
    b.find("#has_tokens")
        .await
        .select_by_value("yes")
        .await
        .expect("choose has_tokens");
    b.click_text(&b.t("admin-grid-search-button")).await;
    wait_query(&b, "has_tokens=yes").await;
    assert_eq!(grid_emails(&b).await, ["ada@gmail.com"]);
    b.page("grid-02-keyword-and-tokens").await;

    // The export link carries the view's filters and answers a CSV with a BOM.
    let href = b
        .attr("a.grid-export", "href")
        .await
        .expect("an export link");
    assert!(
        href.starts_with("/admin/customers/export.csv?q=gmail&has_tokens=yes&"),
        "export link {href}"
    );
    let csv = b
        .client
        .execute(
            "return fetch(arguments[0]).then(r => r.arrayBuffer().then(b => r.status + '\\n' \
             + Array.from(new Uint8Array(b).slice(0, 3)).join(',') + '\\n' + new TextDecoder().decode(b)));",
            vec![json!(href)],
        )
        .await
        .expect("fetch the export");
    let csv = csv.as_str().expect("text").to_string();
    let mut parts = csv.splitn(3, '\n');
    let (status, first_bytes, body) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap_or(""),
    );
    assert_eq!(status, "200");
    // (The browser's decoder drops the BOM from the text; the bytes keep it.)
    assert_eq!(first_bytes, "239,187,191", "a UTF-8 BOM first");
    assert_eq!(body.matches("@").count(), 1, "one customer: {body}");
    assert!(body.contains("ada@gmail.com"));

    // Clear all, then Locked = yes alone: only Grace; sorting keeps the filter.
    b.click_text(&b.t("admin-grid-clear")).await;
    b.wait_path_prefix("/admin/customers?sort=").await;
    b.find("#locked")
        .await
        .select_by_value("yes")
        .await
        .expect("choose locked");
    b.click_text(&b.t("admin-grid-search-button")).await;
    wait_query(&b, "locked=yes").await;
    assert_eq!(grid_emails(&b).await, ["grace.hopper@example.org"]);
    let header = b.attr("table.grid thead th:nth-child(3) a", "href").await;
    assert!(
        header.is_some_and(|h| h.contains("locked=yes")),
        "a sort link keeps the filter"
    );
    b.page("grid-03-locked").await;

    // Dates, and a value the grid does not understand: a notice, not an error.
    b.goto("/admin/customers?created_from=2000-01-01&created_to=2999-12-31&signed_in=sometimes")
        .await;
    b.wait_path_prefix("/admin/customers?created_from=").await;
    assert!(b.exists("p.notice").await, "a notice for signed_in");
    assert_eq!(grid_emails(&b).await.len(), 4);
    assert_eq!(
        b.attr("#created_from", "value").await.as_deref(),
        Some("2000-01-01")
    );
    b.page("grid-04-dates-and-notice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn grid_filters_and_export_in_english() {
    with_browser("grid_filters_and_export_in_english", Locale::En, grid_tour).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn grid_filters_and_export_in_dutch() {
    with_browser("grid_filters_and_export_in_dutch", Locale::Nl, grid_tour).await;
}
