//! All Customers grid timings on a filled store (`shop-accounts demo-data
//! --customers 1000000` first):
//!
//!     DATABASE_URL=sqlite:///tmp/bench/shop.db cargo bench --bench grid
//!
//! Times `customer_grid` and `customer_count` for the views the admin grid
//! serves, prints the median and 95th percentile per case, and with
//! `GRID_BENCH_PLANS=1` each query plan, to check every query is index-served.

use std::time::{Duration, Instant};

use shop_accounts::store::{CustomerGridQuery, Db, GridSort};

const RUNS: usize = 25;
const WARM_UP: usize = 2;

/// Keywords as the admin types them: a first name, a last name, the start of an
/// email address, a full-name prefix, and one that matches nobody.
const KEYWORDS: [&str; 6] = ["jan", "smith", "vries", "emma.de", "sophie van", "zzqx"];

enum Case {
    Grid(CustomerGridQuery),
    Count(Option<String>),
}

struct Timing {
    name: String,
    median: Duration,
    p95: Duration,
    rows: String,
}

fn grid(keyword: Option<&str>, sort: GridSort, descending: bool, limit: i64, offset: i64) -> Case {
    Case::Grid(CustomerGridQuery {
        keyword: keyword.map(str::to_string),
        sort,
        descending,
        limit,
        offset,
        now: now(),
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64
}

/// The last page's offset the way the admin grid reads it: with an exact total,
/// a page past the middle is read from the other end (flipped order, small offset).
fn last_page_cases(
    name: &str,
    keyword: Option<&str>,
    total: i64,
    limit: i64,
) -> Vec<(String, Case)> {
    let last_offset = ((total - 1).max(0) / limit) * limit;
    let rows_on_last = total - last_offset;
    vec![
        (
            format!("{name}: last page, OFFSET {last_offset}"),
            grid(keyword, GridSort::Id, true, limit, last_offset),
        ),
        (
            format!("{name}: last page, read from the other end"),
            grid(keyword, GridSort::Id, false, rows_on_last.max(1), 0),
        ),
    ]
}

async fn cases(db: &Db) -> Vec<(String, Case)> {
    let mut cases = vec![
        ("count, no keyword".to_string(), Case::Count(None)),
        (
            "first page, default sort (id desc), 20".to_string(),
            grid(None, GridSort::Id, true, 20, 0),
        ),
        (
            "first page, default sort, 200".to_string(),
            grid(None, GridSort::Id, true, 200, 0),
        ),
    ];
    for sort in GridSort::ALL {
        let code = sort.code();
        for descending in [false, true] {
            let dir = if descending { "desc" } else { "asc" };
            cases.push((
                format!("sort {code} {dir}, 20"),
                grid(None, sort, descending, 20, 0),
            ));
        }
    }
    let (total, _) = db.customer_count(None).await.expect("count");
    cases.push((
        "middle page (offset total/2), 20".to_string(),
        grid(None, GridSort::Id, true, 20, total / 2 / 20 * 20),
    ));
    cases.extend(last_page_cases("no keyword", None, total, 20));
    for keyword in KEYWORDS {
        cases.push((
            format!("count {keyword:?}"),
            Case::Count(Some(keyword.to_string())),
        ));
        cases.push((
            format!("{keyword:?}, default sort, 20"),
            grid(Some(keyword), GridSort::Id, true, 20, 0),
        ));
        cases.push((
            format!("{keyword:?}, sort name asc, 200"),
            grid(Some(keyword), GridSort::Name, false, 200, 0),
        ));
    }
    let (smith, _) = db.customer_count(Some("smith")).await.expect("count");
    cases.extend(last_page_cases("\"smith\"", Some("smith"), smith, 20));
    cases
}

async fn run(db: &Db, case: &Case) -> String {
    match case {
        Case::Grid(q) => format!("{} rows", db.customer_grid(q).await.expect("grid").len()),
        Case::Count(keyword) => {
            let (count, estimated) = db.customer_count(keyword.as_deref()).await.expect("count");
            format!("{count}{}", if estimated { " (estimate)" } else { "" })
        }
    }
}

async fn plan(db: &Db, case: &Case) -> String {
    match case {
        Case::Grid(q) => db.explain_customer_grid(q).await,
        Case::Count(keyword) => db.explain_customer_count(keyword.as_deref()).await,
    }
    .expect("explain")
}

async fn time(db: &Db, name: String, case: &Case) -> Timing {
    let mut rows = String::new();
    for _ in 0..WARM_UP {
        rows = run(db, case).await;
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        run(db, case).await;
        samples.push(started.elapsed());
    }
    samples.sort();
    Timing {
        name,
        median: samples[RUNS / 2],
        p95: samples[(RUNS * 95).div_ceil(100) - 1],
        rows,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL names the filled store to measure (sqlite://… or postgres://…)");
    let show_plans = std::env::var_os("GRID_BENCH_PLANS").is_some();
    let db = Db::connect(&url).await.expect("connect");
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let cases = cases(&db).await;
    println!(
        "backend: {}, {RUNS} runs per case after {WARM_UP} warm-up runs",
        db.backend_name()
    );
    println!("| case | median ms | p95 ms | result |");
    println!("| --- | ---: | ---: | --- |");
    for (name, case) in &cases {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let t = time(&db, name.clone(), case).await;
        println!(
            "| {} | {} | {} | {} |",
            t.name,
            ms(t.median),
            ms(t.p95),
            t.rows
        );
        if show_plans {
            for line in plan(&db, case).await.lines() {
                println!("    {line}");
            }
        }
    }
    db.close().await;
}
