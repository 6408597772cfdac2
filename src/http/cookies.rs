//! The cookies this server reads and sets. Callers name a cookie by its base
//! name and say whether the shop is on https; the name on the wire follows here.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The name a cookie goes by. Over https it carries the `__Host-` prefix:
/// browsers then take it only with Secure, Path=/ and no Domain, so no other
/// host (a sibling subdomain, a plain-http page) can plant or overwrite it —
/// the way a session cookie would be fixed from outside.
pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// The value of one cookie from the request's Cookie headers.
pub fn get(headers: &HeaderMap, base: &str, secure: bool) -> Option<String> {
    let name = name(base, secure);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A Set-Cookie value: Path=/, no Domain, HttpOnly, SameSite=Lax; Secure (and
/// the `__Host-` name) when the shop is on https.
pub fn set(base: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax",
        name(base, secure)
    );
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

#[cfg(test)]
mod tests {
    #[test]
    fn https_names_carry_the_host_prefix() {
        assert_eq!(super::name("lang", false), "lang");
        assert_eq!(super::name("lang", true), "__Host-lang");
        let cookie = super::set("lang", "nl", Some(60), true);
        assert!(cookie.starts_with("__Host-lang=nl; Path=/;"), "{cookie}");
        assert!(cookie.ends_with("; Secure") && !cookie.contains("Domain"));
    }
}
