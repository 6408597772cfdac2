//! The HTTP edge (issue 8): metrics off the public listener, slow and idle
//! connections, the connection cap, the language switch's `back`, the Origin
//! check, per-IP limits by IPv6 /64 and the admin navigation by permission.

use std::time::{Duration, Instant};

use shop_accounts::accounts::admins::{self, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::store_test;

const FORGOT: &str = "/customer/account/forgotpassword";
const ADMIN_PASSWORD: &str = "admin-horse-77";

/// The `host:port` of an `http://host:port` address.
fn socket_of(address: &str) -> String {
    address.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection; `None` if it is still open
/// after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => continue,
            }
        }
    })
    .await
    .ok()
}

store_test!(
    metrics_are_served_only_on_their_own_listener,
    |app: TestApp| async move {
        let client = app.client();
        assert_eq!(client.get("/metrics").await.status(), 404);
        assert!(!app.metrics_address.is_empty());
        assert_ne!(app.metrics_address, app.address);
        let metrics = reqwest::get(format!("{}/metrics", app.metrics_address))
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200);
        // Nothing but metrics there.
        let other = reqwest::get(format!("{}/healthz", app.metrics_address))
            .await
            .unwrap();
        assert_eq!(other.status(), 404);
    }
);

store_test!(
    a_stalled_request_head_is_cut_off,
    |app: TestApp| async move {
        let app = TestApp::spawn_with(app.backend, |c| {
            c.header_read_timeout = Duration::from_secs(2);
            c.idle_timeout = Duration::from_secs(60);
        })
        .await;
        let mut stream = TcpStream::connect(socket_of(&app.address)).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: shop.test\r\n")
            .await
            .unwrap();
        let closed = closed_within(&mut stream, Duration::from_secs(10)).await;
        let closed = closed.expect("a half-sent request head is cut off");
        assert!(closed >= Duration::from_millis(1500), "{closed:?}");
    }
);

store_test!(idle_connections_are_closed, |app: TestApp| async move {
    let app = TestApp::spawn_with(app.backend, |c| {
        c.header_read_timeout = Duration::from_secs(30);
        c.idle_timeout = Duration::from_secs(1);
    })
    .await;
    // A connection that never says anything.
    let mut silent = TcpStream::connect(socket_of(&app.address)).await.unwrap();
    let closed = closed_within(&mut silent, Duration::from_secs(8)).await;
    assert!(closed.is_some(), "a silent connection is closed");

    // A kept-alive connection after its response.
    let mut kept = TcpStream::connect(socket_of(&app.address)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let closed = closed_within(&mut kept, Duration::from_secs(8)).await;
    assert!(closed.is_some(), "an idle kept-alive connection is closed");
});

store_test!(
    connections_beyond_the_cap_wait_for_a_free_one,
    |app: TestApp| async move {
        let app = TestApp::spawn_with(app.backend, |c| c.max_connections = 2).await;
        let first = TcpStream::connect(socket_of(&app.address)).await.unwrap();
        let _second = TcpStream::connect(socket_of(&app.address)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let waiting = reqwest::Client::new()
            .get(format!("{}/healthz", app.address))
            .timeout(Duration::from_millis(1000))
            .send()
            .await;
        assert!(waiting.is_err(), "a third connection is not served yet");
        drop(first);
        let served = reqwest::Client::new()
            .get(format!("{}/healthz", app.address))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("served once a connection closed");
        assert_eq!(served.status(), 200);
    }
);

store_test!(
    shutdown_finishes_requests_in_flight_and_closes_idle_connections,
    |app: TestApp| async move {
        let mut app = app;
        let address = socket_of(&app.address);
        let mut silent = TcpStream::connect(&address).await.unwrap();
        // A request whose body is still arriving when the shutdown begins (with
        // a form seed cookie, so the CSRF check waits to read the form).
        let mut busy = TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /customer/account/login HTTP/1.1\r\nHost: shop.test\r\n\
             Cookie: form_seed={}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nemail=",
            "s".repeat(43)
        );
        busy.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stopping = tokio::spawn(async move {
            app.stop().await;
            app
        });
        let closed = closed_within(&mut silent, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "an idle connection is closed at shutdown");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !stopping.is_finished(),
            "the shutdown waits for the request"
        );
        busy.write_all(b"a%40b").await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), busy.read_to_end(&mut answer))
            .await
            .expect("the request is answered and the connection closed")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        tokio::time::timeout(Duration::from_secs(10), stopping)
            .await
            .expect("the server stops once drained")
            .unwrap();
    }
);

store_test!(
    the_language_switch_returns_only_to_local_paths,
    |app: TestApp| async move {
        let client = app.client();
        for back in [
            "/%09/evil.example",
            "/%5Ct/evil.example",
            "//evil",
            "https://evil",
            "https:%2F%2Fevil",
            "/%5Cevil",
            "%2F%2Fevil",
            "/%0D%0ASet-Cookie:x=y",
            "/%20/evil",
            "/.//evil",
        ] {
            let response = client.get(&format!("/language/en?back={back}")).await;
            assert_eq!(response.status(), 303, "{back}");
            assert_eq!(location(&response), "/", "{back}");
        }
        let response = client
            .get("/language/nl?back=/customer/account/login%3Fx%3D1")
            .await;
        assert_eq!(location(&response), "/customer/account/login?x=1");
    }
);

store_test!(
    the_origin_must_be_base_url_not_the_host_header,
    |app: TestApp| async move {
        let client = app.client();
        let key = client.form_key().await;
        let fields = [
            ("email", "nobody@example.com"),
            ("password", "wrong-password-1"),
            ("form_key", key.as_str()),
        ];
        let post = |host: &str, origin: &str| {
            client
                .http
                .post(client.url("/customer/account/login"))
                .header("host", host.to_string())
                .header("origin", origin.to_string())
                .form(&fields)
                .send()
        };
        // Host and Origin agree with each other, but not with BASE_URL.
        let evil = post("evil", "http://evil").await.unwrap();
        assert_eq!(evil.status(), 403);
        let base = socket_of(&app.address);
        let wrong = post(&base, "http://evil").await.unwrap();
        assert_eq!(wrong.status(), 403);
        // BASE_URL's origin passes (to a refused sign-in).
        let ok = post(&base, &app.address).await.unwrap();
        assert_eq!(ok.status(), 303);
    }
);

store_test!(
    one_ipv6_64_shares_the_reset_request_limit,
    |app: TestApp| async move {
        // Ten minutes between requests per IP (the default): a second address
        // in the same /64 is the same client.
        let first = app.client_from("2001:db8:1:2::1");
        let accepted = first.request_reset("first@example.com").await;
        assert_eq!(location(&accepted), "/customer/account/login");
        let same_64 = app.client_from("2001:db8:1:2:ffff::2");
        let refused = same_64.request_reset("second@example.com").await;
        assert_eq!(location(&refused), FORGOT, "same /64 is limited");
        let other_64 = app.client_from("2001:db8:1:3::1");
        let accepted = other_64.request_reset("third@example.com").await;
        assert_eq!(location(&accepted), "/customer/account/login");
        // IPv4-mapped IPv6 counts as its IPv4 address.
        let v4 = app.client_from("192.0.2.44");
        let accepted = v4.request_reset("fourth@example.com").await;
        assert_eq!(location(&accepted), "/customer/account/login");
        let mapped = app.client_from("::ffff:192.0.2.44");
        let refused = mapped.request_reset("fifth@example.com").await;
        assert_eq!(location(&refused), FORGOT, "mapped v4 is the v4 address");
    }
);

store_test!(
    admin_navigation_follows_each_pages_permission,
    |app: TestApp| async move {
        for (email, role) in [
            ("ada@shop.test", Role::Administrator),
            ("sam@shop.test", Role::Support),
        ] {
            admins::create(&app.state, email, "Ada Admin", role, ADMIN_PASSWORD, None)
                .await
                .expect("create administrator");
        }
        let sign_in = |email: &'static str| {
            let client = app.client();
            async move {
                let response = client
                    .post_form(
                        "/admin/login",
                        &[("email", email), ("password", ADMIN_PASSWORD)],
                    )
                    .await;
                assert_eq!(location(&response), "/admin/customers");
                client
            }
        };
        let links = ["/admin/config/customer", "/admin/audit", "/admin/mail"];

        let support = sign_in("sam@shop.test").await;
        let page = support.get_text("/admin/customers").await;
        assert!(page.contains("href=\"/admin/customers\""));
        for link in links {
            assert!(
                !page.contains(&format!("href=\"{link}\"")),
                "Support sees no {link} link"
            );
            assert_eq!(support.get(link).await.status(), 403, "{link}");
        }

        let admin = sign_in("ada@shop.test").await;
        let page = admin.get_text("/admin/customers").await;
        for link in links {
            assert!(
                page.contains(&format!("href=\"{link}\"")),
                "an Administrator sees {link}"
            );
            assert_eq!(admin.get(link).await.status(), 200, "{link}");
        }
    }
);
