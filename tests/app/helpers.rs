//! Starts the real application on 127.0.0.1 with a fresh database (SQLite, or
//! PostgreSQL on the server TEST_DATABASE_URL names) and a real SMTP sink, and
//! drives it with a cookie-keeping HTTP client that does not follow redirects.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine;
use shop_accounts::clock::Clock;
use shop_accounts::config::MetricsListen;
use shop_accounts::state::AppState;
use shop_accounts::store::Db;
use shop_accounts::{Application, Config};
use tokio::sync::oneshot;

use crate::smtp_sink::{ReceivedMail, SmtpSink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares a test that runs once per store: `name::sqlite`, and `name::postgres`.
/// The PostgreSQL half needs a server, so a plain `cargo test` lists it as
/// ignored (with the reason) rather than counting it as passed; run it with
/// `TEST_DATABASE_URL=… cargo test -- --include-ignored`, where a missing
/// TEST_DATABASE_URL fails it.
#[macro_export]
macro_rules! store_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "PostgreSQL half: set TEST_DATABASE_URL and run with --include-ignored"]
            async fn postgres() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                ($body)(app).await;
            }
        }
    };
}

/// Like `store_test!`, on an app whose configuration `adjust` changed first.
#[macro_export]
macro_rules! store_test_with {
    ($name:ident, $adjust:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app =
                    $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, $adjust)
                        .await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "PostgreSQL half: set TEST_DATABASE_URL and run with --include-ignored"]
            async fn postgres() {
                let app = $crate::helpers::TestApp::spawn_with(
                    $crate::helpers::Backend::Postgres,
                    $adjust,
                )
                .await;
                ($body)(app).await;
            }
        }
    };
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A scalar query with one text parameter, on either store.
pub async fn scalar_with(db: &Db, sql: &str, param: &str) -> i64 {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).bind(param).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).bind(param).fetch_one(pool).await,
    }
    .unwrap()
}

/// A statement with one text parameter, on either store, outside any transaction.
pub async fn execute_with(db: &Db, sql: &str, param: &str) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sql).bind(param).execute(pool).await.map(|_| ()),
        Db::Postgres(pool) => sqlx::query(sql).bind(param).execute(pool).await.map(|_| ()),
    }
    .unwrap()
}

fn address_in_use(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
}

/// A name no other test in this run has (process id and a counter).
pub fn unique() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The PostgreSQL server the PostgreSQL halves use (TEST_DATABASE_URL). A test
/// that needs it fails without it: it must never pass without having run.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_DATABASE_URL is not set, so this PostgreSQL test cannot run; \
             set it, e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
        )
    })
}

/// A fresh database URL for one test.
pub async fn fresh_database(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("shop-accounts-tests");
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(format!("t_{}.db", unique()));
            format!("sqlite://{}", file.display())
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let name = format!("sa_t_{}", unique());
            let pool = sqlx::PgPool::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            drop_stale_databases(&pool).await;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("create database");
            pool.close().await;
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
    }
}

/// Drops the databases earlier test runs left behind (once per test process).
async fn drop_stale_databases(pool: &sqlx::PgPool) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let ours: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'sa\\_t\\_%'")
                .fetch_all(pool)
                .await
                .unwrap_or_default();
        // Only databases of test processes that have ended: test runs in other
        // checkouts may be running beside this one.
        let stale = ours.into_iter().filter(|name| {
            let pid = name
                .trim_start_matches("sa_t_")
                .split('_')
                .next()
                .unwrap_or("");
            !std::path::Path::new("/proc").join(pid).exists()
        });
        for name in stale {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(pool)
                .await;
        }
    })
    .await;
}

pub struct TestApp {
    pub address: String,
    /// Where `GET /metrics` is served (its own listener, never the public one).
    pub metrics_address: String,
    pub state: AppState,
    pub smtp: SmtpSink,
    pub backend: Backend,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app after `adjust` had its say on the configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let database_url = fresh_database(backend).await;
        let smtp = SmtpSink::start().await;
        Self::start(
            backend,
            database_url,
            smtp,
            Arc::new(Clock::default()),
            adjust,
        )
        .await
    }

    /// Starts the app on a database URL the test prepared (one that reaches the
    /// database through a proxy the test can cut, say), migrating it as usual.
    pub async fn spawn_on(
        backend: Backend,
        database_url: String,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let smtp = SmtpSink::start().await;
        Self::start(
            backend,
            database_url,
            smtp,
            Arc::new(Clock::default()),
            adjust,
        )
        .await
    }

    async fn start(
        backend: Backend,
        database_url: String,
        smtp: SmtpSink,
        clock: Arc<Clock>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = Config::with_database(&database_url);
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.base_url = format!("http://127.0.0.1:{port}").parse().unwrap();
        config.smtp_url = Some(smtp.url());
        config.support_email = "help@shop.test".into();
        config.metrics_listen = MetricsListen(Some("127.0.0.1:0".parse().unwrap()));
        // Each test client sends its own X-Forwarded-For, so each is a distinct visitor.
        config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        if backend == Backend::Postgres {
            // The sealed path is the one the suite runs (SQLite seals with its key file).
            config.secret_key = Some(
                "test-secret-key-of-postgres-test-instances"
                    .parse()
                    .unwrap(),
            );
        }
        adjust(&mut config);
        let db = Db::connect(&database_url).await.expect("connect");
        db.migrate().await.expect("migrate");
        // The suite's admins sign in with a password alone unless a test asks
        // for two-factor (`TestApp::require_two_factor`); a test's own choice,
        // made before a restart, stays.
        db.setting_or_insert("options.admin_two_factor", "optional")
            .await
            .expect("admin_two_factor for the suite");
        let mut port = port;
        let mut tries = 0;
        let app = loop {
            match Application::build_with(config.clone(), db.clone(), clock.clone()).await {
                Ok(app) => break app,
                // The port was free when it was picked; another test's server or
                // an outgoing connection has taken it since: pick another.
                Err(e) if tries < 5 && address_in_use(&e) => {
                    tries += 1;
                    let next = StdListener::bind("127.0.0.1:0")
                        .unwrap()
                        .local_addr()
                        .unwrap()
                        .port();
                    if config.base_url.as_str() == format!("http://127.0.0.1:{port}/") {
                        config.base_url = format!("http://127.0.0.1:{next}").parse().unwrap();
                    }
                    config.listen = format!("127.0.0.1:{next}").parse().unwrap();
                    port = next;
                }
                Err(e) => panic!("build app: {e:?}"),
            }
        };
        let state = app.state().clone();
        let metrics_address = app
            .metrics_port()
            .map(|port| format!("http://127.0.0.1:{port}"))
            .unwrap_or_default();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until_stopped(async {
                let _ = rx.await;
            })
            .await
            .expect("server");
        });
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            metrics_address,
            state,
            smtp,
            backend,
            database_url,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Stops the server (draining requests and the mail worker) and starts a new
    /// one on the same database, SMTP sink and clock: a restart.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// A restart after `adjust` had its say on the new instance's configuration.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        self.stop().await;
        let clock = self.state.clock.clone();
        let smtp = std::mem::replace(&mut self.smtp, SmtpSink::start().await);
        Self::start(self.backend, self.database_url.clone(), smtp, clock, adjust).await
    }

    /// A second instance on the same database (and SMTP sink address).
    pub async fn second_instance(&self) -> TestApp {
        self.second_instance_with(|_| {}).await
    }

    /// A second instance, after `adjust` had its say on its configuration.
    pub async fn second_instance_with(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let smtp_url = self.smtp.url();
        let smtp = SmtpSink::start().await;
        Self::start(
            self.backend,
            self.database_url.clone(),
            smtp,
            self.state.clock.clone(),
            move |c| {
                c.smtp_url = Some(smtp_url);
                adjust(c);
            },
        )
        .await
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// The Prometheus text from the metrics listener.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.metrics_address))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .unwrap()
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    pub fn advance_clock(&self, seconds: i64) {
        self.state.clock.advance(seconds);
    }

    /// Moves the clock and wakes the mail worker, so due retries go now.
    pub fn advance_clock_and_wake(&self, seconds: i64) {
        self.state.clock.advance(seconds);
        self.state.mail_queued.notify_one();
    }

    /// A new Administrator (no two-factor), and a client signed in as them.
    pub async fn signed_in_administrator(&self, email: &str, password: &str) -> Client {
        shop_accounts::accounts::admins::create(
            &self.state,
            email,
            "Ada Admin",
            shop_accounts::accounts::admins::Role::Administrator,
            password,
            None,
        )
        .await
        .expect("create administrator");
        let client = self.client();
        let response = client
            .post_form("/admin/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(
            location(&response),
            "/admin/customers",
            "the administrator signs in"
        );
        client
    }

    /// A new browser-like client with its own cookies and its own client IP.
    pub fn client(&self) -> Client {
        static NEXT_IP: AtomicU32 = AtomicU32::new(1);
        let n = NEXT_IP.fetch_add(1, Ordering::SeqCst);
        self.client_from(&format!(
            "10.{}.{}.{}",
            (n >> 16) & 255,
            (n >> 8) & 255,
            n & 255
        ))
    }

    /// A client that appears to come from `ip` (via the trusted proxy header).
    pub fn client_from(&self, ip: &str) -> Client {
        self.browser_from(ip, None)
    }

    /// A client from `ip` that sends `user_agent` (reqwest sends none).
    pub fn browser_from(&self, ip: &str, user_agent: Option<&str>) -> Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        if let Some(agent) = user_agent {
            headers.insert("user-agent", agent.parse().unwrap());
        }
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            // The server closes a kept-alive connection after 10 s without a
            // request; a client that reused one at that moment would see it
            // dropped. Browsers and proxies keep idle connections shorter too.
            .pool_idle_timeout(std::time::Duration::from_secs(4))
            .build()
            .unwrap();
        Client {
            base: self.address.clone(),
            http,
            form_key: std::sync::Mutex::new(None),
        }
    }

    /// Registers a customer through the storefront and signs the client out again.
    pub async fn register(&self, email: &str, password: &str) -> Client {
        let client = self.client();
        let response = client
            .post_form(
                "/customer/account/create",
                &[
                    ("firstname", "Jane"),
                    ("lastname", "Doe"),
                    ("email", email),
                    ("password", password),
                    ("password_confirmation", password),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(
            location(&response),
            "/customer/account",
            "registration of {email} failed"
        );
        client.follow(&response).await;
        let out = client.post_form("/customer/account/logout", &[]).await;
        client.follow(&out).await;
        client
    }

    /// Two-factor sign-in required for administrators (the product's default).
    pub async fn require_two_factor(&self) {
        self.set_option("admin_two_factor", "required").await;
    }

    /// Sets a Password Options value directly in the database.
    pub async fn set_option(&self, name: &str, value: &str) {
        self.db()
            .put_setting(&format!("options.{name}"), value)
            .await
            .unwrap();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    form_key: std::sync::Mutex<Option<String>>,
}

impl Client {
    /// The same browser (cookies and all) talking to another instance.
    pub fn on(&self, app: &TestApp) -> Client {
        Client {
            base: app.address.clone(),
            http: self.http.clone(),
            form_key: std::sync::Mutex::new(self.form_key.lock().unwrap().clone()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// Follows one redirect: GETs the Location of `response`.
    pub async fn follow(&self, response: &reqwest::Response) -> String {
        let target = location(response);
        self.get_text(&target).await
    }

    /// The form key of this browser (fetched once from a page).
    pub async fn form_key(&self) -> String {
        if let Some(key) = self.form_key.lock().unwrap().clone() {
            return key;
        }
        let page = self.get_text("/customer/account/forgotpassword").await;
        let key = extract_form_key(&page).expect("a page with a form key");
        *self.form_key.lock().unwrap() = Some(key.clone());
        key
    }

    /// POSTs a form with this browser's form key added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let key = self.form_key().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("form_key", &key));
        self.http
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .expect("POST")
    }

    /// POSTs a form exactly as given (no form key added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/customer/account/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn request_reset(&self, email: &str) -> reqwest::Response {
        self.post_form("/customer/account/forgotpassword", &[("email", email)])
            .await
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub fn extract_form_key(page: &str) -> Option<String> {
    let start = page.find("name=\"form_key\" value=\"")? + "name=\"form_key\" value=\"".len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

/// The texts of the flash messages on a page.
pub fn flashes(page: &str) -> Vec<String> {
    page.split("<p class=\"message ")
        .skip(1)
        .filter_map(|chunk| {
            let start = chunk.find('>')? + 1;
            let end = chunk.find("</p>")?;
            Some(html_unescape(&chunk[start..end]))
        })
        .collect()
}

pub fn html_unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The reset link in a mail, if any.
pub fn reset_link(mail: &ReceivedMail) -> Option<String> {
    let text = mail.text();
    let start = text.find("http")?;
    let candidate = &text[start..];
    let end = candidate
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .unwrap_or(candidate.len());
    let link = &candidate[..end];
    link.contains("createPassword?token=")
        .then(|| link.to_string())
}

/// The token of a reset link.
pub fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_string()
}

/// The path and query of a link, to request it from the test server.
pub fn path_of(link: &str) -> String {
    let url = url::Url::parse(link).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
}

/// Decodes every part of a MIME message (quoted-printable, base64, 7bit) and joins them.
pub fn decode_mime(raw: &str) -> String {
    let mut out = String::new();
    let boundary = raw.split("boundary=").nth(1).map(|b| {
        b.trim_start_matches('"')
            .split(['"', '\r', '\n', ';'])
            .next()
            .unwrap_or("")
            .to_string()
    });
    let parts: Vec<&str> = match &boundary {
        Some(b) if !b.is_empty() => raw.split(&format!("--{b}")).skip(1).collect(),
        _ => vec![raw],
    };
    for part in parts {
        let Some((head, body)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let head_lower = head.to_ascii_lowercase();
        let decoded = if head_lower.contains("content-transfer-encoding: quoted-printable") {
            decode_quoted_printable(body)
        } else if head_lower.contains("content-transfer-encoding: base64") {
            let joined: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            body.to_string()
        };
        out.push_str(&decoded);
        out.push('\n');
    }
    out
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=` and `=?utf-8?q?…?=`).
pub fn decode_encoded_words(raw: &str) -> String {
    let mut out = String::new();
    for word in raw.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && word.ends_with("?=") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&word[10..word.len() - 2])
                .unwrap_or_default();
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else if lower.starts_with("=?utf-8?q?") && word.ends_with("?=") {
            out.push_str(&decode_quoted_printable(
                &word[10..word.len() - 2].replace('_', " "),
            ));
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}
