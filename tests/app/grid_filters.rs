//! The All Customers grid of SPEC §7 through the real server, on both stores:
//! word search, each filter alone and combined (kept in every link), bad values
//! (a notice, never an error page), the live token count in sort and display,
//! bounded counts with digit grouping in English and Dutch, and the CSV export
//! (contents, order, escaping, BOM, Support 403, audit).

use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::secrets::{random_token, token_hash};
use shop_accounts::store::{AuditRow, DemoCustomer, NewCustomer};

use crate::helpers::*;
use crate::store_test;

const ADMIN_EMAIL: &str = "ada@shop.test";
const SUPPORT_EMAIL: &str = "sam@shop.test";
const ADMIN_PASSWORD: &str = "admin-horse-77";
const DAY: i64 = 24 * 3600;

async fn admin(app: &TestApp, email: &str, role: Role) -> Client {
    admins::create(&app.state, email, "Ada Admin", role, ADMIN_PASSWORD, None)
        .await
        .expect("create administrator");
    let client = app.client();
    let response = client
        .post_form(
            "/admin/login",
            &[("email", email), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/admin/customers", "{email} signs in");
    client
}

/// Unix seconds of a UTC date `YYYY-MM-DD` at `hour`.
fn at(date: &str, hour: i64) -> i64 {
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let date = time::Date::from_calendar_date(
        d[0] as i32,
        time::Month::try_from(d[1] as u8).unwrap(),
        d[2] as u8,
    )
    .unwrap();
    date.midnight().assume_utc().unix_timestamp() + hour * 3600
}

struct Shopper {
    first: &'static str,
    last: &'static str,
    email: &'static str,
    created: &'static str,
    signed_in: Option<&'static str>,
    locked: bool,
    live_tokens: usize,
    expired_tokens: usize,
}

const SHOPPERS: [Shopper; 5] = [
    Shopper {
        first: "Ann",
        last: "Locke",
        email: "ann.locke@example.com",
        created: "2024-03-01",
        signed_in: Some("2025-01-10"),
        locked: true,
        live_tokens: 0,
        expired_tokens: 0,
    },
    Shopper {
        first: "Bob",
        last: "Token",
        email: "bob@tokens.example.org",
        created: "2024-06-15",
        signed_in: None,
        locked: false,
        live_tokens: 1,
        expired_tokens: 0,
    },
    Shopper {
        first: "Cat",
        last: "Expired",
        email: "cat_old+shop@example.net",
        created: "2023-01-01",
        signed_in: Some("2025-06-05"),
        locked: false,
        live_tokens: 0,
        expired_tokens: 3,
    },
    Shopper {
        first: "Jan",
        last: "de Vries",
        email: "jan.devries@example.com",
        created: "2025-02-01",
        signed_in: Some("2025-06-30"),
        locked: true,
        live_tokens: 2,
        expired_tokens: 0,
    },
    Shopper {
        first: "=HYPERLINK(\"x\")",
        last: "Quote, \"Comma\"",
        email: "-formula@example.com",
        created: "2025-03-01",
        signed_in: None,
        locked: false,
        live_tokens: 0,
        expired_tokens: 0,
    },
];

/// Runs one statement with `$1` = `a`, `$2` = `b` on either store.
async fn exec(app: &TestApp, sql: &str, a: Option<i64>, b: i64) {
    match app.db() {
        shop_accounts::store::Db::Sqlite(pool) => sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(pool)
            .await
            .map(drop),
        shop_accounts::store::Db::Postgres(pool) => sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(pool)
            .await
            .map(drop),
    }
    .unwrap();
}

/// The shoppers, returned as (email, id) in SHOPPERS order.
async fn fill(app: &TestApp) -> Vec<(&'static str, i64)> {
    let now = app.state.now();
    let mut ids = Vec::new();
    for s in &SHOPPERS {
        let id = app
            .db()
            .insert_customer(&NewCustomer {
                email: s.email,
                email_key: &s.email.to_ascii_lowercase(),
                firstname: s.first,
                lastname: s.last,
                password_hash: "not-a-real-hash",
                security_stamp: "stamp",
                locale: "en",
                created_at: at(s.created, 12),
            })
            .await
            .unwrap();
        let signed_in = s.signed_in.map(|d| at(d, 9));
        exec(
            app,
            "UPDATE customers SET last_sign_in_at = $1 WHERE id = $2",
            signed_in,
            id,
        )
        .await;
        if s.locked {
            exec(
                app,
                "UPDATE customers SET locked_until = $1 WHERE id = $2",
                Some(now + 600),
                id,
            )
            .await;
        }
        let row = app.db().customer_by_id(id).await.unwrap().unwrap();
        for _ in 0..s.live_tokens {
            let hash = token_hash(&random_token());
            let mut tx = app.db().begin().await.unwrap();
            tx.insert_api_token(&row, &hash, now, now + 3600)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        for _ in 0..s.expired_tokens {
            let hash = token_hash(&random_token());
            let mut tx = app.db().begin().await.unwrap();
            tx.insert_api_token(&row, &hash, now - 7200, now - 3600)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        ids.push((s.email, id));
    }
    ids
}

/// The emails the grid page shows, in order.
fn emails(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for row in page.split("<tr>").skip(2) {
        // The first cell of a row may be the bulk selection's checkbox.
        let cells: Vec<&str> = row
            .split("<td>")
            .skip(1)
            .filter(|cell| !cell.trim_start().starts_with("<input"))
            .collect();
        if cells.len() > 2 {
            let email = cells[2].split("</td>").next().unwrap();
            found.push(html_unescape(email));
        }
    }
    found
}

async fn grid(client: &Client, query: &str) -> String {
    let response = client.get(&format!("/admin/customers?{query}")).await;
    assert_eq!(response.status(), 200, "GET /admin/customers?{query}");
    response.text().await.unwrap()
}

async fn found(client: &Client, query: &str) -> Vec<String> {
    let mut emails = emails(&grid(client, query).await);
    emails.sort();
    emails
}

fn sorted(emails: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = emails.iter().map(|e| e.to_string()).collect();
    v.sort();
    v
}

store_test!(search_finds_word_starts_only, |app: TestApp| async move {
    fill(&app).await;
    let client = admin(&app, ADMIN_EMAIL, Role::Administrator).await;
    let jan = ["jan.devries@example.com"];
    for q in [
        "vries",
        "de+vries",
        "jan+vries",
        "devries%40exa",
        "DEVRIES",
        "example.com+jan",
        "%40example.com+de",
    ] {
        assert_eq!(
            found(&client, &format!("q={q}")).await,
            sorted(&jan),
            "q={q}"
        );
    }
    assert_eq!(
        found(&client, "q=example.com").await,
        sorted(&[
            "ann.locke@example.com",
            "jan.devries@example.com",
            "-formula@example.com"
        ])
    );
    assert_eq!(
        found(&client, "q=tokens").await,
        sorted(&["bob@tokens.example.org"])
    );
    assert_eq!(
        found(&client, "q=shop").await,
        sorted(&["cat_old+shop@example.net"]),
        "after +"
    );
    assert_eq!(
        found(&client, "q=old").await,
        sorted(&["cat_old+shop@example.net"]),
        "after _"
    );
    assert_eq!(
        found(&client, "q=formula").await,
        sorted(&["-formula@example.com"]),
        "after -"
    );
    // Fragments in the middle of a word find nobody.
    for q in ["ries", "xample", "ocke", "evries", "an+vries", "okens"] {
        let page = grid(&client, &format!("q={q}")).await;
        assert!(emails(&page).is_empty(), "q={q} must find nobody");
        assert!(
            page.contains("We couldn&#39;t find any customers")
                || page.contains("We couldn't find any customers"),
            "q={q}"
        );
    }
});

store_test!(
    filters_alone_and_combined_stay_in_every_link,
    |app: TestApp| async move {
        fill(&app).await;
        let client = admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let all = SHOPPERS.map(|s| s.email);
        let cases: [(&str, Vec<&str>); 14] = [
            ("locked=yes", vec![all[0], all[3]]),
            ("locked=no", vec![all[1], all[2], all[4]]),
            ("has_tokens=yes", vec![all[1], all[3]]),
            ("has_tokens=no", vec![all[0], all[2], all[4]]),
            ("signed_in=never", vec![all[1], all[4]]),
            ("signed_in=ever", vec![all[0], all[2], all[3]]),
            (
                "created_from=2024-03-01",
                vec![all[0], all[1], all[3], all[4]],
            ),
            ("created_to=2024-03-01", vec![all[0], all[2]]),
            (
                "created_from=2024-03-02&created_to=2025-02-01",
                vec![all[1], all[3]],
            ),
            (
                "last_sign_in_from=2025-06-05&last_sign_in_to=2025-06-05",
                vec![all[2]],
            ),
            ("last_sign_in_to=2025-06-04", vec![all[0]]),
            ("locked=yes&has_tokens=yes", vec![all[3]]),
            ("q=example.com&locked=no&signed_in=never", vec![all[4]]),
            (
                "q=jan&has_tokens=yes&signed_in=ever&created_from=2025-01-01&last_sign_in_from=2025-06-30",
                vec![all[3]],
            ),
        ];
        for (query, expected) in &cases {
            assert_eq!(found(&client, query).await, sorted(expected), "{query}");
        }
        // Sort links, the page size form, pager links and the export link keep the filters.
        let query = "q=example&locked=no&has_tokens=no&signed_in=never&created_from=2025-01-01&created_to=2025-12-31";
        let page = grid(&client, &format!("{query}&limit=20")).await;
        let hrefs: Vec<String> = page
            .split("href=\"")
            .skip(1)
            .map(|s| html_unescape(&s.split('"').next().unwrap().replace("&#38;", "&")))
            .filter(|h| {
                h.starts_with("/admin/customers?") || h.starts_with("/admin/customers/export.csv?")
            })
            .collect();
        assert!(
            hrefs.len() >= 8,
            "sort headers, clear and export links: {hrefs:?}"
        );
        // Every sort header and the export link keep every filter; "Clear all" drops them.
        let with_filters: Vec<&String> = hrefs.iter().filter(|h| h.contains("q=")).collect();
        assert_eq!(with_filters.len(), 8, "{hrefs:?}");
        for href in with_filters {
            for part in query.split('&') {
                assert!(href.contains(part), "{href} keeps {part}");
            }
        }
        // The controls show the chosen values, usable without JavaScript (a GET form).
        assert!(page.contains(r#"<option value="no" selected>"#));
        assert!(page.contains(r#"<option value="never" selected>"#));
        assert!(page.contains(r#"name="created_from" type="date" value="2025-01-01""#));
        // The pager keeps them too.
        for i in 0..25 {
            let email = format!("pager{i}@example.com");
            app.db()
                .insert_customer(&NewCustomer {
                    email: &email,
                    email_key: &email,
                    firstname: "Pager",
                    lastname: "Person",
                    password_hash: "x",
                    security_stamp: "x",
                    locale: "en",
                    created_at: at("2025-04-01", 1),
                })
                .await
                .unwrap();
        }
        let page = grid(&client, "q=pager&signed_in=never&sort=email&dir=asc").await;
        let next = page
            .split("rel=\"next\"")
            .next()
            .and_then(|before| before.rsplit("href=\"").next())
            .map(|h| html_unescape(&h.split('"').next().unwrap().replace("&#38;", "&")))
            .unwrap();
        assert!(
            next.contains("q=pager") && next.contains("signed_in=never") && next.contains("page=2"),
            "{next}"
        );
        assert_eq!(
            emails(&grid(&client, next.split_once('?').unwrap().1).await).len(),
            5
        );
    }
);

store_test!(
    bad_values_get_a_notice_never_an_error_page,
    |app: TestApp| async move {
        fill(&app).await;
        let client = admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        // A NUL byte was a 500 on PostgreSQL.
        for q in ["%00", "jan%00", "%01de+vries", "a%0Ab"] {
            let page = grid(&client, &format!("q={q}")).await;
            assert!(
                page.contains("The keyword contains control characters and is ignored."),
                "q={q}"
            );
            assert_eq!(emails(&page).len(), SHOPPERS.len(), "q={q} is ignored");
        }
        let page = grid(
        &client,
        "locked=maybe&has_tokens=1&signed_in=sometimes&created_from=2024-02-30&created_to=tomorrow\
         &last_sign_in_from=2024-1-1&last_sign_in_to=%00&sort=nope&page=-1&limit=7",
    )
    .await;
        for (name, value) in [
            ("locked", "maybe"),
            ("has_tokens", "1"),
            ("signed_in", "sometimes"),
            ("created_from", "2024-02-30"),
            ("created_to", "tomorrow"),
            ("last_sign_in_from", "2024-1-1"),
        ] {
            let notice =
                format!("The value &#34;{value}&#34; of {name} was not understood and is ignored.");
            let plain =
                format!("The value \"{value}\" of {name} was not understood and is ignored.");
            assert!(
                page.contains(&notice) || page.contains(&plain),
                "a notice for {name}"
            );
        }
        assert_eq!(
            emails(&page).len(),
            SHOPPERS.len(),
            "every bad filter is ignored"
        );
        // One bad value leaves the good ones working.
        let page = grid(&client, "locked=yes&created_from=never").await;
        assert_eq!(emails(&page).len(), 2);
        // The export ignores them the same way, and a NUL keyword is no error there either.
        let response = client
            .get("/admin/customers/export.csv?q=%00&locked=maybe")
            .await;
        assert_eq!(response.status(), 200);
        // In Dutch too.
        let response = client
            .http
            .get(client.url("/admin/customers?locked=misschien"))
            .header("Accept-Language", "nl")
            .send()
            .await
            .unwrap();
        let page = response.text().await.unwrap();
        assert!(page.contains("misschien") && page.contains("is niet begrepen en wordt genegeerd"));
    }
);

store_test!(
    token_sort_and_display_agree_on_the_live_count,
    |app: TestApp| async move {
        let ids = fill(&app).await;
        let client = admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let order = emails(&grid(&client, "sort=api_tokens&dir=desc").await);
        let position = |email: &str| order.iter().position(|e| e == email).unwrap();
        // Jan (2 live) first, Bob (1 live) next; Cat's 3 expired tokens count for nothing.
        assert_eq!(
            &order[..2],
            ["jan.devries@example.com", "bob@tokens.example.org"]
        );
        assert!(position("cat_old+shop@example.net") > position("bob@tokens.example.org"));
        // The zero-token customers follow by id, descending.
        let zero: Vec<String> = ids
            .iter()
            .rev()
            .filter(|(e, _)| !e.starts_with("jan") && !e.starts_with("bob"))
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(&order[2..], zero);
        let page = grid(&client, "sort=api_tokens&dir=asc").await;
        let asc = emails(&page);
        assert_eq!(
            &asc[3..],
            ["bob@tokens.example.org", "jan.devries@example.com"]
        );
        // The page shows Cat with 0 tokens.
        let cat_row = page
            .split("<tr>")
            .find(|r| r.contains("cat_old+shop"))
            .unwrap();
        assert!(cat_row.contains("<td>0</td>"), "{cat_row}");
    }
);

store_test!(
    live_token_count_follows_revocation_expiry_and_stamps,
    |app: TestApp| async move {
        let ids = fill(&app).await;
        let id = |email: &str| ids.iter().find(|(e, _)| *e == email).unwrap().1;
        let (bob, jan, cat) = (
            "bob@tokens.example.org",
            "jan.devries@example.com",
            "cat_old+shop@example.net",
        );
        let client = admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        assert_eq!(found(&client, "has_tokens=yes").await, sorted(&[bob, jan]));
        // The kept count follows a revocation: Jan keeps one of two.
        exec(
            &app,
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = \
             (SELECT MIN(id) FROM api_tokens WHERE customer_id = $1)",
            Some(id(jan)),
            app.state.now(),
        )
        .await;
        let asc = emails(&grid(&client, "sort=api_tokens&dir=asc").await);
        assert_eq!(&asc[3..], [bob, jan], "both hold one now, by id");
        exec(
            &app,
            "UPDATE api_tokens SET revoked_at = $2 WHERE customer_id = $1",
            Some(id(jan)),
            app.state.now(),
        )
        .await;
        assert_eq!(found(&client, "has_tokens=yes").await, sorted(&[bob]));
        assert_eq!(
            emails(&grid(&client, "sort=api_tokens&dir=desc").await)[0],
            bob
        );
        // Two hours on, Bob's token has expired: nobody holds a live token,
        // and the token sort is the id order.
        app.advance_clock(2 * 3600);
        assert!(found(&client, "has_tokens=yes").await.is_empty());
        let by_id: Vec<String> = ids.iter().rev().map(|(e, _)| e.to_string()).collect();
        assert_eq!(
            emails(&grid(&client, "sort=api_tokens&dir=desc").await),
            by_id
        );
        // A new token counts; a new security stamp kills it; a deleted
        // token no longer counts.
        let now = app.state.now();
        let row = app.db().customer_by_id(id(cat)).await.unwrap().unwrap();
        for _ in 0..2 {
            let mut tx = app.db().begin().await.unwrap();
            tx.insert_api_token(&row, &token_hash(&random_token()), now, now + 3600)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        assert_eq!(found(&client, "has_tokens=yes").await, sorted(&[cat]));
        exec(
            &app,
            "DELETE FROM api_tokens WHERE id = (SELECT MAX(id) FROM api_tokens WHERE customer_id = $1)",
            Some(id(cat)),
            0,
        )
        .await;
        let page = grid(&client, "has_tokens=yes&sort=api_tokens&dir=desc").await;
        let cat_row = page
            .split("<tr>")
            .find(|r| r.contains("cat_old+shop"))
            .unwrap();
        assert!(cat_row.contains("<td>1</td>"), "{cat_row}");
        exec(
            &app,
            "UPDATE customers SET security_stamp = 'rotated' WHERE id = $2",
            None,
            id(cat),
        )
        .await;
        assert!(found(&client, "has_tokens=yes").await.is_empty());
        assert_eq!(
            found(&client, "has_tokens=no").await.len(),
            ids.len(),
            "everyone has none"
        );
        // The total without filters follows inserts and deletes.
        assert!(grid(&client, "").await.contains("5 records found"));
        exec(&app, "DELETE FROM customers WHERE id = $2", None, id(bob)).await;
        assert!(grid(&client, "").await.contains("4 records found"));
    }
);

/// `n` demo customers with emails `bulk{i}@grouping.example`.
async fn bulk_customers(app: &TestApp, n: usize) {
    let mut loader = app.db().demo_loader().await.unwrap();
    let now = app.state.now();
    let batch: Vec<DemoCustomer> = (0..n)
        .map(|i| DemoCustomer {
            email: format!("bulk{i}@grouping.example"),
            email_key: format!("bulk{i}@grouping.example"),
            firstname: "Bulk".to_string(),
            lastname: format!("Shopper{i}"),
            security_stamp: "x".to_string(),
            locale: "en",
            created_at: now - i as i64,
            last_sign_in_at: None,
            locked_until: None,
            api_token_hashes: Vec::new(),
        })
        .collect();
    loader.insert(&batch, "x", now, now + DAY).await.unwrap();
    loader.finish().await.unwrap();
}

async fn grid_in(client: &Client, query: &str, lang: &str) -> String {
    let response = client
        .http
        .get(client.url(&format!("/admin/customers?{query}")))
        .header("Accept-Language", lang)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

store_test!(
    counts_are_bounded_and_grouped_per_language,
    |app: TestApp| async move {
        bulk_customers(&app, 10_050).await;
        let client = admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        // The whole table: exact, grouped.
        let page = grid_in(&client, "", "en").await;
        assert!(page.contains("10,050 records found"), "en total");
        assert!(page.contains("Page 1 of 503"));
        let page = grid_in(&client, "", "nl").await;
        assert!(page.contains("10.050 records gevonden"), "nl total");
        // A keyword matching them all: counted up to 10,000, the exact figure on request.
        let page = grid_in(&client, "q=bulk", "en").await;
        assert!(page.contains("More than 10,000 records found"), "en bound");
        assert!(page.contains("Count all"));
        assert!(
            page.contains("rel=\"next\"") && page.contains("page=last"),
            "next and last without a page count"
        );
        let page = grid_in(&client, "q=bulk", "nl").await;
        assert!(
            page.contains("Meer dan 10.000 records gevonden"),
            "nl bound"
        );
        let page = grid_in(&client, "q=bulk&count=exact", "en").await;
        assert!(page.contains("10,050 records found"), "exact on request");
        assert!(page.contains("Page 1 of 503"));
        let page = grid_in(&client, "q=bulk&count=exact", "nl").await;
        assert!(page.contains("10.050 records gevonden") && page.contains("Pagina 1 van 503"));
        // The last page of a bounded count is the real last rows (ids ascending → the first inserted).
        let page = grid_in(&client, "q=bulk&sort=email&dir=asc&page=last", "en").await;
        let shown = emails(&page);
        assert_eq!(shown.len(), 20);
        let mut all: Vec<String> = (0..10_050)
            .map(|i| format!("bulk{i}@grouping.example"))
            .collect();
        all.sort();
        assert_eq!(shown, all[all.len() - 20..]);
        assert!(page.contains("Last page"));
    }
);

/// The query of the pager link `rel` on a grid page, if the page has one.
fn pager_link(page: &str, rel: &str) -> Option<String> {
    let (before, _) = page.split_once(&format!("rel=\"{rel}\""))?;
    let href = before.rsplit("href=\"").next()?.split('"').next()?;
    let href = html_unescape(&href.replace("&#38;", "&"));
    Some(href.split_once('?')?.1.to_string())
}

store_test!(
    deep_pages_follow_keyset_links_and_a_typed_deep_page_gets_a_notice,
    |app: TestApp| async move {
        bulk_customers(&app, 10_050).await;
        let client = admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let mut all: Vec<String> = (0..10_050)
            .map(|i| format!("bulk{i}@grouping.example"))
            .collect();
        all.sort();
        let rows = |from: usize| all[from..from + 20].to_vec();
        // Next and Previous carry the keyset of the page's last or first row.
        let page = grid_in(&client, "q=bulk&sort=email&dir=asc", "en").await;
        assert_eq!(emails(&page), rows(0));
        let next = pager_link(&page, "next").unwrap();
        assert!(next.contains("after=") && next.contains("page=2"), "{next}");
        let page = grid_in(&client, &next, "en").await;
        assert_eq!(emails(&page), rows(20));
        let page = grid_in(&client, &pager_link(&page, "next").unwrap(), "en").await;
        assert_eq!(emails(&page), rows(40));
        assert!(page.contains("Page 3"));
        let previous = pager_link(&page, "prev").unwrap();
        assert!(previous.contains("before=") && previous.contains("page=2"));
        assert_eq!(emails(&grid_in(&client, &previous, "en").await), rows(20));

        // A typed page past PAGE_DEPTH (10,000 matches) of a bounded count is
        // moved back to the deepest page, with a notice in the admin's language.
        let page = grid_in(&client, "q=bulk&sort=email&dir=asc&page=600", "en").await;
        assert!(
            page.contains("That page lies deeper than 10,000 records in"),
            "en notice"
        );
        assert!(page.contains("Page 500"));
        assert_eq!(emails(&page), rows(9_980));
        // Its Next link carries a keyset, so the pager goes on past the bound.
        let next = pager_link(&page, "next").unwrap();
        let page = grid_in(&client, &next, "en").await;
        assert_eq!(emails(&page), rows(10_000));
        assert!(page.contains("Page 501") && !page.contains("deeper than"));
        let page = grid_in(&client, "q=bulk&sort=email&dir=asc&page=600", "nl").await;
        assert!(
            page.contains("Die pagina ligt dieper dan 10.000 records"),
            "nl notice"
        );
        // A sort on a column with NULLs pages by number only: up to the
        // bound, then Last.
        let page = grid_in(&client, "q=bulk&sort=last_sign_in&dir=asc&page=600", "en").await;
        assert!(page.contains("deeper than 10,000") && page.contains("Page 500"));
        assert!(pager_link(&page, "next").is_none() && pager_link(&page, "last").is_some());

        // Counted exactly, a late page is read from the other end and shown
        // in order: page 400 of 503, email descending, and the last page.
        let mut desc = all.clone();
        desc.reverse();
        let page = grid_in(
            &client,
            "q=bulk&sort=email&dir=desc&count=exact&page=400",
            "en",
        )
        .await;
        assert_eq!(emails(&page), desc[7_980..8_000]);
        let page = grid_in(
            &client,
            "q=bulk&sort=email&dir=desc&count=exact&page=last",
            "en",
        )
        .await;
        assert_eq!(emails(&page), desc[10_040..]);
        assert!(page.contains("Page 503 of 503"));
    }
);

async fn audit_rows(app: &TestApp) -> Vec<AuditRow> {
    app.db().audit_page(None, None, 1000).await.unwrap()
}

/// Splits an RFC 4180 body into records of fields.
fn parse_csv(body: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

store_test!(
    export_streams_every_match_escaped_and_audited,
    |app: TestApp| async move {
        fill(&app).await;
        let admin_client = admin(&app, ADMIN_EMAIL, Role::Administrator).await;
        let page = grid(&admin_client, "").await;
        assert!(
            page.contains("/admin/customers/export.csv?"),
            "administrators see the export link"
        );
        let response = admin_client
            .get("/admin/customers/export.csv?q=example&sort=email&dir=asc")
            .await;
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("attachment")
        );
        let bytes = response.bytes().await.unwrap();
        assert!(
            bytes.starts_with("\u{FEFF}".as_bytes()),
            "a byte-order mark"
        );
        let body = std::str::from_utf8(&bytes[3..]).unwrap();
        assert!(body.contains("\r\n"), "CRLF line ends");
        let records = parse_csv(body);
        assert_eq!(
            records[0],
            [
                "ID",
                "Name",
                "Email",
                "Customer Since",
                "Last Sign-in",
                "Locked",
                "Active API Tokens"
            ]
        );
        let emails: Vec<&str> = records[1..].iter().map(|r| r[2].as_str()).collect();
        // Email ascending, byte-wise; the formula-looking email is neutralised.
        assert_eq!(
            emails,
            [
                "'-formula@example.com",
                "ann.locke@example.com",
                "bob@tokens.example.org",
                "cat_old+shop@example.net",
                "jan.devries@example.com"
            ]
        );
        let formula = &records[1];
        assert_eq!(formula[1], "'=HYPERLINK(\"x\") Quote, \"Comma\"");
        let jan = &records[5];
        assert_eq!(jan[3], "2025-02-01");
        assert_eq!(jan[4], "2025-06-30 09:00 UTC");
        assert_eq!((jan[5].as_str(), jan[6].as_str()), ("Yes", "2"));
        assert_eq!(records[4][6], "0", "expired tokens are not counted");
        assert_eq!(records[3][4], "", "never signed in");
        // The filters apply, and every sort streams in the grid's order.
        let body = admin_client
            .get_text("/admin/customers/export.csv?locked=yes")
            .await;
        assert_eq!(parse_csv(&body).len(), 3);
        for sort in [
            "id",
            "name",
            "email",
            "created_at",
            "last_sign_in",
            "locked",
            "api_tokens",
        ] {
            for dir in ["asc", "desc"] {
                let query = format!("sort={sort}&dir={dir}&limit=200");
                let grid_order = emails_of(&grid(&admin_client, &query).await);
                let body = admin_client
                    .get_text(&format!("/admin/customers/export.csv?{query}"))
                    .await;
                let export_order: Vec<String> = parse_csv(body.trim_start_matches('\u{FEFF}'))[1..]
                    .iter()
                    .map(|r| r[2].trim_start_matches('\'').to_string())
                    .collect();
                assert_eq!(export_order, grid_order, "export order for {query}");
            }
        }
        // Audited with the filters and the row count.
        let rows = audit_rows(&app).await;
        let exports: Vec<&AuditRow> = rows
            .iter()
            .filter(|r| r.action == "customers_export")
            .collect();
        let first = exports
            .iter()
            .find(|r| r.detail.contains("q=example"))
            .expect("an audit row");
        assert!(
            first.detail.contains("sort=email") && first.detail.contains("rows=5 (complete)"),
            "{}",
            first.detail
        );
        assert!(
            exports
                .iter()
                .any(|r| r.detail.contains("locked=yes") && r.detail.contains("rows=2"))
        );
        assert_eq!(first.admin_email, ADMIN_EMAIL);
        // Support may not export, and does not see the link.
        let support = admin(&app, SUPPORT_EMAIL, Role::Support).await;
        let page = grid(&support, "").await;
        assert!(!page.contains("export.csv"));
        let before = audit_rows(&app).await.len();
        let response = support.get("/admin/customers/export.csv").await;
        assert_eq!(response.status(), 403);
        assert!(!response.text().await.unwrap().contains("ann.locke"));
        let after = audit_rows(&app).await;
        assert!(
            after
                .iter()
                .filter(|r| r.action == "customers_export")
                .count()
                == exports.len()
        );
        assert_eq!(after.len(), before);
    }
);

fn emails_of(page: &str) -> Vec<String> {
    emails(page)
}
