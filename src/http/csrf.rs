//! CSRF: every state-changing form carries `form_key`, an HMAC (server key) of a
//! random seed kept in the visitor's cookie. It needs no database write, works
//! before sign-in, and stays valid for the cookie's life, so one page's token
//! serves every form in that browser. An Origin other than BASE_URL's is refused
//! too.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::cookies;
use super::errors::AppError;
use crate::secrets::{random_token, secure_eq};
use crate::state::AppState;

pub const FIELD: &str = "form_key";
const COOKIE: &str = "form_seed";
/// Forms are small; anything larger is refused before parsing.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The visitor's seed, for building `form_key` on pages.
#[cfg(test)]
mod tests {
    #[test]
    fn bad_utf8_is_spotted_after_percent_decoding() {
        assert!(super::decodes_as_utf8(b"email=j%C3%A9%40x.nl&password=a+b"));
        assert!(!super::decodes_as_utf8(b"email=%FF%FE"));
        assert!(!super::decodes_as_utf8(&[b'a', b'=', 0xff]));
        assert!(super::decodes_as_utf8(b"odd=%zz%"));
    }

    #[test]
    fn a_null_origin_passes_only_from_the_same_origin() {
        assert!(super::null_origin_allowed(Some("same-origin")));
        assert!(super::null_origin_allowed(None));
        assert!(!super::null_origin_allowed(Some("cross-site")));
        assert!(!super::null_origin_allowed(Some("same-site")));
    }
}

#[derive(Clone, Debug)]
pub struct CsrfSeed(pub String);

impl AppState {
    pub fn form_key(&self, seed: &CsrfSeed) -> String {
        self.keys.csrf_mac(&format!("form:{}", seed.0))
    }
}

fn origin_allowed(request: &Request, state: &AppState) -> bool {
    let Some(origin) = request.headers().get(ORIGIN) else {
        return true; // non-browser clients send none; the token still has to match
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" {
        let fetch_site = request
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok());
        return null_origin_allowed(fetch_site);
    }
    // BASE_URL is the one origin of the shop; the Host header is the client's
    // to choose, so it proves nothing.
    origin == state.config.base_url.origin().ascii_serialization()
}

/// Browsers send `Origin: null` when the form's page has `Referrer-Policy:
/// no-referrer` (the reset pages). Then `Sec-Fetch-Site`, which no page can
/// forge, tells a post from another site apart; the form key has to match anyway.
fn null_origin_allowed(sec_fetch_site: Option<&str>) -> bool {
    sec_fetch_site.is_none_or(|site| site == "same-origin")
}

/// Whether every percent-decoded name and value of a urlencoded body is UTF-8;
/// the usual parsers would silently replace bad bytes instead.
fn decodes_as_utf8(body: &[u8]) -> bool {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    body.split(|&b| b == b'&' || b == b'=').all(|piece| {
        let mut decoded = Vec::with_capacity(piece.len());
        let mut i = 0;
        while i < piece.len() {
            match piece[i] {
                b'%' => match (
                    piece.get(i + 1).and_then(|&b| hex(b)),
                    piece.get(i + 2).and_then(|&b| hex(b)),
                ) {
                    (Some(h), Some(l)) => {
                        decoded.push(h * 16 + l);
                        i += 3;
                        continue;
                    }
                    _ => decoded.push(b'%'),
                },
                b'+' => decoded.push(b' '),
                other => decoded.push(other),
            }
            i += 1;
        }
        std::str::from_utf8(&decoded).is_ok()
    })
}

pub async fn protect(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let existing = cookies::get(request.headers(), COOKIE, state.config.secure_cookies())
        .filter(|s| s.len() == 43);
    let seed = CsrfSeed(existing.clone().unwrap_or_else(random_token));
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if unsafe_method {
        if existing.is_none() || !origin_allowed(&request, &state) {
            return AppError::Forbidden.into_response();
        }
        let (parts, body) = request.into_parts();
        let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        };
        let is_form = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let submitted = is_form
            .then(|| {
                url::form_urlencoded::parse(&bytes)
                    .find(|(k, _)| k == FIELD)
                    .map(|(_, v)| v.into_owned())
            })
            .flatten();
        if is_form && !decodes_as_utf8(&bytes) {
            return AppError::BadRequest.into_response();
        }
        let expected = state.form_key(&seed);
        if !submitted.is_some_and(|s| secure_eq(&s, &expected)) {
            return AppError::Forbidden.into_response();
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(seed.clone());
    let mut response = next.run(request).await;
    if existing.is_none() {
        let cookie = cookies::set(COOKIE, &seed.0, None, state.config.secure_cookies());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}
