//! `shop-accounts check`: what a deploy script or a container health check asks
//! before trusting an instance. Every check prints one line; a problem makes the
//! exit status 1.
//!
//! `check` (before a start): the database is reachable and migrated, the SMTP
//! server answers EHLO (no mail is sent), BASE_URL is sane, LISTEN and
//! METRICS_LISTEN are free. `check --ready` (while serving): the server on
//! LISTEN answers `/readyz`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use lettre::{AsyncSmtpTransport, Tokio1Executor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::sqlite_file;
use crate::config::Config;
use crate::store::{self, Db};

/// How long one check may take before it counts as unreachable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Worth a look, but not a reason to stop a deploy.
    Warning,
    Problem,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub outcome: Outcome,
    pub line: String,
}

impl Finding {
    fn ok(line: impl Into<String>) -> Self {
        Finding {
            outcome: Outcome::Ok,
            line: line.into(),
        }
    }
    fn warning(line: impl Into<String>) -> Self {
        Finding {
            outcome: Outcome::Warning,
            line: line.into(),
        }
    }
    fn problem(line: impl Into<String>) -> Self {
        Finding {
            outcome: Outcome::Problem,
            line: line.into(),
        }
    }
}

/// Prints one line per check and exits 1 when any found a problem.
pub async fn run(config: &Config, ready: bool) -> anyhow::Result<()> {
    let findings = if ready {
        vec![server_ready(config).await]
    } else {
        before_start(config).await
    };
    for finding in &findings {
        match finding.outcome {
            Outcome::Ok => println!("ok       {}", finding.line),
            Outcome::Warning => println!("warning  {}", finding.line),
            Outcome::Problem => eprintln!("problem  {}", finding.line),
        }
    }
    if findings.iter().any(|f| f.outcome == Outcome::Problem) {
        std::process::exit(1);
    }
    Ok(())
}

/// Every check of a plain `check`, in order.
pub async fn before_start(config: &Config) -> Vec<Finding> {
    let mut findings = vec![database(config).await, smtp(config).await];
    findings.extend(base_url(config));
    findings.push(listener_free("LISTEN", config.listen).await);
    match config.metrics_listen.0 {
        Some(address) => findings.push(listener_free("METRICS_LISTEN", address).await),
        None => findings.push(Finding::ok("METRICS_LISTEN is empty: no metrics listener")),
    }
    findings
}

async fn within<T>(work: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(CHECK_TIMEOUT, work).await.ok()
}

pub async fn database(config: &Config) -> Finding {
    if let Some(file) = sqlite_file(&config.database_url)
        && !Path::new(file).exists()
    {
        return Finding::problem(format!(
            "database: the SQLite file {file} does not exist (`shop-accounts migrate` creates it)"
        ));
    }
    match within(store::reach(&config.database_url)).await {
        Some(Ok(())) => {}
        Some(Err(e)) => return Finding::problem(format!("database: cannot connect: {e}")),
        None => return Finding::problem("database: no answer within 5 seconds"),
    }
    let db = match within(Db::connect(&config.database_url)).await {
        Some(Ok(db)) => db,
        Some(Err(e)) => return Finding::problem(format!("database: {e:#}")),
        None => return Finding::problem("database: no answer within 5 seconds"),
    };
    let state = within(db.migration_state()).await;
    db.close().await;
    let backend = db.backend_name();
    match state {
        Some(Ok(s)) if s.unknown > 0 => Finding::problem(format!(
            "database: {backend} holds {} migration(s) this binary does not know (a newer version ran on it)",
            s.unknown
        )),
        Some(Ok(s)) if s.pending > 0 => Finding::problem(format!(
            "database: {backend} lacks {} migration(s) (`shop-accounts migrate` applies them)",
            s.pending
        )),
        Some(Ok(_)) => Finding::ok(format!("database: {backend} reachable, schema up to date")),
        Some(Err(e)) => Finding::problem(format!("database: {e}")),
        None => Finding::problem("database: no answer within 5 seconds"),
    }
}

/// Connects and says EHLO (and logs in, when the URL has credentials); sends no mail.
pub async fn smtp(config: &Config) -> Finding {
    let Some(url) = &config.smtp_url else {
        return Finding::ok(format!(
            "mail: SMTP_URL is unset, mail is written as .eml files in {}",
            config.mail_dir.display()
        ));
    };
    // Never print the URL itself: it may hold a password.
    let server = url::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| "SMTP_URL".to_string());
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
        Ok(builder) => builder
            .timeout(Some(CHECK_TIMEOUT))
            .build::<Tokio1Executor>(),
        Err(e) => return Finding::problem(format!("mail: SMTP_URL is not usable: {e}")),
    };
    match within(transport.test_connection()).await {
        Some(Ok(true)) => Finding::ok(format!("mail: the SMTP server at {server} answers")),
        Some(Ok(false)) => Finding::problem(format!(
            "mail: the SMTP server at {server} does not answer NOOP"
        )),
        Some(Err(e)) => Finding::problem(format!(
            "mail: the SMTP server at {server} is not reachable: {e}"
        )),
        None => Finding::problem(format!(
            "mail: the SMTP server at {server} did not answer within 5 seconds"
        )),
    }
}

/// BASE_URL is what every emailed link starts with.
pub fn base_url(config: &Config) -> Vec<Finding> {
    let url = &config.base_url;
    let mut problems = Vec::new();
    if !matches!(url.scheme(), "http" | "https") {
        problems.push("its scheme must be http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        problems.push("it has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        problems.push("it must not carry a user name or password");
    }
    if url.query().is_some() || url.fragment().is_some() {
        problems.push("it must not carry a query or fragment");
    }
    if !problems.is_empty() {
        return problems
            .into_iter()
            .map(|p| Finding::problem(format!("BASE_URL {url}: {p}")))
            .collect();
    }
    let local = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() == "http" && !local {
        return vec![Finding::warning(format!(
            "BASE_URL {url} is plain http on a non-local host: links travel in clear and cookies are not Secure"
        ))];
    }
    vec![Finding::ok(format!("BASE_URL {url}"))]
}

pub async fn listener_free(name: &str, address: SocketAddr) -> Finding {
    match TcpListener::bind(address).await {
        Ok(listener) => {
            drop(listener);
            Finding::ok(format!("{name} {address} is free"))
        }
        Err(e) => Finding::problem(format!("{name} {address} cannot be bound: {e}")),
    }
}

/// `GET /readyz` on LISTEN (a wildcard address is asked on loopback).
pub async fn server_ready(config: &Config) -> Finding {
    let mut address = config.listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    match within(status_line(address, "/readyz")).await {
        Some(Ok(line)) if line.split(' ').nth(1) == Some("200") => {
            Finding::ok(format!("the server on {address} is ready"))
        }
        Some(Ok(line)) => Finding::problem(format!("the server on {address} is not ready: {line}")),
        Some(Err(e)) => Finding::problem(format!("nothing answers on {address}: {e}")),
        None => Finding::problem(format!(
            "the server on {address} did not answer within 5 seconds"
        )),
    }
}

/// The status line of a plain HTTP/1.1 GET.
async fn status_line(address: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 512];
    while !answer.contains(&b'\n') {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}
