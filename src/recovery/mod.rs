//! Password recovery: one "send a reset link" for storefront, REST and admin, the
//! request limits, and setting the new password from a link.

mod group;
pub mod guessing;
pub mod limits;
pub mod not_me;
mod token;

pub use group::ResetWriter;
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
use crate::store::{AccountTable, AuditEntry, CustomerRow, NewMail, RequestKeys, StoreError};
use crate::work::Work;

/// Who asked for the link on the storefront or the REST API. (An
/// administrator's request, counted by the customer's email only and never by
/// the admin's IP, goes through `admin_reset_in`.)
pub enum Requester {
    /// A shopper on the storefront or an API client: counted by IP and email.
    /// `via` names where from on the customer's timeline ("storefront", "rest").
    Visitor {
        client_ip: IpAddr,
        via: &'static str,
    },
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
    requester: Requester,
) -> Result<(), RequestError> {
    let email = Email::parse(email).map_err(RequestError::InvalidEmail)?;
    let options = PasswordOptions::load(&state.db).await?;
    let customer = state.db.customer_by_email_key(&email.key()).await?;
    let protection = options.protection_type;
    let counted = protection.counts_ip() || protection.counts_email();
    if customer.is_none() && !counted {
        // No account and no limit counting: nothing to write, same answer.
        metrics::counter!("shop_password_reset_requested_total").increment(1);
        return Ok(());
    }
    let Requester::Visitor { client_ip, via } = requester;
    // The link and its mail are made here, in the request's own task: the
    // writer of the group only writes.
    let link = customer
        .map(|c| LinkToSend::new(state, &c, &options, via.to_string(), Some(client_ip), None))
        .transpose()?;
    let request = group::ResetRequest {
        email,
        options,
        client_ip,
        link,
    };
    if counted && !state.db.one_writer_at_a_time() {
        // Each request's limits are checked under locks on its keys: on
        // PostgreSQL requests for other keys then go side by side, where a
        // group would check them one after another (798 requests/s with
        // the limits on by email, against 1,448 written alone, one machine).
        return group::write_alone(state, request).await;
    }
    state.resets.write(state, request).await
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
    let result = admin_reset_in(state, &mut work, &[(customer, audit)], &options)
        .await?
        .pop()
        .unwrap_or(Ok(()));
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

/// The admin's Reset Password for a set of customers inside the caller's work,
/// which commits it: the single action passes one customer, a bulk job a
/// stretch of them. Each customer's own limit is checked first; the links,
/// mails, timeline events and audit entries of those allowed are then written
/// together (one statement per step). Returns each customer's outcome in order
/// (`Limited` or `InvalidEmail`, leaving nothing of that customer in the work);
/// an `Err` means the work must be dropped.
pub async fn admin_reset_in(
    state: &AppState,
    work: &mut Work<'_>,
    requests: &[(&CustomerRow, &AuditEntry)],
    options: &PasswordOptions,
) -> Result<Vec<Result<(), RequestError>>, RequestError> {
    let now = state.now();
    let mut outcomes = Vec::with_capacity(requests.len());
    let mut links = Vec::with_capacity(requests.len());
    for &(customer, audit) in requests {
        let email = match Email::parse(&customer.email) {
            Ok(email) => email,
            Err(e) => {
                outcomes.push(Err(RequestError::InvalidEmail(e)));
                continue;
            }
        };
        let keys = RequestKeys {
            client_ip: None,
            email_key: options.protection_type.counts_email().then(|| email.key()),
        };
        match check_limits_in(work, &keys, now, options).await {
            Ok(()) => {
                let via = format!("admin: {} {}", audit.admin_email, audit.detail);
                links.push(LinkToSend::new(
                    state,
                    customer,
                    options,
                    via,
                    None,
                    Some(audit),
                )?);
                outcomes.push(Ok(()));
            }
            Err(RequestError::Limited) => outcomes.push(Err(RequestError::Limited)),
            Err(e) => return Err(e),
        }
    }
    let links: Vec<&LinkToSend> = links.iter().collect();
    write_links_in(work, &links, now).await?;
    Ok(outcomes)
}

/// Records the request against its keys and refuses it if a limit is reached
/// (the record is then taken back). With no key counted (protection "none")
/// no limit can refuse and no later request would count this one: nothing to
/// record.
async fn check_limits_in(
    work: &mut Work<'_>,
    keys: &RequestKeys,
    now: i64,
    options: &PasswordOptions,
) -> Result<(), RequestError> {
    if keys.client_ip.is_none() && keys.email_key.is_none() {
        return Ok(());
    }
    work.tx().lock_reset_request_keys(keys).await?;
    let own = work.tx().insert_reset_request(keys, now).await?;
    let stats = work
        .tx()
        .reset_request_stats(keys, now - limits::WINDOW_SECONDS, own)
        .await?;
    if !allows(&stats, now, options) {
        // A refused request leaves no trace, in this work or (dropped) rolled back.
        work.tx().delete_reset_request(own).await?;
        metrics::counter!("shop_password_reset_limited_total").increment(1);
        return Err(RequestError::Limited);
    }
    Ok(())
}

/// A link the limits allowed, with everything written for it prepared.
struct LinkToSend<'a> {
    customer_id: i64,
    token_hash: String,
    mail: NewMail,
    /// Where the request came from, on the customer's timeline.
    via: String,
    ip: Option<IpAddr>,
    audit: Option<&'a AuditEntry>,
    /// The link's lifetime, as its mail states it.
    lifetime_hours: i64,
}

impl<'a> LinkToSend<'a> {
    fn new(
        state: &AppState,
        customer: &CustomerRow,
        options: &PasswordOptions,
        via: String,
        ip: Option<IpAddr>,
        audit: Option<&'a AuditEntry>,
    ) -> Result<LinkToSend<'a>, RequestError> {
        let token = random_token();
        let mail = mail::reset_link(state, customer, &token, options.link_lifetime_hours)?;
        Ok(LinkToSend {
            customer_id: customer.id,
            token_hash: token_hash(&token),
            mail,
            via: via.trim().to_string(),
            ip,
            audit,
            lifetime_hours: options.link_lifetime_hours,
        })
    }
}

/// Writes the links (each replacing the customer's earlier one), their mails,
/// timeline events and audit entries: one statement per step for the set.
async fn write_links_in(
    work: &mut Work<'_>,
    links: &[&LinkToSend<'_>],
    now: i64,
) -> Result<(), RequestError> {
    if links.is_empty() {
        return Ok(());
    }
    // One lifetime for all, unless the options changed while they were made.
    let mut lifetimes: Vec<i64> = links.iter().map(|l| l.lifetime_hours).collect();
    lifetimes.sort_unstable();
    lifetimes.dedup();
    for lifetime in lifetimes {
        let hashes: Vec<(i64, &str)> = links
            .iter()
            .filter(|l| l.lifetime_hours == lifetime)
            .map(|l| (l.customer_id, l.token_hash.as_str()))
            .collect();
        work.tx()
            .replace_reset_links(&hashes, now, now + lifetime * 3600)
            .await?;
    }
    let mails: Vec<&NewMail> = links.iter().map(|l| &l.mail).collect();
    work.queue_mails(&mails).await?;
    let requested: Vec<_> = links
        .iter()
        .map(|l| {
            let event = Event::ResetRequested { via: &l.via };
            (l.customer_id, now, event, l.ip)
        })
        .collect();
    events::record_each(work.tx(), &requested).await?;
    let audits: Vec<&AuditEntry> = links.iter().filter_map(|l| l.audit).collect();
    work.tx().insert_audits(&audits).await?;
    metrics::counter!("shop_password_reset_requested_total").increment(links.len() as u64);
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
