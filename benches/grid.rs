//! All Customers grid timings through HTTP, as an administrator sees them, on a
//! release server filled with `shop-accounts demo-data --customers 1000000`:
//!
//!     BENCH_BASE_URL=http://127.0.0.1:8080 BENCH_ADMIN_EMAIL=… BENCH_ADMIN_PASSWORD=… \
//!     BENCH_SERVER_PID=$(pidof shop-accounts) cargo bench --bench grid [filter]
//!
//! Signs in, then requests every view below (keywords from one letter up, each
//! filter alone and combined, every sort both ways, first / middle / last page,
//! 20 and 200 rows) RUNS times, one request at a time, and prints the median and
//! 95th percentile per view. Then it downloads the full CSV export and reports the
//! time to the first byte, the total time, the rows and (with BENCH_SERVER_PID)
//! the server's resident memory growth. `BENCH_SKIP_EXPORT=1` leaves that out.
//!
//! With `DATABASE_URL` and `GRID_BENCH_PLANS=1` it prints instead the store's
//! query plans for the keyword and filter views, to check each is index-served.

use std::time::{Duration, Instant};

use shop_accounts::store::{CustomerGridQuery, Db, GridFilter, GridSort, TimeRange};

/// Requests per view (`BENCH_RUNS` overrides), after the warm-up ones.
const RUNS: usize = 15;
const WARM_UP: usize = 2;

fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(RUNS)
}

/// Keywords as staff type them: one letter, a first name, a last name, a
/// particle and surname, parts of an email, and one that matches nobody.
const KEYWORDS: [&str; 13] = [
    "j",
    "e",
    "jan",
    "emma",
    "smith",
    "vries",
    "de vries",
    "example",
    "example.com",
    "emma.de",
    "sophie van",
    "jansen example.org",
    "zzqx",
];

/// Filters alone and combined (query strings).
const FILTERS: [&str; 12] = [
    "locked=yes",
    "locked=no",
    "has_tokens=yes",
    "has_tokens=no",
    "signed_in=never",
    "signed_in=ever",
    "created_from=2024-01-01&created_to=2024-12-31",
    "last_sign_in_from=2025-06-01&last_sign_in_to=2025-06-30",
    "locked=yes&has_tokens=yes",
    "signed_in=ever&created_from=2025-01-01",
    "q=j&locked=yes",
    "q=jan&has_tokens=yes&signed_in=ever&created_from=2023-01-01",
];

fn views() -> Vec<String> {
    let mut views = vec![String::new(), "limit=200".to_string()];
    for sort in GridSort::ALL {
        for dir in ["asc", "desc"] {
            for limit in [20, 200] {
                views.push(format!("sort={}&dir={dir}&limit={limit}", sort.code()));
            }
        }
    }
    let encode = |q: &str| q.replace(' ', "+");
    for keyword in KEYWORDS {
        let q = encode(keyword);
        views.push(format!("q={q}"));
        views.push(format!("q={q}&sort=name&dir=asc&limit=200"));
        // A first name's customers sit together by name: reached last from the end.
        views.push(format!("q={q}&sort=name&dir=desc&limit=200"));
        views.push(format!("q={q}&sort=email&dir=desc&limit=200"));
        views.push(format!("q={q}&sort=last_sign_in&dir=desc"));
        views.push(format!("q={q}&sort=api_tokens&dir=desc"));
        views.push(format!("q={q}&page=last"));
        views.push(format!("q={q}&sort=name&dir=asc&page=last"));
        // The middle of the first 10,000 matches (what a bounded count pages through).
        views.push(format!("q={q}&sort=name&dir=asc&page=250"));
    }
    for filter in FILTERS {
        views.push(filter.to_string());
        views.push(format!("{filter}&sort=name&dir=asc&limit=200"));
        views.push(format!("{filter}&sort=created_at&dir=desc&page=last"));
        views.push(format!("{filter}&sort=api_tokens&dir=desc"));
        views.push(format!("{filter}&page=250"));
    }
    views
}

struct Timing {
    median: Duration,
    p95: Duration,
    status: u16,
}

async fn time_view(http: &reqwest::Client, url: &str) -> Timing {
    let mut status = 0;
    for _ in 0..WARM_UP {
        status = http.get(url).send().await.expect("GET").status().as_u16();
    }
    let runs = runs();
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let response = http.get(url).send().await.expect("GET");
        status = response.status().as_u16();
        response.bytes().await.expect("body");
        samples.push(started.elapsed());
    }
    samples.sort();
    Timing {
        median: samples[runs / 2],
        p95: samples[(runs * 95).div_ceil(100) - 1],
        status,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn form_key(page: &str) -> String {
    let marker = "name=\"form_key\" value=\"";
    let start = page.find(marker).expect("a form key on the sign-in page") + marker.len();
    let end = page[start..].find('"').expect("a closed attribute") + start;
    page[start..end].to_string()
}

async fn signed_in_client(base: &str) -> reqwest::Client {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let email = std::env::var("BENCH_ADMIN_EMAIL").expect("BENCH_ADMIN_EMAIL");
    let password = std::env::var("BENCH_ADMIN_PASSWORD").expect("BENCH_ADMIN_PASSWORD");
    let page = http
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .expect("sign-in page")
        .text()
        .await
        .expect("text");
    let key = form_key(&page);
    let response = http
        .post(format!("{base}/admin/login"))
        .header("Origin", base)
        .form(&[
            ("email", email.as_str()),
            ("password", password.as_str()),
            ("form_key", key.as_str()),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), 303, "the administrator signs in");
    http
}

fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn export(http: &reqwest::Client, base: &str, query: &str) {
    let pid = std::env::var("BENCH_SERVER_PID").ok();
    let before = pid.as_deref().and_then(rss_kib);
    let started = Instant::now();
    let mut response = http
        .get(format!("{base}/admin/customers/export.csv?{query}"))
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200, "export status");
    let mut first_byte = None;
    let (mut bytes, mut lines, mut peak) = (0usize, 0usize, before.unwrap_or(0));
    while let Some(chunk) = response.chunk().await.expect("export body") {
        first_byte.get_or_insert_with(|| started.elapsed());
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        if let Some(rss) = pid.as_deref().and_then(rss_kib) {
            peak = peak.max(rss);
        }
    }
    let total = started.elapsed();
    let growth = before.map(|b| format!("{:.1} MiB", (peak.saturating_sub(b)) as f64 / 1024.0));
    println!(
        "| export `{query}` | first byte {} ms | total {:.1} s | {} rows, {:.0} MB | RSS growth {} |",
        ms(first_byte.unwrap_or_default()),
        total.as_secs_f64(),
        lines.saturating_sub(1),
        bytes as f64 / 1e6,
        growth.unwrap_or_else(|| "not measured".to_string())
    );
}

async fn http_bench(base: &str, filter: Option<&str>) {
    let http = signed_in_client(base).await;
    println!(
        "{} requests per view after {WARM_UP} warm-up requests, one at a time",
        runs()
    );
    println!("| view | median ms | p95 ms | status |");
    println!("| --- | ---: | ---: | --- |");
    for view in views() {
        if filter.is_some_and(|f| !view.contains(f)) {
            continue;
        }
        let url = format!("{base}/admin/customers?{view}");
        let t = time_view(&http, &url).await;
        let name = if view.is_empty() { "(default)" } else { &view };
        println!(
            "| `{name}` | {} | {} | {} |",
            ms(t.median),
            ms(t.p95),
            t.status
        );
    }
    if std::env::var_os("BENCH_SKIP_EXPORT").is_none() {
        export(&http, base, "").await;
        export(&http, base, "q=j&sort=name&dir=asc").await;
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64
}

/// The store's plans for keyword and filter views (what the HTTP views run).
async fn plans(url: &str) {
    let db = Db::connect(url).await.expect("connect");
    let mut filters: Vec<(String, GridFilter)> = KEYWORDS
        .iter()
        .map(|k| {
            (
                format!("q={k}"),
                GridFilter {
                    words: k.split_whitespace().map(str::to_string).collect(),
                    ..GridFilter::default()
                },
            )
        })
        .collect();
    filters.push((
        "locked=yes".into(),
        GridFilter {
            locked: Some(true),
            ..GridFilter::default()
        },
    ));
    filters.push((
        "has_tokens=yes".into(),
        GridFilter {
            has_tokens: Some(true),
            ..GridFilter::default()
        },
    ));
    filters.push((
        "created in 2024".into(),
        GridFilter {
            created: TimeRange {
                from: Some(1_704_067_200),
                until: Some(1_735_689_600),
            },
            ..GridFilter::default()
        },
    ));
    for (name, filter) in filters {
        for sort in [GridSort::Id, GridSort::Name, GridSort::ApiTokens] {
            let q = CustomerGridQuery {
                filter: filter.clone(),
                sort,
                descending: false,
                limit: 200,
                offset: 0,
                now: now(),
                after: None,
            };
            println!("== {name}, sort {}, 200 rows", sort.code());
            println!("{}", db.explain_customer_grid(&q).await.expect("plan"));
        }
        println!("== {name}, bounded count");
        let plan = db
            .explain_customer_count(&filter, now(), Some(10_000))
            .await
            .expect("plan");
        println!("{plan}");
    }
    db.close().await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    if std::env::var_os("GRID_BENCH_PLANS").is_some() {
        let url = std::env::var("DATABASE_URL").expect("DATABASE_URL for the plans");
        plans(&url).await;
        return;
    }
    let base = std::env::var("BENCH_BASE_URL")
        .expect("BENCH_BASE_URL names the release server to measure (http://127.0.0.1:8080)");
    http_bench(base.trim_end_matches('/'), filter.as_deref()).await;
}
