//! `demo-data --customers N`: realistic fake customers for demos and benchmarks,
//! inserted in batches that share one precomputed password hash.

use std::io::Write;
use std::time::Instant;

use crate::accounts::{Email, new_security_stamp};
use crate::secrets::{random_token, token_hash};
use crate::state::AppState;
use crate::store::DemoCustomer;

/// Every demo customer signs in with this password.
pub const DEMO_PASSWORD: &str = "demo-password-2024";
/// Customers generated and handed to the store at a time: small enough that the
/// progress bar moves; the store groups batches into larger transactions.
const BATCH: usize = 10_000;
/// Demo API tokens stay live for 30 days, so the grid shows active tokens.
const TOKEN_LIFETIME_SECS: i64 = 30 * 24 * 3600;

const FIRST_NAMES: &[&str] = &[
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Sophie",
    "Daan",
    "Julia",
    "Sem",
    "Mila",
    "Lucas",
    "Anna",
    "Finn",
    "Eva",
    "Levi",
    "Sara",
    "Milan",
    "Lotte",
    "Jesse",
    "Tess",
    "Thomas",
    "James",
    "Charlotte",
    "Amelia",
    "Oliver",
    "Isla",
    "Jack",
    "Harper",
    "Henry",
    "Ava",
    "Leo",
    "Mia",
    "Lena",
    "Jan",
    "Fenna",
    "Bram",
    "Nina",
    "Ruben",
    "Zoë",
    "Sven",
    "Maria",
    "José",
    "Chloé",
    "Björn",
    "Ingrid",
    "Mateo",
    "Lucía",
    "Aiko",
    "Ravi",
    "Fatima",
    "Omar",
];
const LAST_NAMES: &[&str] = &[
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "de Boer",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Dubois",
    "Laurent",
    "Rossi",
    "Russo",
    "Novak",
    "Kowalski",
    "Nielsen",
    "Hansen",
    "Andersson",
    "Yamamoto",
    "Patel",
    "Khan",
    "Okafor",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "shop.example",
];

/// A small deterministic generator (xorshift): the same N gives the same shop.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn ascii_slug(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'é' | 'è' | 'ë' => Some('e'),
            'ö' | 'ó' => Some('o'),
            'ü' | 'ú' => Some('u'),
            'í' => Some('i'),
            _ => None,
        })
        .collect()
}

fn customer(i: u64, rng: &mut Rng, now: i64, tag: &str) -> DemoCustomer {
    let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
    let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
    let domain = DOMAINS[rng.below(DOMAINS.len() as u64) as usize];
    let created_at = now - rng.below(6 * 365 * 24 * 3600) as i64;
    let last_sign_in_at = (rng.below(10) < 8)
        .then(|| created_at + rng.below((now - created_at).max(1) as u64) as i64);
    let locked_until = (rng.below(200) == 0).then(|| now + 600);
    let api_tokens = if rng.below(20) == 0 {
        1 + rng.below(3) as usize
    } else {
        0
    };
    let email = format!(
        "{}.{}.{tag}{i}@{domain}",
        ascii_slug(first),
        ascii_slug(last)
    );
    let email_key = Email::parse(&email)
        .expect("generated addresses are ASCII slugs, always valid")
        .key();
    DemoCustomer {
        email,
        email_key,
        firstname: first.to_string(),
        lastname: last.to_string(),
        security_stamp: new_security_stamp(),
        locale: if rng.below(3) == 0 { "nl" } else { "en" },
        created_at,
        last_sign_in_at,
        locked_until,
        // Only hashes are stored; nobody ever learns these tokens.
        api_token_hashes: (0..api_tokens)
            .map(|_| token_hash(&random_token()))
            .collect(),
    }
}

fn progress(done: u64, total: u64, started: Instant) {
    let width = 40;
    let filled = (done * width / total.max(1)) as usize;
    let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
    eprint!(
        "\r[{}{}] {done}/{total} customers ({rate:.0}/s)",
        "#".repeat(filled),
        " ".repeat(width as usize - filled)
    );
    let _ = std::io::stderr().flush();
}

pub async fn fill(state: &AppState, count: u64) -> anyhow::Result<()> {
    let hash =
        tokio::task::spawn_blocking(|| crate::accounts::hash_for_demo(DEMO_PASSWORD)).await??;
    let now = state.now();
    // A run tag keeps the emails of repeated runs apart.
    let tag = format!("{:x}", now % 0xfffff);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ now as u64);
    let started = Instant::now();
    let mut loader = state.db.demo_loader().await?;
    let mut done = 0;
    while done < count {
        let size = (count - done).min(BATCH as u64);
        let batch: Vec<DemoCustomer> = (done..done + size)
            .map(|i| customer(i, &mut rng, now, &tag))
            .collect();
        loader
            .insert(&batch, &hash, now, now + TOKEN_LIFETIME_SECS)
            .await?;
        done += size;
        progress(done, count, started);
    }
    loader.finish().await?;
    eprintln!();
    eprintln!("updating the planner statistics…");
    state.db.analyze().await?;
    println!(
        "added {count} customers in {:.1}s; each signs in with the password {DEMO_PASSWORD:?}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
