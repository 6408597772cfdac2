//! What every HTML handler knows about the request: language, client IP, the
//! form key, the session with its flash messages, and who is signed in.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use tower_sessions::session::Error as SessionError;

use super::cookies;
use super::csrf::CsrfSeed;
use super::errors::AppError;
use super::flash::FlashJar;
use crate::accounts::admins::{self, Admin};
use crate::accounts::security::{self, Browser};
use crate::config::Config;
use crate::i18n::Locale;
use crate::state::AppState;
use crate::store::CustomerRow;
use crate::store::sessions::CUSTOMER_SESSION_KEY;

/// The base name of the language cookie (see `cookies::name`).
pub const LANG_COOKIE: &str = "lang";
const FLASH: &str = "flash";
const CUSTOMER_ID: &str = "customer_id";
const CUSTOMER_STAMP: &str = "customer_stamp";
const ADMIN_ID: &str = "admin_id";
const ADMIN_STAMP: &str = "admin_stamp";

/// A storefront sign-in ends after this long without a request (the session
/// layer's expiry)…
pub const STOREFRONT_IDLE: time::Duration = time::Duration::hours(8);
/// …and this long after signing in, however active the session stays.
pub const STOREFRONT_MAX_AGE: time::Duration = time::Duration::days(7);
/// The admin's, shorter: its sessions can do more.
pub const ADMIN_IDLE: time::Duration = time::Duration::hours(2);
pub const ADMIN_MAX_AGE: time::Duration = time::Duration::hours(12);

/// Where a session keeps one area's sign-in, and how long that sign-in lasts.
struct SignInSlot {
    id: &'static str,
    stamp: &'static str,
    /// When the sign-in happened (unix seconds, from the app clock).
    at: &'static str,
    max_age: time::Duration,
}

const CUSTOMER: SignInSlot = SignInSlot {
    id: CUSTOMER_ID,
    stamp: CUSTOMER_STAMP,
    at: "customer_signed_in_at",
    max_age: STOREFRONT_MAX_AGE,
};
const ADMIN: SignInSlot = SignInSlot {
    id: ADMIN_ID,
    stamp: ADMIN_STAMP,
    at: "admin_signed_in_at",
    max_age: ADMIN_MAX_AGE,
};

/// What a session says about one area's sign-in.
enum SessionSignIn {
    Nobody,
    /// Signed in longer ago than the absolute lifetime (or before sessions
    /// recorded when): to be treated as signed out.
    Expired,
    Current {
        id: i64,
        stamp: String,
    },
}

impl SignInSlot {
    async fn read(&self, session: &Session, now: i64) -> Result<SessionSignIn, SessionError> {
        let Some(id) = session.get::<i64>(self.id).await? else {
            return Ok(SessionSignIn::Nobody);
        };
        let at: Option<i64> = session.get(self.at).await?;
        if at.is_none_or(|at| now - at >= self.max_age.whole_seconds()) {
            return Ok(SessionSignIn::Expired);
        }
        let stamp = session.get(self.stamp).await?.unwrap_or_default();
        Ok(SessionSignIn::Current { id, stamp })
    }

    /// Signs `id` in under a fresh session id, so a session id known before
    /// (planted by someone else) never carries the sign-in.
    async fn write(
        &self,
        session: &Session,
        id: i64,
        stamp: &str,
        now: i64,
    ) -> Result<(), SessionError> {
        session.cycle_id().await?;
        session.insert(self.id, id).await?;
        session.insert(self.stamp, stamp).await?;
        session.insert(self.at, now).await?;
        Ok(())
    }
}

/// The language: the visitor's own choice (footer switch), then the browser's
/// Accept-Language, then the shop's DEFAULT_LOCALE.
pub fn locale_of(headers: &HeaderMap, config: &Config) -> Locale {
    cookies::get(headers, LANG_COOKIE, config.secure_cookies())
        .and_then(|c| c.parse().ok())
        .or_else(|| {
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Locale::from_accept_language)
        })
        .unwrap_or(config.default_locale)
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the
/// first X-Forwarded-For entry, walking from the right, that is not itself a
/// trusted proxy. An entry that does not parse ends the walk at the last trusted
/// hop: skipping it would let a value the client wrote further left win.
pub fn client_ip(parts: &Parts, config: &Config) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let trusted = |ip: &IpAddr| config.trusted_proxies.iter().any(|net| net.contains(ip));
    let forwarded: Vec<Option<&str>> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(list) => list.split(',').map(Some).collect(),
            Err(_) => vec![None], // not text: unparseable
        })
        .collect();
    let mut hop = peer;
    for entry in forwarded.into_iter().rev() {
        if !trusted(&hop) {
            break;
        }
        match entry.and_then(forwarded_ip) {
            Some(ip) => hop = ip,
            None => break,
        }
    }
    hop
}

/// One X-Forwarded-For entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`; anything else (`unknown`) is `None`.
pub fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
        })?;
    Some(ip.to_canonical())
}

/// The client IP as an extractor, for the REST API.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, &state.config)))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Error,
    Notice,
}

/// A message shown once, on the page after a redirect.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
    /// The input the message is about, when it is about one: the page shows
    /// `note` under that input and ties it to it (aria-describedby).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldNote>,
}

/// A message under one input: the input's id and the words to show there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldNote {
    pub id: String,
    pub note: String,
}

impl Flash {
    pub fn css(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "success",
            FlashKind::Error => "error",
            FlashKind::Notice => "notice",
        }
    }
}

/// Who is signed in on `session`, for pages drawn outside a handler (error
/// pages). Anything unreadable counts as nobody: an error page must render.
pub async fn signed_in(
    state: &AppState,
    session: &Session,
    admin_area: bool,
) -> (Option<CustomerRow>, Option<Admin>) {
    let slot = if admin_area { &ADMIN } else { &CUSTOMER };
    let Ok(SessionSignIn::Current { id, stamp }) = slot.read(session, state.now()).await else {
        return (None, None);
    };
    if admin_area {
        let admin = admins::current(state, id, &stamp).await.ok().flatten();
        (None, admin)
    } else {
        let Ok(Some(key)) = session.get::<String>(CUSTOMER_SESSION_KEY).await else {
            return (None, None);
        };
        let customer = session_customer(state, id, &stamp, &key).await;
        (customer, None)
    }
}

/// The customer a session's row signs in, for error pages: nobody when
/// anything cannot be read. (The IP is not known there; the row is not touched.)
async fn session_customer(
    state: &AppState,
    id: i64,
    stamp: &str,
    key: &str,
) -> Option<CustomerRow> {
    let owner = state
        .db
        .customer_by_session_key(&crate::secrets::token_hash(key))
        .await
        .ok()
        .flatten()?;
    (owner.customer.id == id && crate::secrets::secure_eq(&owner.customer.security_stamp, stamp))
        .then_some(owner.customer)
}

/// A request to an HTML page of the storefront or the admin.
pub struct Visitor {
    pub state: AppState,
    pub session: Session,
    pub locale: Locale,
    pub form_key: String,
    pub client_ip: IpAddr,
    pub path: String,
    pub user_agent: String,
    /// The request's headers, for the cookies a page reads itself (device cookies).
    pub headers: HeaderMap,
    /// The flash messages of the request's cookie (src/http/flash.rs).
    flashes: FlashJar,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, msg)| AppError::Internal(anyhow::anyhow!("no session layer: {msg}")))?;
        let seed = parts
            .extensions
            .get::<CsrfSeed>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no CSRF layer")))?;
        let flashes = parts
            .extensions
            .get::<FlashJar>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no flash layer")))?;
        Ok(Visitor {
            state: state.clone(),
            session,
            locale: locale_of(&parts.headers, &state.config),
            form_key: state.form_key(&seed),
            client_ip: client_ip(parts, &state.config),
            path: parts.uri.path().to_string(),
            user_agent: parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            headers: parts.headers.clone(),
            flashes,
        })
    }
}

impl Visitor {
    pub fn t(&self, key: &str) -> String {
        self.locale.t(key)
    }

    pub fn t_with(&self, key: &str, args: &[(&'static str, &str)]) -> String {
        self.locale.t_with(key, args)
    }

    pub async fn flash(&self, kind: FlashKind, text: String) -> Result<(), AppError> {
        self.push_flash(Flash {
            kind,
            text,
            field: None,
        })
        .await
    }

    /// An error about one input: `text` at the top of the page, `note` under
    /// the input with id `field`.
    pub async fn flash_field(
        &self,
        field: &str,
        text: String,
        note: String,
    ) -> Result<(), AppError> {
        self.push_flash(Flash {
            kind: FlashKind::Error,
            text,
            field: Some(FieldNote {
                id: field.to_string(),
                note,
            }),
        })
        .await
    }

    /// Into the flash cookie; a message too large for it goes to the session
    /// (read only then).
    async fn push_flash(&self, flash: Flash) -> Result<(), AppError> {
        let Err(flash) = self.flashes.push(flash, self.state.keys.flash_key()) else {
            return Ok(());
        };
        let mut in_session: Vec<Flash> = self.session.get(FLASH).await?.unwrap_or_default();
        if in_session.iter().any(|f| f.text == flash.text) {
            return Ok(()); // the same message twice says nothing new
        }
        in_session.push(flash);
        self.session.insert(FLASH, in_session).await?;
        Ok(())
    }

    pub async fn flash_key(&self, kind: FlashKind, key: &str) -> Result<(), AppError> {
        self.flash(kind, self.t(key)).await
    }

    /// Takes the pending flash messages: the cookie's, then any the session
    /// kept (touched only if there are some).
    pub async fn take_flashes(&self) -> Result<Vec<Flash>, AppError> {
        let mut flashes = self.flashes.take();
        let in_session: Option<Vec<Flash>> = self.session.get(FLASH).await?;
        if let Some(kept) = in_session {
            self.session.remove_value(FLASH).await?;
            flashes.extend(kept);
        }
        Ok(flashes)
    }

    /// Reads a value from the session without marking it changed.
    pub async fn session_get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, AppError> {
        Ok(self.session.get(key).await?)
    }

    /// Removes a value from the session, touching the store only if it was there.
    pub async fn session_take<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, AppError> {
        let value: Option<T> = self.session.get(key).await?;
        if value.is_some() {
            self.session.remove_value(key).await?;
        }
        Ok(value)
    }

    /// The signed-in customer, if the session's stamp is still the customer's
    /// and the sign-in is within its absolute lifetime; otherwise (reset,
    /// password change, Force Sign In, too old) the session is ended.
    /// The session's row must still be there too: a session ended from the
    /// security page (on any instance) is signed out on its next request.
    pub async fn customer(&self) -> Result<Option<CustomerRow>, AppError> {
        let customer = match CUSTOMER.read(&self.session, self.state.now()).await? {
            SessionSignIn::Nobody => return Ok(None),
            SessionSignIn::Expired => None,
            SessionSignIn::Current { id, stamp } => match self.session_key().await? {
                // Signed in before sessions had rows: signed out.
                None => None,
                Some(key) => {
                    security::session_customer(&self.state, id, &stamp, &key, self.client_ip)
                        .await?
                }
            },
        };
        if customer.is_none() {
            self.session.flush().await?;
        }
        Ok(customer)
    }

    /// Signs the customer into this session under a fresh session id; the
    /// session keeps `session_key`, the key of its row (`security::browser_signed_in`).
    pub async fn sign_in_customer(
        &self,
        customer: &CustomerRow,
        session_key: &str,
    ) -> Result<(), AppError> {
        CUSTOMER
            .write(
                &self.session,
                customer.id,
                &customer.security_stamp,
                self.state.now(),
            )
            .await?;
        self.session
            .insert(CUSTOMER_SESSION_KEY, session_key)
            .await?;
        Ok(())
    }

    /// The key of this session's row, when a customer signed in here.
    pub async fn session_key(&self) -> Result<Option<String>, AppError> {
        Ok(self.session.get(CUSTOMER_SESSION_KEY).await?)
    }

    /// The browser this request came from.
    pub fn browser(&self) -> Browser {
        Browser::new(self.client_ip, &self.user_agent)
    }

    /// Keeps this session signed in after its own password change rotated the
    /// stamp, under a fresh session id (anyone who knew the old one is out).
    /// The sign-in's age carries over: a password change does not extend it.
    pub async fn rebind_customer_stamp(&self, stamp: &str) -> Result<(), AppError> {
        self.session.cycle_id().await?;
        self.session.insert(CUSTOMER_STAMP, stamp).await?;
        Ok(())
    }

    /// Keeps a value in the session under a fresh session id: for what must
    /// not be reachable through a session id known before (a reset link).
    pub async fn insert_under_new_id<T: Serialize>(
        &self,
        key: &str,
        value: T,
    ) -> Result<(), AppError> {
        self.session.cycle_id().await?;
        self.session.insert(key, value).await?;
        Ok(())
    }

    pub async fn sign_out(&self) -> Result<(), AppError> {
        self.session.flush().await?;
        Ok(())
    }

    pub async fn admin(&self) -> Result<Option<Admin>, AppError> {
        let admin = match ADMIN.read(&self.session, self.state.now()).await? {
            SessionSignIn::Nobody => return Ok(None),
            SessionSignIn::Expired => None,
            SessionSignIn::Current { id, stamp } => {
                admins::current(&self.state, id, &stamp).await?
            }
        };
        if admin.is_none() {
            self.session.flush().await?;
        }
        Ok(admin)
    }

    /// Signs the administrator into this session under a fresh session id.
    pub async fn sign_in_admin(&self, admin: &Admin) -> Result<(), AppError> {
        ADMIN
            .write(
                &self.session,
                admin.id,
                &admin.security_stamp,
                self.state.now(),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn ip_of(peer: &str, forwarded: &[&str]) -> IpAddr {
        let mut config = Config::with_database("sqlite::memory:");
        config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        let mut request = Request::builder();
        for value in forwarded {
            request = request.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        let peer: SocketAddr = peer.parse().unwrap();
        parts.extensions.insert(ConnectInfo(peer));
        client_ip(&parts, &config)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(ip_of("203.0.113.9:4000", &["1.1.1.1"]), ip("203.0.113.9"));
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let chain = ["6.6.6.6, 198.51.100.7, 10.0.0.2"];
        assert_eq!(ip_of("10.0.0.1:4000", &chain), ip("198.51.100.7"));
        // Several headers count as one list, in order.
        let split = ["6.6.6.6", "198.51.100.7", "10.0.0.2"];
        assert_eq!(ip_of("10.0.0.1:4000", &split), ip("198.51.100.7"));
    }

    #[test]
    fn entries_with_ports_parse() {
        assert_eq!(
            ip_of("10.0.0.1:4000", &["6.6.6.6, 198.51.100.7:5678"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            ip_of("10.0.0.1:4000", &["6.6.6.6, [2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            ip_of("10.0.0.1:4000", &["6.6.6.6, [2001:db8::1]"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            ip_of("10.0.0.1:4000", &["6.6.6.6, 2001:db8::2"]),
            ip("2001:db8::2")
        );
        assert_eq!(
            ip_of("10.0.0.1:4000", &["::ffff:198.51.100.8"]),
            ip("198.51.100.8")
        );
    }

    #[test]
    fn an_unparseable_entry_stops_at_the_last_trusted_hop() {
        // The attacker's left-hand value never wins by hiding behind garbage.
        assert_eq!(
            ip_of("10.0.0.1:4000", &["6.6.6.6, unknown"]),
            ip("10.0.0.1")
        );
        assert_eq!(
            ip_of("10.0.0.1:4000", &["6.6.6.6, garbage:x, 10.0.0.3"]),
            ip("10.0.0.3")
        );
        assert_eq!(ip_of("10.0.0.1:4000", &["6.6.6.6,"]), ip("10.0.0.1"));
    }

    #[test]
    fn only_trusted_hops_means_the_leftmost_of_them() {
        assert_eq!(
            ip_of("10.0.0.1:4000", &["10.0.0.3, 10.0.0.2"]),
            ip("10.0.0.3")
        );
        assert_eq!(ip_of("10.0.0.1:4000", &[]), ip("10.0.0.1"));
    }
}
