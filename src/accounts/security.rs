//! The shopper's own security (SPEC §9): the sessions a customer can list and
//! end, their API tokens, and what a browser sign-in leaves behind (a session
//! row, a known device, the new-device notice).

use std::net::IpAddr;

use crate::accounts::devices::DeviceCookie;
use crate::accounts::events::{self, Event};
// The storefront session lifetimes (one definition, where sessions are read).
use crate::http::context::{STOREFRONT_IDLE, STOREFRONT_MAX_AGE};
use crate::mail;
use crate::secrets::{random_token, secure_eq, token_hash};
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::sessions::SessionStore;
use crate::store::{ApiTokenRow, CustomerRow, NewCustomerSession, StoreResult};
use crate::work::Work;

/// "Last active" is written at most this often per session (and per token).
pub const TOUCH_EVERY_SECONDS: i64 = 60;
/// How long a "This wasn't me" link works.
pub const NOT_ME_LIFETIME_SECONDS: i64 = 24 * 3600;
/// What of a User-Agent is kept (the rest says nothing a person reads).
const MAX_USER_AGENT: usize = 512;

/// The browser a request came from.
#[derive(Debug, Clone)]
pub struct Browser {
    pub ip: IpAddr,
    pub user_agent: String,
}

impl Browser {
    pub fn new(ip: IpAddr, user_agent: &str) -> Browser {
        let user_agent = user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_USER_AGENT)
            .collect();
        Browser { ip, user_agent }
    }
}

/// Browser and system read from a User-Agent ("Firefox", "Windows 10"); an
/// unknown one reads as empty.
pub fn describe(user_agent: &str) -> (String, String) {
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    let known = |s: &str| {
        if s.is_empty() || s == woothee::woothee::VALUE_UNKNOWN {
            String::new()
        } else {
            s.to_string()
        }
    };
    match parsed {
        Some(r) => (known(r.name), known(r.os)),
        None => (String::new(), String::new()),
    }
}

/// What a browser sign-in gives the browser: the key its session keeps, and
/// its device cookie for the account.
pub struct BrowserSignIn {
    pub session_key: String,
    pub device: DeviceCookie,
}

/// Whether to send the new-device notice when the device is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Sign-in: a browser new to the account gets the notice.
    WhenNew,
    /// Registration: the account's first browser.
    Never,
}

/// A customer signed in from `browser`: their session row, their device
/// (remembered), and — for a device new to the account — the timeline entry
/// and the new-device notice with a "This wasn't me" link, all in one work.
pub async fn browser_signed_in(
    state: &AppState,
    customer: &CustomerRow,
    browser: &Browser,
    known_device: Option<DeviceCookie>,
    notice: Notice,
) -> anyhow::Result<BrowserSignIn> {
    let now = state.now();
    let session_key = random_token();
    let is_new = known_device.is_none();
    let device = known_device.unwrap_or_else(|| DeviceCookie::new(customer.id));
    let (name, system) = describe(&browser.user_agent);
    let send_notice = is_new
        && notice == Notice::WhenNew
        && PasswordOptions::load(&state.db).await?.new_device_email == 1;
    let not_me = random_token();
    let mail = if send_notice {
        Some(mail::new_device(
            state, customer, now, &name, &system, browser.ip, &not_me,
        )?)
    } else {
        None
    };
    let mut work = Work::begin(state).await?;
    // Rows of this customer's sessions that ended by age go here, so the
    // table holds live sessions and a few hours' more at most.
    work.tx()
        .delete_stale_customer_sessions(
            customer.id,
            now - STOREFRONT_MAX_AGE.whole_seconds(),
            now - STOREFRONT_IDLE.whole_seconds(),
        )
        .await?;
    work.tx()
        .insert_customer_session(&NewCustomerSession {
            key_hash: &token_hash(&session_key),
            customer_id: customer.id,
            user_agent: &browser.user_agent,
            ip: &browser.ip.to_string(),
            now,
        })
        .await?;
    work.tx()
        .remember_device(customer.id, &device.hash(), now)
        .await?;
    if is_new && notice == Notice::WhenNew {
        let label = format!("{name} / {system}");
        let event = Event::NewDeviceSignIn { browser: &label };
        events::record(work.tx(), customer.id, now, event, Some(browser.ip)).await?;
    }
    if let Some(mail) = &mail {
        work.tx()
            .insert_not_me_link(
                customer.id,
                &token_hash(&not_me),
                now,
                now + NOT_ME_LIFETIME_SECONDS,
            )
            .await?;
        work.queue_mail(mail).await?;
    }
    work.commit().await?;
    Ok(BrowserSignIn {
        session_key,
        device,
    })
}

/// The customer a session signs in: its row must still be there (not ended
/// from the security page or elsewhere), name the same customer, and the
/// stamp must still be theirs. Touches "last active" at most once a minute.
pub async fn session_customer(
    state: &AppState,
    id: i64,
    stamp: &str,
    session_key: &str,
    ip: IpAddr,
) -> StoreResult<Option<CustomerRow>> {
    let key_hash = token_hash(session_key);
    let Some(owner) = state.db.customer_by_session_key(&key_hash).await? else {
        return Ok(None);
    };
    if owner.customer.id != id || !secure_eq(&owner.customer.security_stamp, stamp) {
        return Ok(None);
    }
    let now = state.now();
    if now - owner.last_seen_at >= TOUCH_EVERY_SECONDS {
        state
            .db
            .touch_customer_session(&key_hash, &ip.to_string(), now, TOUCH_EVERY_SECONDS)
            .await?;
    }
    Ok(Some(owner.customer))
}

/// One active session as the security page shows it (no key, no id of the
/// session store: only the row number its Sign Out button names).
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id: i64,
    pub is_current: bool,
    pub browser: String,
    pub system: String,
    pub ip: String,
    pub signed_in_at: i64,
    pub last_active_at: i64,
}

/// The customer's active sessions, this one first.
pub async fn active_sessions(
    state: &AppState,
    customer_id: i64,
    current_key: &str,
    idle_seconds: i64,
    max_age_seconds: i64,
) -> StoreResult<Vec<ActiveSession>> {
    let now = state.now();
    let current = token_hash(current_key);
    let mut sessions: Vec<ActiveSession> = state
        .db
        .customer_sessions(customer_id, now - max_age_seconds, now - idle_seconds)
        .await?
        .into_iter()
        .map(|row| {
            let (browser, system) = describe(&row.user_agent);
            ActiveSession {
                id: row.id,
                is_current: secure_eq(&row.key_hash, &current),
                browser,
                system,
                ip: row.ip,
                signed_in_at: row.created_at,
                last_active_at: row.last_seen_at,
            }
        })
        .collect();
    sessions.sort_by_key(|s| !s.is_current);
    Ok(sessions)
}

/// Ends one of the customer's other sessions; false when it was not theirs
/// or is gone already.
pub async fn end_session(
    state: &AppState,
    customer_id: i64,
    session_row: i64,
    ip: IpAddr,
) -> StoreResult<bool> {
    let mut work = Work::begin(state).await?;
    let ended = work
        .tx()
        .delete_customer_sessions(customer_id, Some(session_row), None)
        .await?;
    if ended.is_empty() {
        return Ok(false);
    }
    let event = Event::SessionsEnded { how: "one" };
    events::record(work.tx(), customer_id, state.now(), event, Some(ip)).await?;
    work.commit().await?;
    drop_records(state, ended).await;
    Ok(true)
}

/// Sign Out Everywhere Else: every session of the customer but `current_key`'s.
pub async fn end_other_sessions(
    state: &AppState,
    customer_id: i64,
    current_key: &str,
    ip: IpAddr,
) -> StoreResult<usize> {
    let mut work = Work::begin(state).await?;
    let ended = work
        .tx()
        .delete_customer_sessions(customer_id, None, Some(&token_hash(current_key)))
        .await?;
    let count = ended.len();
    let event = Event::SessionsEnded { how: "all_others" };
    events::record(work.tx(), customer_id, state.now(), event, Some(ip)).await?;
    work.commit().await?;
    drop_records(state, ended).await;
    Ok(count)
}

/// Signing out: this session's row goes (the caller flushes the session).
pub async fn signed_out(state: &AppState, session_key: &str) -> StoreResult<()> {
    let mut work = Work::begin(state).await?;
    work.tx()
        .delete_customer_session_by_key(&token_hash(session_key))
        .await?;
    work.commit().await
}

/// tower-sessions' records of ended sessions: gone too (their rows are
/// already gone, which alone signs them out).
async fn drop_records(state: &AppState, ids: Vec<Option<String>>) {
    let ids: Vec<String> = ids.into_iter().flatten().collect();
    SessionStore::new(state.db.clone())
        .delete_records(&ids)
        .await;
}

/// The customer's live API tokens.
pub async fn live_tokens(state: &AppState, customer_id: i64) -> StoreResult<Vec<ApiTokenRow>> {
    state.db.live_api_tokens(customer_id, state.now()).await
}

/// Revokes one of the customer's tokens from the security page.
pub async fn revoke_token(
    state: &AppState,
    customer_id: i64,
    token_row: i64,
    ip: IpAddr,
) -> StoreResult<bool> {
    let now = state.now();
    let mut work = Work::begin(state).await?;
    if !work
        .tx()
        .revoke_customer_api_token(customer_id, token_row, now)
        .await?
    {
        return Ok(false);
    }
    let event = Event::TokenRevoked {
        how: "security_page",
    };
    events::record(work.tx(), customer_id, now, event, Some(ip)).await?;
    work.commit().await?;
    Ok(true)
}

/// Magento's revoke-customer-token: every API token of the customer ends.
pub async fn revoke_all_tokens(state: &AppState, customer_id: i64, ip: IpAddr) -> StoreResult<u64> {
    let now = state.now();
    let mut work = Work::begin(state).await?;
    let revoked = work.tx().revoke_api_tokens(customer_id, now).await?;
    let event = Event::TokenRevoked { how: "rest_all" };
    events::record(work.tx(), customer_id, now, event, Some(ip)).await?;
    work.commit().await?;
    Ok(revoked)
}
