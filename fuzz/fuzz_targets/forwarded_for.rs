//! X-Forwarded-For: one entry (`forwarded_ip`) and the whole walk (`client_ip`)
//! behind a trusted proxy. No panic; an entry that parses prints and parses back
//! to itself; the client is the peer or an address some header entry named;
//! an untrusted peer is always the client.
#![no_main]

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use axum::extract::ConnectInfo;
use http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use shop_accounts::Config;
use shop_accounts::http::context::{client_ip, forwarded_ip};

static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    let mut config = Config::with_database("sqlite::memory:");
    config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
    config
});

// Each line is one X-Forwarded-For header; tried behind a trusted and an
// untrusted peer.
fuzz_target!(|data: &[u8]| {
    let headers: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    for peer_trusted in [true, false] {
        check(peer_trusted, &headers);
    }
});

fn check(peer_trusted: bool, headers: &[&[u8]]) {
    let peer: SocketAddr = if peer_trusted {
        "10.0.0.1:4000".parse().unwrap()
    } else {
        "203.0.113.9:4000".parse().unwrap()
    };

    let mut request = Request::builder();
    let mut entries: Vec<IpAddr> = Vec::new();
    for raw in headers.iter().take(16) {
        let Ok(value) = HeaderValue::from_bytes(raw) else {
            continue;
        };
        if let Ok(text) = value.to_str() {
            for entry in text.split(',') {
                if let Some(ip) = forwarded_ip(entry) {
                    // Canonical, and printing it parses back to it.
                    assert_eq!(ip, ip.to_canonical());
                    assert_eq!(forwarded_ip(&ip.to_string()), Some(ip));
                    assert_eq!(forwarded_ip(&format!(" {ip} ")), Some(ip));
                    entries.push(ip);
                }
            }
        }
        request = request.header("x-forwarded-for", value);
    }
    let (mut parts, ()) = request.body(()).unwrap().into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let client = client_ip(&parts, &CONFIG);
    if peer_trusted {
        assert!(client == peer.ip() || entries.contains(&client), "{client} from nowhere");
    } else {
        assert_eq!(client, peer.ip());
    }
}
