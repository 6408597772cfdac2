//! Password recovery: one "send a reset link" for storefront, REST and admin, the
//! request limits, and setting the new password from a link.

pub mod guessing;
pub mod limits;
pub mod not_me;
mod token;

pub use limits::allows;
pub use token::ResetToken;

use std::net::IpAddr;

use crate::accounts::events::{self, Event};
use crate::accounts::sign_out::end_every_session;
use crate::accounts::{Email, EmailError, Password, PasswordProblem};
use crate::mail;
use crate::secrets::{random_token, token_hash};
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{AccountTable, AuditEntry, CustomerRow, RequestKeys, StoreError};
use crate::work::Work;

/// Who asked for the link.
pub enum Requester<'a> {
    /// A shopper on the storefront or an API client: counted by IP and email.
    /// `via` names where from on the customer's timeline ("storefront", "rest").
    Visitor {
        client_ip: IpAddr,
        via: &'static str,
    },
    /// An administrator: counted by the customer's email only, never the admin's IP.
    Admin { audit: &'a AuditEntry },
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("invalid email")]
    InvalidEmail(EmailError),
    #[error("too many password reset requests")]
    Limited,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for RequestError {
    fn from(e: StoreError) -> Self {
        RequestError::Internal(e.into())
    }
}

/// Sends a reset link if the address has an account. Known and unknown addresses
/// are counted, limited and answered alike.
pub async fn request_reset(
    state: &AppState,
    email: &str,
    requester: Requester<'_>,
) -> Result<(), RequestError> {
    let email = Email::parse(email).map_err(RequestError::InvalidEmail)?;
    let options = PasswordOptions::load(&state.db).await?;
    let customer = state.db.customer_by_email_key(&email.key()).await?;
    send_link(state, &email, customer.as_ref(), &options, requester).await
}

/// The audit action of an administrator's Reset Password that the request
/// limit refused: no link was sent, but the attempt is on record.
pub const AUDIT_RESET_REFUSED: &str = "reset_password_refused";

/// The admin's Reset Password for a known customer. A refusal by the limit is
/// audited too (as `AUDIT_RESET_REFUSED`).
pub async fn admin_reset(
    state: &AppState,
    customer: &CustomerRow,
    audit: &AuditEntry,
) -> Result<(), RequestError> {
    let options = PasswordOptions::load(&state.db).await?;
    let mut work = Work::begin(state).await?;
    let result = admin_reset_in(state, &mut work, customer, audit, &options).await;
    match result {
        Ok(()) => work.commit().await?,
        Err(RequestError::Limited) => {
            drop(work);
            let refused = AuditEntry {
                action: AUDIT_RESET_REFUSED,
                detail: "limit".to_string(),
                ..audit.clone()
            };
            state.db.insert_audit(&refused).await?;
        }
        Err(_) => {}
    }
    result
}

/// The admin's Reset Password inside the caller's work, which commits it: a bulk
/// job runs a batch of customers through it in one transaction. A refused
/// request leaves nothing behind in the work.
pub async fn admin_reset_in(
    state: &AppState,
    work: &mut Work<'_>,
    customer: &CustomerRow,
    audit: &AuditEntry,
    options: &PasswordOptions,
) -> Result<(), RequestError> {
    let email = Email::parse(&customer.email).map_err(RequestError::InvalidEmail)?;
    send_link_in(
        state,
        work,
        &email,
        Some(customer),
        options,
        Requester::Admin { audit },
    )
    .await
}

async fn send_link(
    state: &AppState,
    email: &Email,
    customer: Option<&CustomerRow>,
    options: &PasswordOptions,
    requester: Requester<'_>,
) -> Result<(), RequestError> {
    let counted = options.protection_type.counts_ip() || options.protection_type.counts_email();
    if customer.is_none() && !counted && matches!(requester, Requester::Visitor { .. }) {
        // No account and no limit counting: nothing to write, same answer.
        metrics::counter!("shop_password_reset_requested_total").increment(1);
        return Ok(());
    }
    let mut work = Work::begin(state).await?;
    send_link_in(state, &mut work, email, customer, options, requester).await?;
    work.commit().await?;
    Ok(())
}

async fn send_link_in(
    state: &AppState,
    work: &mut Work<'_>,
    email: &Email,
    customer: Option<&CustomerRow>,
    options: &PasswordOptions,
    requester: Requester<'_>,
) -> Result<(), RequestError> {
    let protection = options.protection_type;
    let (client_ip, audit, via, ip) = match requester {
        Requester::Visitor { client_ip, via } => (
            protection.counts_ip().then(|| limits::limit_key(client_ip)),
            None,
            via,
            Some(client_ip),
        ),
        Requester::Admin { audit } => (None, Some(audit), "admin", None),
    };
    let keys = RequestKeys {
        client_ip,
        email_key: protection.counts_email().then(|| email.key()),
    };
    let now = state.now();
    let token = random_token();
    let mail = customer
        .map(|c| mail::reset_link(state, c, &token, options.link_lifetime_hours))
        .transpose()?;
    // With no key counted (protection "none") no limit can refuse and no
    // later request would count this one: nothing to record.
    if keys.client_ip.is_some() || keys.email_key.is_some() {
        work.tx().lock_reset_request_keys(&keys).await?;
        let own = work.tx().insert_reset_request(&keys, now).await?;
        let stats = work
            .tx()
            .reset_request_stats(&keys, now - limits::WINDOW_SECONDS, own)
            .await?;
        if !allows(&stats, now, options) {
            // A refused request leaves no trace, in this work or (dropped) rolled back.
            work.tx().delete_reset_request(own).await?;
            metrics::counter!("shop_password_reset_limited_total").increment(1);
            return Err(RequestError::Limited);
        }
    }
    if let Some((customer, mail)) = customer.zip(mail.as_ref()) {
        let expires_at = now + options.link_lifetime_hours * 3600;
        work.tx()
            .replace_reset_link(customer.id, &token_hash(&token), now, expires_at)
            .await?;
        work.queue_mail(mail).await?;
        let via = match audit {
            // An administrator's (or a bulk job's) request names them.
            Some(entry) => format!("{via}: {} {}", entry.admin_email, entry.detail),
            None => via.to_string(),
        };
        let event = Event::ResetRequested { via: via.trim() };
        events::record(work.tx(), customer.id, now, event, ip).await?;
    }
    if let Some(entry) = audit {
        work.tx().insert_audit(entry).await?;
    }
    metrics::counter!("shop_password_reset_requested_total").increment(1);
    Ok(())
}

/// A reset link as it reaches us.
pub enum Link<'a> {
    /// A token from outside (URL, form, REST): malformed or dead ones count
    /// against the client's IP, to limit guessing.
    Presented { token: &'a str, client_ip: IpAddr },
    /// The hash the session kept when the link was opened.
    Kept { hash: &'a str },
}

/// Opens a link from an email: the hash to keep in the session if the link is
/// live (opening never uses it up), `None` if it is malformed, used, replaced,
/// expired, or the client has guessed too often.
pub async fn open_link(
    state: &AppState,
    token: &str,
    client_ip: IpAddr,
) -> Result<Option<String>, StoreError> {
    let Some(hash) = guessing::presented_hash(state, token, client_ip).await? else {
        return Ok(None);
    };
    let now = state.now();
    if let Some(customer_id) = state.db.reset_token_owner(&hash, now).await? {
        let mut work = Work::begin(state).await?;
        let event = Event::ResetLinkOpened;
        events::record(work.tx(), customer_id, now, event, Some(client_ip)).await?;
        work.commit().await?;
        return Ok(Some(hash));
    }
    guessing::record_failure(state, client_ip).await?;
    Ok(None)
}

/// Whether the link the session kept is still live.
pub async fn kept_link_is_live(state: &AppState, hash: &str) -> Result<bool, StoreError> {
    Ok(state
        .db
        .reset_token_owner(hash, state.now())
        .await?
        .is_some())
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("the reset link is invalid or expired")]
    InvalidLink,
    #[error("the new password breaks the policy")]
    Policy(Vec<PasswordProblem>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ResetError {
    fn from(e: StoreError) -> Self {
        ResetError::Internal(e.into())
    }
}

/// Sets the new password from a link. `expected_email`, when given (REST), must be
/// the link owner's. On success the link is used up, the stamp rotates (every
/// session and API token ends), the lockout clears and a notice is queued; the
/// customer is not signed in.
pub async fn complete_reset(
    state: &AppState,
    link: Link<'_>,
    expected_email: Option<&str>,
    password: &str,
    confirmation: Option<&str>,
) -> Result<(), ResetError> {
    let (token_hash, guesser) = match link {
        Link::Kept { hash } => (hash.to_string(), None),
        Link::Presented { token, client_ip } => {
            match guessing::presented_hash(state, token, client_ip).await? {
                Some(hash) => (hash, Some(client_ip)),
                None => return Err(ResetError::InvalidLink),
            }
        }
    };
    let result =
        set_password_from_link(state, &token_hash, expected_email, password, confirmation).await;
    if let (Err(ResetError::InvalidLink), Some(ip)) = (&result, guesser) {
        guessing::record_failure(state, ip).await?;
    }
    result
}

async fn set_password_from_link(
    state: &AppState,
    token_hash: &str,
    expected_email: Option<&str>,
    password: &str,
    confirmation: Option<&str>,
) -> Result<(), ResetError> {
    let now = state.now();
    let owner = state.db.reset_token_owner(token_hash, now).await?;
    let customer = match owner {
        Some(id) => state.db.customer_by_id(id).await?,
        None => None,
    };
    let Some(customer) = customer else {
        return Err(ResetError::InvalidLink);
    };
    let email = Email::parse(&customer.email)
        .map_err(|e| anyhow::anyhow!("stored email unreadable: {e:?}"))?;
    if let Some(expected) = expected_email
        && Email::parse(expected).map(|e| e.key()).ok() != Some(email.key())
    {
        return Err(ResetError::InvalidLink);
    }
    let options = PasswordOptions::load(&state.db).await?;
    let password = Password::new(password, confirmation, &email, &options.policy())
        .map_err(ResetError::Policy)?;
    let hash = state.hasher.hash(&password).await?;
    let notice = mail::password_changed(state, &customer)?;
    let mut work = Work::begin(state).await?;
    if !work
        .tx()
        .use_reset_link(token_hash, customer.id, now)
        .await?
    {
        return Err(ResetError::InvalidLink);
    }
    work.tx().set_password_hash(customer.id, &hash).await?;
    work.tx()
        .clear_lockout(AccountTable::Customers, customer.id)
        .await?;
    end_every_session(&mut work, customer.id, now).await?;
    let event = Event::PasswordChanged { how: "reset_link" };
    events::record(work.tx(), customer.id, now, event, None).await?;
    work.queue_mail(&notice).await?;
    work.commit().await?;
    tracing::info!(customer_id = customer.id, "password reset completed");
    Ok(())
}
