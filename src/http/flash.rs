//! Flash messages travel in a signed cookie, not in the session: a form post
//! whose only news is "done" (the forgot-password POST) then writes nothing to
//! the database, and the page that shows the message does not write either.
//! The same idea as Django's cookie message storage: the value is the messages
//! as JSON, base64url, with an HMAC under the server's key, so nobody can make
//! the shop show a message it did not write. A set too large for a cookie stays
//! in the session (`Visitor::push_flash`).
//!
//! The middleware reads the cookie into a `FlashJar` for the request's
//! handler, and after it writes the jar back when it changed: the new set, or
//! an expired cookie once the messages were shown.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::context::Flash;
use super::cookies;
use crate::secrets::secure_eq;
use crate::state::AppState;

/// The storefront's and the admin's messages are kept apart, as their sessions are.
const STOREFRONT_COOKIE: &str = "flash";
const ADMIN_COOKIE: &str = "admin_flash";
/// The longest cookie value written; browsers keep at least 4,096 bytes per
/// cookie, name and attributes included.
pub const MAX_VALUE_BYTES: usize = 3_000;
/// Messages not shown within this long are forgotten.
const MAX_AGE_SECONDS: i64 = 600;
/// More messages than this in one cookie is not ours.
const MAX_MESSAGES: usize = 16;

/// The messages of one request: those its cookie brought, and those its
/// handler added or took.
#[derive(Clone, Default)]
pub struct FlashJar(Arc<Mutex<Jar>>);

#[derive(Default)]
struct Jar {
    flashes: Vec<Flash>,
    changed: bool,
}

impl FlashJar {
    fn new(flashes: Vec<Flash>) -> FlashJar {
        FlashJar(Arc::new(Mutex::new(Jar {
            flashes,
            changed: false,
        })))
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, Jar> {
        // A handler that panicked holding the lock left plain data behind.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `flash` (the same text twice says nothing new) unless the cookie
    /// would outgrow `MAX_VALUE_BYTES`; gives it back then (for the session).
    pub fn push(&self, flash: Flash, key: &[u8]) -> Result<(), Flash> {
        let mut jar = self.jar();
        if jar.flashes.iter().any(|f| f.text == flash.text) {
            return Ok(());
        }
        jar.flashes.push(flash);
        if encode(&jar.flashes, key).len() > MAX_VALUE_BYTES {
            return Err(jar.flashes.pop().expect("just pushed"));
        }
        jar.changed = true;
        Ok(())
    }

    /// The messages, taken: the cookie is cleared with the response.
    pub fn take(&self) -> Vec<Flash> {
        let mut jar = self.jar();
        if !jar.flashes.is_empty() {
            jar.changed = true;
        }
        std::mem::take(&mut jar.flashes)
    }
}

/// The cookie's base name for a request path.
fn cookie_for(path: &str) -> &'static str {
    if path.starts_with("/admin") {
        ADMIN_COOKIE
    } else {
        STOREFRONT_COOKIE
    }
}

/// `payload.mac`: the messages as base64url JSON, and their HMAC.
fn encode(flashes: &[Flash], key: &[u8]) -> String {
    let json = serde_json::to_vec(flashes).expect("flashes serialize");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mac = crate::secrets::mac(key, &payload);
    format!("{payload}.{mac}")
}

/// The messages of a cookie value we wrote; nothing for any other value.
fn decode(value: &str, key: &[u8]) -> Vec<Flash> {
    let Some((payload, mac)) = value.split_once('.') else {
        return Vec::new();
    };
    if !secure_eq(mac, &crate::secrets::mac(key, payload)) {
        return Vec::new();
    }
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice::<Vec<Flash>>(&json).ok())
        .filter(|flashes| flashes.len() <= MAX_MESSAGES)
        .unwrap_or_default()
}

/// Middleware: the request's `FlashJar` from its cookie, and the cookie
/// rewritten after the handler when the jar changed.
pub async fn carry(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let secure = state.config.secure_cookies();
    let cookie = cookie_for(request.uri().path());
    let key = state.keys.flash_key();
    let incoming = cookies::get(request.headers(), cookie, secure);
    let jar = FlashJar::new(
        incoming
            .as_deref()
            .map(|value| decode(value, key))
            .unwrap_or_default(),
    );
    request.extensions_mut().insert(jar.clone());
    let mut response = next.run(request).await;
    let jar = jar.jar();
    let set = if !jar.changed {
        None
    } else if jar.flashes.is_empty() {
        incoming.map(|_| cookies::set(cookie, "", Some(0), secure))
    } else {
        let value = encode(&jar.flashes, key);
        Some(cookies::set(cookie, &value, Some(MAX_AGE_SECONDS), secure))
    };
    if let Some(set) = set.and_then(|s| HeaderValue::from_str(&s).ok()) {
        response.headers_mut().append(SET_COOKIE, set);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::context::FlashKind;

    fn flash(text: &str) -> Flash {
        Flash {
            kind: FlashKind::Success,
            text: text.to_string(),
            field: None,
        }
    }

    #[test]
    fn a_cookie_we_wrote_reads_back_and_a_changed_one_reads_as_nothing() {
        let key = b"flash-test-key";
        let value = encode(&[flash("Sent to jan@example.com")], key);
        assert_eq!(decode(&value, key)[0].text, "Sent to jan@example.com");
        assert!(decode(&value, b"another-key").is_empty());
        let (payload, mac) = value.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"[{"kind":"error","text":"Call us"}]"#);
        assert!(decode(&format!("{forged}.{mac}"), key).is_empty());
        assert!(decode(payload, key).is_empty());
        assert!(decode("", key).is_empty());
    }

    #[test]
    fn a_message_too_large_for_the_cookie_is_given_back() {
        let jar = FlashJar::default();
        assert!(jar.push(flash("short"), b"k").is_ok());
        let long = "x".repeat(MAX_VALUE_BYTES);
        assert_eq!(jar.push(flash(&long), b"k").unwrap_err().text, long);
        assert_eq!(jar.take().len(), 1);
        assert!(jar.take().is_empty());
    }
}
