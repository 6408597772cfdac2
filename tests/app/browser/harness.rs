//! The browser harness: starts chromedriver (two browsers at a time), and gives
//! the tours a `Browser` that navigates, fills, clicks, audits each page in the
//! browser (`audit.js`), photographs the named ones and writes their index.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use shop_accounts::i18n::Locale;

use crate::helpers::*;

/// Two browsers at a time: the tours are the longest chain of the test run, and
/// the rest of it mostly waits; more would crowd the two cores it shares.
static BROWSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
static PROFILES: AtomicU32 = AtomicU32::new(0);

/// The screen widths every photographed page is taken at.
const WIDTHS: [(&str, u32, bool); 2] = [("desktop", 1280, false), ("phone", 390, true)];

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain([PathBuf::from("/usr/bin")])
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

/// chromedriver started by this test, and the browser profile it uses.
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
    _permit: tokio::sync::SemaphorePermit<'static>,
}

impl Driver {
    /// Starts chromedriver; a test that cannot have a browser fails (these tests
    /// are ignored unless asked for, so asking for them without one is an error).
    async fn start(test: &str) -> (Driver, PathBuf) {
        let permit = BROWSERS.acquire().await.expect("semaphore");
        let driver = find_program("CHROMEDRIVER", &["chromedriver"]);
        let chrome = find_program(
            "CHROME_BIN",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let (Some(driver), Some(chrome)) = (driver, chrome) else {
            panic!(
                "{test}: chromedriver or chromium is not installed \
                 (apt-get install chromium chromium-driver, or set CHROMEDRIVER and CHROME_BIN)"
            );
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let profile = std::env::temp_dir().join(format!(
            "shop-accounts-chromium-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&profile).expect("browser profile dir");
        let driver = Driver {
            child,
            port,
            profile,
            _permit: permit,
        };
        // Ready when it listens (it exits at once when it cannot start).
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (driver, chrome);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not listen on port {port}");
    }

    async fn session(&self, chrome: &Path, base: &str, locale: Locale) -> Browser {
        let accept_language = match locale {
            Locale::En => "en-GB,en",
            Locale::Nl => "nl-NL,nl",
        };
        let caps = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": chrome.display().to_string(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                    "--window-size=1280,900",
                    format!("--lang={}", locale.code()),
                    format!("--user-data-dir={}", self.profile.display()),
                ],
                "prefs": { "intl.accept_languages": accept_language },
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a chromedriver session");
        Browser {
            client,
            base: base.to_string(),
            locale,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// chromedriver's browser console log (`POST /session/{id}/se/log`); reading
/// it empties it.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_string()),
        )
    }
}

/// A Chrome DevTools command through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// Runs `tour` with a fresh app and a browser speaking `locale`; closes the
/// browser and chromedriver whatever happens, and keeps a picture of a failure.
pub async fn with_browser<F, Fut>(test: &'static str, locale: Locale, tour: F)
where
    F: FnOnce(TestApp, Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_browser_on(test, locale, |_| {}, tour).await;
}

/// `with_browser` on an app whose configuration `adjust` changed first.
pub async fn with_browser_on<F, Fut>(
    test: &'static str,
    locale: Locale,
    adjust: impl FnOnce(&mut shop_accounts::Config),
    tour: F,
) where
    F: FnOnce(TestApp, Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (driver, chrome) = Driver::start(test).await;
    let _ = std::fs::remove_file(screenshot_dir().join(format!("FAILED-{test}.png")));
    let app = TestApp::spawn_with(Backend::Sqlite, adjust).await;
    let browser = driver.session(&chrome, &app.address, locale).await;
    let outcome = tokio::spawn(tour(app, browser.clone())).await;
    if outcome.is_err() {
        browser.save_failure(test).await;
    }
    let _ = browser.client.close().await;
    drop(driver);
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("{test}: {e}"),
        }
    }
}

/// What the in-page audit reports.
#[derive(Debug, serde::Deserialize)]
struct Audit {
    lang: String,
    problems: Vec<String>,
    text: String,
}

const AUDIT_JS: &str = include_str!("audit.js");

/// English catalog text that must not appear on a Dutch page: the fixed parts
/// of every English message that the Dutch catalog words differently.
fn english_fragments() -> Vec<String> {
    fn messages(ftl: &str) -> Vec<(String, String)> {
        ftl.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' '))
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    }
    let en = messages(include_str!("../../../src/i18n/locales/en/main.ftl"));
    let nl = messages(include_str!("../../../src/i18n/locales/nl/main.ftl"));
    let mut fragments = Vec::new();
    for (key, english) in en {
        let dutch = nl
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let mut rest = english.as_str();
        while !rest.is_empty() {
            let (piece, after) = match rest.find('{') {
                Some(open) => (
                    &rest[..open],
                    rest[open..]
                        .find('}')
                        .map(|close| &rest[open + close + 1..])
                        .unwrap_or(""),
                ),
                None => (rest, ""),
            };
            let piece = piece.trim().trim_end_matches([',', ':']).trim();
            if piece.chars().filter(|c| c.is_alphabetic()).count() >= 4 && !dutch.contains(piece) {
                fragments.push(piece.to_string());
            }
            rest = after;
        }
    }
    fragments
}

fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

#[derive(Clone)]
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub locale: Locale,
}

impl Browser {
    pub fn t(&self, key: &str) -> String {
        self.locale.t(key)
    }

    pub async fn goto(&self, path_or_url: &str) {
        let url = if path_or_url.starts_with('/') {
            format!("{}{}", self.base, path_or_url)
        } else {
            path_or_url.to_string()
        };
        self.client.goto(&url).await.expect("navigate");
    }

    /// Path and query of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits until the browser shows `path` (after a click that navigates).
    pub async fn wait_path(&self, path: &str) {
        self.wait_until(path, |shown| shown == path).await;
    }

    /// Waits until the path and query shown starts with `prefix`.
    pub async fn wait_path_prefix(&self, prefix: &str) {
        self.wait_until(prefix, |shown| shown.starts_with(prefix))
            .await;
    }

    async fn wait_until(&self, what: &str, arrived: impl Fn(&str) -> bool) {
        for _ in 0..400 {
            if arrived(&self.path().await)
                && self
                    .client
                    .execute("return document.readyState", vec![])
                    .await
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s == "complete"))
                    .unwrap_or(false)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected to arrive at {what}, the browser shows {}",
            self.path().await
        );
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.path().await),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .is_empty()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.expect("attribute")
    }

    /// Clicks the link or button whose text is `text`.
    pub async fn click_text(&self, text: &str) {
        let literal = xpath_literal(text);
        let xpath = format!(
            "//*[self::a or self::button][normalize-space(.)={literal} or normalize-space(@aria-label)={literal}]"
        );
        let target = match self.client.find(Locator::XPath(&xpath)).await {
            Ok(element) => element,
            Err(e) => panic!("no link or button {text:?} on {}: {e}", self.path().await),
        };
        target.click().await.expect("click");
    }

    /// Clicks the submit button of the form posting to `action`, after checking
    /// that the button says `label`.
    pub async fn submit(&self, action: &str, label: &str) {
        let button = self
            .find(&format!(
                "form[action=\"{action}\"] button[type=submit], form[action=\"{action}\"] input[type=submit]"
            ))
            .await;
        let text = button.text().await.expect("button text");
        assert_eq!(text.trim(), label, "the button of the form {action}");
        // Mark this document, so the wait below sees the answer's document
        // even when the form posts back to its own path.
        let _ = self
            .client
            .execute("window.__submitted_from = true; return true;", vec![])
            .await;
        button.click().await.expect("click");
        for _ in 0..400 {
            let replaced = self
                .client
                .execute(
                    "return window.__submitted_from !== true && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if replaced {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The flash messages shown on the page.
    pub async fn flashes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for message in self
            .client
            .find_all(Locator::Css(".messages .message"))
            .await
            .expect("find messages")
        {
            out.push(message.text().await.expect("text").trim().to_string());
        }
        out
    }

    /// The input is marked invalid and its description holds `message`. Waits
    /// for it: a form that posts back to its own path shows the answer without
    /// a change of path to wait for.
    pub async fn assert_field_error(&self, css: &str, message: &str) {
        let mut described = self.field_state(css).await;
        for _ in 0..200 {
            if described.starts_with("true|") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            described = self.field_state(css).await;
        }
        let (invalid, description) = described.split_once('|').unwrap_or(("", ""));
        assert_eq!(invalid, "true", "{css} is marked aria-invalid");
        assert!(
            description.contains(message),
            "{css} is described by {message:?}; its description is {description:?}"
        );
    }

    /// `aria-invalid|the text of its description` of one input.
    async fn field_state(&self, css: &str) -> String {
        self.client
            .execute(
                "const el = document.querySelector(arguments[0]);
                 return el.getAttribute('aria-invalid') + '|' +
                   (el.getAttribute('aria-describedby') || '').split(/\\s+/)
                     .map((id) => document.getElementById(id)).filter(Boolean)
                     .map((e) => e.textContent.trim()).join(' ');",
                vec![json!(css)],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    async fn cdp(&self, cmd: &'static str, params: Value) {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    }

    async fn emulate(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    /// Console messages since the last call that are errors or warnings.
    async fn console_problems(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("the browser console log (chromedriver /se/log)");
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| matches!(entry["level"].as_str(), Some("SEVERE") | Some("WARNING")))
            .map(|entry| format!("console: {}", entry["message"].as_str().unwrap_or("")))
            .collect()
    }

    async fn audit(&self) -> Audit {
        let value = self
            .client
            .execute(AUDIT_JS, vec![])
            .await
            .expect("audit script");
        serde_json::from_value(value).expect("audit result")
    }

    /// Audits the page shown at the current width; panics with every problem.
    pub async fn check(&self) {
        self.check_allowing(&[]).await;
    }

    /// `check`, tolerating console messages that contain one of `allowed`.
    pub async fn check_allowing(&self, allowed: &[&str]) {
        let audit = self.audit().await;
        let mut problems = audit.problems;
        problems.extend(
            self.console_problems()
                .await
                .into_iter()
                .filter(|p| !allowed.iter().any(|a| p.contains(a))),
        );
        if audit.lang != self.locale.code() {
            problems.push(format!(
                "<html lang={:?}>, expected {:?}",
                audit.lang,
                self.locale.code()
            ));
        }
        if self.locale == Locale::Nl {
            // Words as a person reads them; links (the reset URL) are not words.
            let words: Vec<&str> = audit
                .text
                .split_whitespace()
                .filter(|w| !w.contains("://"))
                .collect();
            let words = words.join(" ");
            for english in english_fragments() {
                if words.contains(&english) {
                    problems.push(format!("English on a Dutch page: {english:?}"));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "{} has problems:\n  {}",
            self.path().await.chars().take(100).collect::<String>(),
            problems.join("\n  ")
        );
    }

    /// Checks the page at both widths and photographs it:
    /// `target/screenshots/{name}--{lang}-{desktop|phone}.png`.
    pub async fn page(&self, name: &str) {
        self.page_allowing(name, &[]).await;
    }

    pub async fn page_allowing(&self, name: &str, allowed: &[&str]) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        for (label, width, mobile) in WIDTHS {
            self.emulate(width, 800, mobile).await;
            self.check_allowing(allowed).await;
            let height = self
                .client
                .execute(
                    "return Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight))",
                    vec![],
                )
                .await
                .expect("page height")
                .as_u64()
                .unwrap_or(800)
                .clamp(600, 6000) as u32;
            self.emulate(width, height, mobile).await;
            let png = self.client.screenshot().await.expect("screenshot");
            let file = dir.join(format!("{name}--{}-{label}.png", self.locale.code()));
            std::fs::write(&file, png).expect("write screenshot");
        }
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
        write_index(&dir);
    }

    /// Shows the HTML part of a mail as a page, checks and photographs it.
    pub async fn show_mail(&self, mail: &crate::smtp_sink::ReceivedMail, name: &str) {
        use base64::Engine;
        let text = mail.text();
        let start = text.find("<!DOCTYPE html>").expect("an HTML part");
        let end = text[start..]
            .find("</html>")
            .map(|e| start + e + "</html>".len())
            .expect("the end of the HTML part");
        let html = base64::engine::general_purpose::STANDARD.encode(&text[start..end]);
        self.goto(&format!("data:text/html;charset=utf-8;base64,{html}"))
            .await;
        self.page(name).await;
    }

    async fn save_failure(&self, test: &str) {
        let dir = screenshot_dir();
        if std::fs::create_dir_all(&dir).is_ok()
            && let Ok(png) = self.client.screenshot().await
        {
            let file = dir.join(format!("FAILED-{test}.png"));
            let _ = std::fs::write(&file, png);
            eprintln!("{test}: the page at failure is in {}", file.display());
        }
    }

    /// Presses keys on whatever has focus, one after another.
    pub async fn press(&self, keys: &[Key]) {
        let mut actions = KeyActions::new("keyboard".to_string());
        for key in keys {
            let value: char = (*key).into();
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client
            .perform_actions(actions)
            .await
            .expect("key presses");
    }

    /// Types text into whatever has focus.
    pub async fn type_text(&self, text: &str) {
        let mut actions = KeyActions::new("keyboard".to_string());
        for value in text.chars() {
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client.perform_actions(actions).await.expect("typing");
    }

    /// Tabs through the page from where the focus is, once round, asserting
    /// that every stop shows a visible focus; returns the stops in order.
    pub async fn tab_stops(&self) -> Vec<String> {
        let mut stops: Vec<String> = Vec::new();
        for _ in 0..80 {
            self.press(&[Key::Tab]).await;
            let (name, visible) = self.focused().await;
            if name.starts_with("body") || stops.contains(&name) {
                return stops;
            }
            assert!(
                visible,
                "no visible focus on {name} ({})",
                self.path().await
            );
            stops.push(name);
        }
        panic!("more than 80 Tab stops on {}: {stops:?}", self.path().await);
    }

    /// A description of the focused element and whether its focus is visible.
    pub async fn focused(&self) -> (String, bool) {
        let value = self
            .client
            .execute(
                "const el = document.activeElement;
                 const s = getComputedStyle(el);
                 const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
                   || (s.boxShadow && s.boxShadow !== 'none');
                 const r = el.getBoundingClientRect();
                 const onScreen = r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0
                   && r.left < innerWidth;
                 const name = el.id ? '#' + el.id
                   : el.tagName.toLowerCase() + ' ' + (el.textContent || el.value || '').trim().slice(0, 40);
                 return [name, ring && onScreen];",
                vec![],
            )
            .await
            .expect("focused element");
        (
            value[0].as_str().unwrap_or("").to_string(),
            value[1].as_bool().unwrap_or(false),
        )
    }
}

/// `target/screenshots/index.html`: every screenshot, grouped by page, the four
/// variants side by side.
fn write_index(dir: &Path) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png") && n.contains("--"))
        .collect();
    names.sort();
    let mut pages: Vec<String> = names
        .iter()
        .filter_map(|n| n.split("--").next().map(str::to_string))
        .collect();
    pages.dedup();
    let mut html = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>shop-accounts screenshots</title>\
         <style>body{font-family:sans-serif;margin:1rem}figure{display:inline-block;vertical-align:top;margin:0 1rem 1rem 0}\
         img{border:1px solid #ccc;max-width:640px}img.phone{max-width:195px}</style></head><body>\
         <h1>shop-accounts screenshots</h1>",
    );
    for page in pages {
        html.push_str(&format!("<h2>{page}</h2>"));
        for lang in ["en", "nl"] {
            for (label, _, _) in WIDTHS {
                let file = format!("{page}--{lang}-{label}.png");
                if names.contains(&file) {
                    html.push_str(&format!(
                        "<figure><a href=\"{file}\"><img class=\"{label}\" src=\"{file}\" alt=\"{page} {lang} {label}\"></a><figcaption>{lang} · {label}</figcaption></figure>"
                    ));
                }
            }
        }
    }
    html.push_str("</body></html>\n");
    let _ = std::fs::write(dir.join("index.html"), html);
}

/// The mails to `to` whose subject is `subject`.
pub fn mails_with(app: &TestApp, to: &str, subject: &str) -> Vec<crate::smtp_sink::ReceivedMail> {
    app.smtp
        .received()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.subject() == subject)
        .collect()
}

pub async fn wait_for_mail(
    app: &TestApp,
    to: &str,
    subject: &str,
    count: usize,
) -> crate::smtp_sink::ReceivedMail {
    for _ in 0..400 {
        let found = mails_with(app, to, subject);
        if found.len() >= count {
            return found[count - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subjects: Vec<String> = app.smtp.received().iter().map(|m| m.subject()).collect();
    panic!("no mail {subject:?} number {count} to {to}; received: {subjects:?}");
}
