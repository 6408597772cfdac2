//! HTTP abuse (issue 14): huge and trickling bodies, invalid UTF-8, NUL bytes,
//! overlong and duplicate headers, a flood of idle connections and a
//! header-by-header slowloris. Every answer is a 4xx (or the redirect a refused
//! form gets), a timeout or a closed connection: never a 5xx, never a panic, and
//! the server answers normally afterwards. (edge.rs has the stalled head, the
//! idle keep-alive and the small connection cap; these extend them.)

use std::time::{Duration, Instant};

use shop_accounts::accounts::admins::{self, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::store_test;

const LOGIN: &str = "/customer/account/login";
const TOKEN: &str = "/rest/V1/integration/customer/token";
/// A form seed cookie, so the CSRF layer reads the body instead of refusing at once.
const SEED: &str = "form_seed=sssssssssssssssssssssssssssssssssssssssssss";
const ADMIN_PASSWORD: &str = "admin-horse-77";

/// What became of a raw request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The status code of the answer.
    Status(u16),
    /// Closed (or reset) without an answer.
    Closed,
    /// Neither an answer nor a close within the wait.
    Open,
}

impl Outcome {
    /// A 4xx, or closed: what every abusive request must get.
    fn refused(self) -> bool {
        matches!(self, Outcome::Status(400..=499) | Outcome::Closed)
    }
}

fn socket_of(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

/// Reads the answer's status line, or notices the close, within `wait`.
async fn outcome_of(stream: &mut TcpStream, wait: Duration) -> Outcome {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let finished = tokio::time::timeout(wait, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(2).any(|w| w == b"\r\n") {
                        return;
                    }
                }
            }
        }
    })
    .await;
    let head = String::from_utf8_lossy(&got);
    match head.strip_prefix("HTTP/1.1 ").and_then(|s| s.get(..3)) {
        Some(code) => Outcome::Status(code.parse().expect("a status code")),
        None if finished.is_ok() => Outcome::Closed,
        None => Outcome::Open,
    }
}

/// Sends `request` as is (a write the server cut short is fine) and reads the outcome.
async fn send_raw(app: &TestApp, request: &[u8]) -> Outcome {
    let mut stream = TcpStream::connect(socket_of(app)).await.unwrap();
    let _ = stream.write_all(request).await;
    outcome_of(&mut stream, Duration::from_secs(15)).await
}

/// The server still answers an ordinary request.
async fn still_serving(app: &TestApp) {
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the server still answers");
    assert_eq!(response.status(), 200);
}

async fn signed_in_admin(app: &TestApp) -> Client {
    admins::create(
        &app.state,
        "ada@shop.test",
        "Ada Admin",
        Role::Administrator,
        ADMIN_PASSWORD,
        None,
    )
    .await
    .expect("create administrator");
    let client = app.client();
    let response = client
        .post_form(
            "/admin/login",
            &[("email", "ada@shop.test"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/admin/customers");
    client
}

fn status_below_500(status: reqwest::StatusCode, what: &str) {
    assert!(status.as_u16() < 500, "{what}: {status}");
}

store_test!(
    huge_bodies_are_refused_with_413,
    |app: TestApp| async move {
        let big = vec![b'a'; 200 * 1024];
        for (path, extra) in [
            (
                LOGIN,
                format!("Cookie: {SEED}\r\nContent-Type: application/x-www-form-urlencoded\r\n"),
            ),
            (
                "/admin/login",
                format!("Cookie: {SEED}\r\nContent-Type: application/x-www-form-urlencoded\r\n"),
            ),
            (TOKEN, "Content-Type: application/json\r\n".to_string()),
        ] {
            // A declared length far past the limit, with more than the limit sent.
            let mut request = format!(
                "POST {path} HTTP/1.1\r\nHost: shop.test\r\n{extra}Content-Length: 50000000\r\n\r\n"
            )
            .into_bytes();
            request.extend_from_slice(&big);
            assert_eq!(
                send_raw(&app, &request).await,
                Outcome::Status(413),
                "{path}"
            );

            // No length at all: chunks until past the limit.
            let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: shop.test\r\n{extra}Transfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
            for chunk in big.chunks(16 * 1024) {
                request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                request.extend_from_slice(chunk);
                request.extend_from_slice(b"\r\n");
            }
            request.extend_from_slice(b"0\r\n\r\n");
            assert_eq!(
                send_raw(&app, &request).await,
                Outcome::Status(413),
                "{path} chunked"
            );
        }
        still_serving(&app).await;
    }
);

store_test!(a_trickling_body_is_cut_off, |app: TestApp| async move {
    let app = TestApp::spawn_with(app.backend, |c| {
        c.request_timeout = Duration::from_secs(2);
        c.idle_timeout = Duration::from_secs(60);
    })
    .await;
    for (path, extra) in [
        (
            LOGIN,
            format!("Cookie: {SEED}\r\nContent-Type: application/x-www-form-urlencoded\r\n"),
        ),
        (TOKEN, "Content-Type: application/json\r\n".to_string()),
    ] {
        let stream = TcpStream::connect(socket_of(&app)).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: shop.test\r\n{extra}Content-Length: 1000\r\n\r\n"
        );
        write.write_all(head.as_bytes()).await.unwrap();
        // One byte every 200 ms: the connection never goes idle.
        let trickle = tokio::spawn(async move {
            for _ in 0..100 {
                if write.write_all(b"a").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let started = Instant::now();
        let mut answer = String::new();
        let ended = tokio::time::timeout(Duration::from_secs(15), async {
            let mut buf = [0u8; 4096];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => answer.push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        })
        .await;
        trickle.abort();
        assert!(
            ended.is_ok(),
            "{path}: a trickling body is cut off and closed"
        );
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{path}: {answer}"
        );
        assert!(started.elapsed() >= Duration::from_millis(1500), "{path}");
    }
    still_serving(&app).await;
});

store_test!(
    invalid_utf8_in_form_query_and_path_is_a_4xx,
    |app: TestApp| async move {
        let client = app.client();
        let key = client.form_key().await;
        // Form bodies: raw bytes and percent-escapes that are not UTF-8.
        for body in [
            [
                b"email=\xff\xfe%40example.com&password=x&form_key=".as_slice(),
                key.as_bytes(),
            ]
            .concat(),
            format!("email=%FF%FE%40example.com&password=%C3%28&form_key={key}").into_bytes(),
        ] {
            for path in [
                LOGIN,
                "/customer/account/forgotpassword",
                "/customer/account/create",
            ] {
                let response = client
                    .http
                    .post(client.url(path))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 400, "{path}");
            }
        }
        // JSON that is not UTF-8.
        let response = client
            .http
            .post(client.url(TOKEN))
            .header("content-type", "application/json")
            .body(b"{\"username\":\"\xff\xfe\",\"password\":\"x\"}".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "REST token");

        // Query strings and paths.
        let admin = signed_in_admin(&app).await;
        for path in [
            "/customer/account/login?x=%FF%FE",
            "/customer/account/createPassword?token=%FF%FE%FD",
            "/customer/account/createPassword?token=%C3%28",
            "/language/en?back=%FF",
            "/customer/account/%FF%FE",
            "/language/%FF",
            "/static/%FF%FE",
            "/rest/V1/customers/me?x=%FF",
            "/rest/V1/%FF",
        ] {
            status_below_500(client.get(path).await.status(), path);
        }
        for path in [
            "/admin/customers?q=%FF%FE&sort=%FF&created_from=%FF",
            "/admin/customers/%FF",
            "/admin/customers/%FF/unlock",
            "/admin/jobs/%C3%28",
            "/admin/customers/export.csv?q=%FF",
        ] {
            status_below_500(admin.get(path).await.status(), path);
        }
        // Bytes that are not even allowed in a request line.
        let raw = send_raw(&app, b"GET /\xff\xfe HTTP/1.1\r\nHost: shop.test\r\n\r\n").await;
        assert!(raw.refused(), "{raw:?}");
        let raw = send_raw(&app, b"GET /?q=\xff HTTP/1.1\r\nHost: shop.test\r\n\r\n").await;
        assert!(raw.refused(), "{raw:?}");
        let raw = send_raw(&app, b"GET / HTTP/1.1\r\nHost: shop.test\r\nAccept-Language: \xff\xfe\r\nCookie: form_seed=\xff\r\n\r\n").await;
        assert!(
            matches!(
                raw,
                Outcome::Status(200) | Outcome::Status(400..=499) | Outcome::Closed
            ),
            "{raw:?}"
        );
        still_serving(&app).await;
    }
);

store_test!(
    nul_bytes_in_fields_never_reach_the_store,
    |app: TestApp| async move {
        app.register("jane@example.com", "correct-horse-77").await;
        let client = app.client();
        for (path, fields) in [
            (
                LOGIN,
                vec![
                    ("email", "jane@example.com\0"),
                    ("password", "correct-horse-77"),
                ],
            ),
            (
                LOGIN,
                vec![
                    ("email", "jane@example.com"),
                    ("password", "correct\0horse-77"),
                ],
            ),
            (
                "/customer/account/forgotpassword",
                vec![("email", "jane\0@example.com")],
            ),
            (
                "/customer/account/create",
                vec![
                    ("firstname", "Ja\0ne"),
                    ("lastname", "Doe"),
                    ("email", "nul@example.com"),
                    ("password", "correct-horse-78\0"),
                    ("password_confirmation", "correct-horse-78\0"),
                ],
            ),
            (
                "/admin/login",
                vec![("email", "ada\0@shop.test"), ("password", "x\0")],
            ),
        ] {
            let response = client.post_form(path, &fields).await;
            status_below_500(response.status(), path);
        }
        // Nothing was created or signed in by those.
        assert!(
            app.db()
                .customer_by_email_key("nul@example.com")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(client.get("/customer/account").await.status(), 303);

        // The REST API, JSON escapes.
        let http = reqwest::Client::new();
        for body in [
            serde_json::json!({"username": "jane@example.com\u{0}", "password": "correct-horse-77"}),
            serde_json::json!({"username": "jane@example.com", "password": "correct-horse-77\u{0}"}),
        ] {
            let response = http
                .post(format!("{}{TOKEN}", app.address))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{body}");
        }
        for (path, body) in [
            (
                "/rest/V1/customers/password",
                serde_json::json!({"email": "jane\u{0}@example.com", "template": "email_reset", "websiteId": 1}),
            ),
            (
                "/rest/V1/customers/resetPassword",
                serde_json::json!({"email": "jane@example.com", "resetToken": "\u{0}".repeat(43), "newPassword": "x\u{0}y-long-enough"}),
            ),
        ] {
            let response = http
                .put(format!("{}{path}", app.address))
                .json(&body)
                .send()
                .await
                .unwrap();
            status_below_500(response.status(), path);
        }
        // Query strings and headers.
        status_below_500(
            client
                .get("/customer/account/createPassword?token=%00%00%00")
                .await
                .status(),
            "token",
        );
        let admin = signed_in_admin(&app).await;
        let grid = admin
            .get("/admin/customers?q=ja%00ne&created_from=2024-01-0%00")
            .await;
        assert_eq!(grid.status(), 200);
        let raw = send_raw(
            &app,
            b"GET / HTTP/1.1\r\nHost: shop.test\r\nCookie: a=\0b\r\n\r\n",
        )
        .await;
        assert!(raw.refused(), "{raw:?}");
        let raw = send_raw(
            &app,
            b"GET / HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: 1.2.3.4\0\r\n\r\n",
        )
        .await;
        assert!(raw.refused(), "{raw:?}");
        still_serving(&app).await;
    }
);

store_test!(
    overlong_headers_get_431_or_a_close,
    |app: TestApp| async move {
        let long = "a".repeat(1024 * 1024);
        for request in [
            // One header of a megabyte.
            format!("GET / HTTP/1.1\r\nHost: shop.test\r\nX-Long: {long}\r\n\r\n"),
            // A cookie of a megabyte.
            format!("GET / HTTP/1.1\r\nHost: shop.test\r\nCookie: a={long}\r\n\r\n"),
            // A megabyte of path.
            format!("GET /{long} HTTP/1.1\r\nHost: shop.test\r\n\r\n"),
            // Five hundred small headers.
            format!(
                "GET / HTTP/1.1\r\nHost: shop.test\r\n{}\r\n",
                (0..500)
                    .map(|i| format!("X-H{i}: v\r\n"))
                    .collect::<String>()
            ),
        ] {
            let outcome = send_raw(&app, request.as_bytes()).await;
            assert!(
                matches!(outcome, Outcome::Status(400 | 414 | 431) | Outcome::Closed),
                "{outcome:?} for {}",
                &request[..40]
            );
        }
        still_serving(&app).await;
    }
);

store_test!(duplicate_headers_are_400, |app: TestApp| async move {
    for (what, request) in [
        (
            "Host",
            "GET / HTTP/1.1\r\nHost: shop.test\r\nHost: evil.test\r\n\r\n".to_string(),
        ),
        (
            "Host, the same twice",
            "GET / HTTP/1.1\r\nHost: shop.test\r\nHost: shop.test\r\n\r\n".to_string(),
        ),
        (
            "Cookie",
            format!(
                "GET /customer/account HTTP/1.1\r\nHost: shop.test\r\nCookie: {SEED}\r\nCookie: {SEED}\r\n\r\n"
            ),
        ),
        (
            "Content-Length, differing",
            format!(
                "POST {LOGIN} HTTP/1.1\r\nHost: shop.test\r\nCookie: {SEED}\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"
            ),
        ),
        (
            "Content-Length, the same twice",
            format!(
                "POST {LOGIN} HTTP/1.1\r\nHost: shop.test\r\nCookie: {SEED}\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nabcde"
            ),
        ),
        (
            "Content-Length, a list",
            format!(
                "POST {LOGIN} HTTP/1.1\r\nHost: shop.test\r\nCookie: {SEED}\r\nContent-Length: 5, 5\r\n\r\nabcde"
            ),
        ),
        (
            "Content-Length with Transfer-Encoding",
            format!(
                "POST {LOGIN} HTTP/1.1\r\nHost: shop.test\r\nCookie: {SEED}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n"
            ),
        ),
    ] {
        let outcome = send_raw(&app, request.as_bytes()).await;
        // hyper folds two equal Content-Length headers into one, and drops
        // Content-Length beside chunked Transfer-Encoding (RFC 9112 §6.3): the
        // framing is not in doubt, so those go on to the CSRF check: 403.
        let expected = if what == "Content-Length, the same twice"
            || what == "Content-Length with Transfer-Encoding"
        {
            Outcome::Status(403)
        } else {
            Outcome::Status(400)
        };
        assert!(
            outcome == expected || outcome == Outcome::Closed,
            "{what}: {outcome:?}"
        );
    }
    // One of each is fine.
    let one = format!(
        "GET /customer/account/login HTTP/1.1\r\nHost: shop.test\r\nCookie: {SEED}\r\n\r\n"
    );
    assert_eq!(send_raw(&app, one.as_bytes()).await, Outcome::Status(200));
    still_serving(&app).await;
});

store_test!(
    two_thousand_idle_connections_hold_the_cap,
    |app: TestApp| async move {
        const CAP: u32 = 500;
        const FLOOD: usize = 2000;
        let app = TestApp::spawn_with(app.backend, |c| {
            c.max_connections = CAP;
            c.header_read_timeout = Duration::from_secs(30);
            c.idle_timeout = Duration::from_secs(30);
        })
        .await;
        let address = socket_of(&app);
        let connects = (0..FLOOD).map(|_| {
            let address = address.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(address))
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        });
        let flood: Vec<TcpStream> = futures_util::future::join_all(connects)
            .await
            .into_iter()
            .flatten()
            .collect();
        // The accept queue holds a few more than the cap; the kernel drops the
        // rest of the SYNs, and those clients wait to connect.
        assert!(flood.len() > CAP as usize, "only {} connected", flood.len());

        // The cap holds: each flood connection now asks for /healthz, and only
        // the CAP the server accepted are answered; the rest wait in the
        // kernel's backlog (no slot frees while every answered one stays open).
        let asks = flood.into_iter().map(|mut stream| async move {
            let _ = stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop.test\r\n\r\n")
                .await;
            let answered = outcome_of(&mut stream, Duration::from_secs(8)).await;
            (stream, answered)
        });
        let asked: Vec<(TcpStream, Outcome)> = futures_util::future::join_all(asks).await;
        let answered = asked
            .iter()
            .filter(|(_, outcome)| *outcome == Outcome::Status(200))
            .count();
        assert!(
            asked.iter().all(|(_, outcome)| matches!(
                outcome,
                Outcome::Status(200) | Outcome::Open | Outcome::Closed
            )),
            "every flood connection is answered 200, waits, or (past the backlog) is reset"
        );
        assert_eq!(answered, CAP as usize, "connections served at once");
        // When the flood lets go, the server is free again.
        drop(asked);
        still_serving(&app).await;
    }
);

store_test!(
    header_by_header_slowloris_is_cut_off,
    |app: TestApp| async move {
        let app = TestApp::spawn_with(app.backend, |c| {
            c.header_read_timeout = Duration::from_secs(2);
            c.idle_timeout = Duration::from_secs(60);
        })
        .await;
        let stream = TcpStream::connect(socket_of(&app)).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        write
            .write_all(b"GET / HTTP/1.1\r\nHost: shop.test\r\n")
            .await
            .unwrap();
        // A new header line every 300 ms: bytes keep moving, the head never ends.
        let drip = tokio::spawn(async move {
            for i in 0..100 {
                let line = format!("X-Drip-{i}: {i}\r\n");
                if write.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        let started = Instant::now();
        let mut answer = Vec::new();
        let ended =
            tokio::time::timeout(Duration::from_secs(15), read.read_to_end(&mut answer)).await;
        drip.abort();
        assert!(ended.is_ok(), "a head sent header by header is cut off");
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(1500), "{elapsed:?}");
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
        still_serving(&app).await;
    }
);
