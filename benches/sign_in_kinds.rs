//! Sign-in timing by account kind, through HTTP against the real (release) app:
//!
//!     cargo bench --bench sign_in_kinds
//!
//! Starts the app on a fresh SQLite database (or `DATABASE_URL`), stores one
//! customer per password-hash kind (this server's argon2id, each Magento format,
//! bcrypt, no hash), then asks the REST token endpoint with a wrong password for
//! each of them and for an address without an account, round-robin, and prints the
//! median and spread per kind. The answers must not tell the kinds apart: every
//! median within a few ms of the others.

use std::time::{Duration, Instant};

use shop_accounts::accounts::hash_for_demo;
use shop_accounts::store::NewCustomer;
use shop_accounts::{Application, Config};

const ROUNDS: usize = 25;
const WARM_UP: usize = 2;

/// (kind, stored hash) — the Magento and bcrypt ones from tests/vectors.
fn kinds() -> Vec<(&'static str, String)> {
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../tests/vectors/magento_hashes.json")).unwrap();
    let vector = |note: &str| {
        vectors
            .iter()
            .find(|v| v["note"] == note)
            .unwrap_or_else(|| panic!("no vector {note:?}"))["hash"]
            .as_str()
            .unwrap()
            .to_string()
    };
    vec![
        ("native argon2id", hash_for_demo("bench-password").unwrap()),
        (
            "magento 2.4 (3_32_2_67108864)",
            vector("Magento 2.4 public vector"),
        ),
        (
            "magento :0 (md5)",
            vector("M2 version 0 (MD5), spaces in password"),
        ),
        (
            "magento :1 (sha256)",
            vector("M2 version 1 (SHA-256), non-ASCII password"),
        ),
        (
            "magento :2 (argon2)",
            vector("M2 version 2 (Argon2id interactive)"),
        ),
        (
            "magento 1:3_32_2_67108864",
            vector("M2 chain 1:3_32_2_67108864"),
        ),
        (
            "magento 2:3_32_2_67108864",
            vector("M2 chain 2:3_32_2_67108864 (2.3 hash upgraded on 2.4)"),
        ),
        ("magento 1 md5 hex:salt", vector("M1 MD5, 2-char salt")),
        (
            "magento 1 sha256 hex:salt",
            vector("M1 SHA-256, 2-char salt"),
        ),
        ("bcrypt $2y$10$…:0", vector("bcrypt $2y$10 with :0")),
        ("no password (empty)", String::new()),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("sign-in-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join("shop.db").display()));
    let mut config = Config::with_database(&url);
    config.listen = "127.0.0.1:0".parse()?;
    config.mail_dir = dir.join("mail");
    let started = Instant::now();
    let app = Application::build(config).await?;
    println!(
        "app built (hash floor measured) in {:.1?}",
        started.elapsed()
    );
    let state = app.state().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let tag = std::process::id();
    let mut targets = Vec::new();
    for (kind, hash) in kinds() {
        let email = format!(
            "{}.{tag}@bench.example",
            kind.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        state
            .db
            .insert_customer(&NewCustomer {
                email: &email,
                email_key: &email.to_ascii_lowercase(),
                firstname: "Bench",
                lastname: "Mark",
                password_hash: &hash,
                security_stamp: "bench",
                locale: "en",
                created_at: 0,
            })
            .await?;
        targets.push((kind, email));
    }
    targets.push(("no account", format!("nobody.{tag}@bench.example")));
    // Lockout and the per-address limit off, so every round of the bench is
    // the same path (from one address, the limit would refuse unchecked).
    state
        .db
        .put_setting("options.lockout_failures", "0")
        .await?;
    state
        .db
        .put_setting("options.ip_sign_in_failures", "0")
        .await?;

    let client = reqwest::Client::new();
    let mut timings: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
    for round in 0..WARM_UP + ROUNDS {
        for (i, (_, email)) in targets.iter().enumerate() {
            let started = Instant::now();
            let response = client
                .post(format!("{base}/rest/V1/integration/customer/token"))
                .json(&serde_json::json!({ "username": email, "password": "wrong password" }))
                .send()
                .await?;
            let status = response.status();
            response.bytes().await?;
            let took = started.elapsed();
            assert_eq!(status.as_u16(), 401, "{email}");
            if round >= WARM_UP {
                timings[i].push(took);
            }
        }
    }
    println!(
        "{:<32} {:>9} {:>9} {:>9}",
        "kind (wrong password)", "median", "min", "max"
    );
    let mut medians = Vec::new();
    for ((kind, _), mut runs) in targets.iter().zip(timings) {
        runs.sort();
        let median = runs[runs.len() / 2];
        medians.push(median);
        println!(
            "{kind:<32} {:>7.1}ms {:>7.1}ms {:>7.1}ms",
            ms(median),
            ms(runs[0]),
            ms(runs[runs.len() - 1])
        );
    }
    let spread = ms(*medians.iter().max().unwrap()) - ms(*medians.iter().min().unwrap());
    println!("spread of the medians: {spread:.1} ms");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
