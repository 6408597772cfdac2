//! Customer API tokens ("OAuth tokens" in Magento's words): issued for a valid
//! sign-in, refused once unknown, expired, revoked or older than the stamp.

use std::net::IpAddr;

use crate::accounts::customers::{self, SignInError, SignInFrom};
use crate::accounts::events::{self, Event};
use crate::accounts::security::TOUCH_EVERY_SECONDS;
use crate::accounts::sign_out::end_sessions_of;
use crate::secrets::{random_token, token_hash};
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{CustomerRow, StoreError};
use crate::work::Work;

/// Signs in with the same rules and lockout as the storefront, then issues a token.
pub async fn issue(
    state: &AppState,
    username: &str,
    password: &str,
    client_ip: IpAddr,
) -> Result<String, SignInError> {
    let from = SignInFrom {
        ip: client_ip,
        device_cookie: &|_| None,
    };
    let customer = customers::sign_in(state, username, password, &from)
        .await?
        .customer;
    let options = PasswordOptions::load(&state.db).await?;
    let token = random_token();
    let now = state.now();
    let mut work = Work::begin(state).await?;
    work.tx()
        .insert_api_token(
            &customer,
            &token_hash(&token),
            now,
            now + options.api_token_lifetime_hours * 3600,
        )
        .await?;
    events::record(
        work.tx(),
        customer.id,
        now,
        Event::TokenIssued,
        Some(client_ip),
    )
    .await?;
    work.commit().await?;
    Ok(token)
}

/// The customer behind a bearer token, if it is live. "Last used" is written
/// at most once a minute.
pub async fn verify(state: &AppState, token: &str) -> Result<Option<CustomerRow>, StoreError> {
    if token.len() != crate::secrets::TOKEN_LENGTH {
        return Ok(None);
    }
    let hash = token_hash(token);
    let now = state.now();
    let Some(owner) = state.db.customer_by_api_token(&hash, now).await? else {
        return Ok(None);
    };
    if owner
        .token_last_used_at
        .is_none_or(|at| now - at >= TOUCH_EVERY_SECONDS)
    {
        state
            .db
            .touch_api_token(&hash, now, TOUCH_EVERY_SECONDS)
            .await?;
    }
    Ok(Some(owner.customer))
}

/// Force Sign In: ends every session — every API token is revoked, every
/// storefront session ends (the security stamp rotates), reset links die. Idempotent: a second call
/// succeeds and revokes nothing more. Returns how many tokens were revoked.
pub async fn force_sign_in(
    state: &AppState,
    customer: &CustomerRow,
    audit: &crate::store::AuditEntry,
) -> Result<u64, StoreError> {
    let mut work = Work::begin(state).await?;
    let revoked = force_sign_in_in(&mut work, &[(customer, audit.clone())], state.now()).await?;
    work.commit().await?;
    let revoked = revoked.first().copied().unwrap_or(0);
    tracing::info!(
        customer_id = customer.id,
        revoked,
        "customer forced to sign in again"
    );
    Ok(revoked)
}

/// Force Sign In of each customer with their audit entry, inside the caller's
/// work (the single action's, or a bulk job's stretch), which commits it. One
/// statement per step for the whole set. Returns how many tokens each
/// customer had revoked, in the order given.
pub async fn force_sign_in_in(
    work: &mut Work<'_>,
    customers: &[(&CustomerRow, crate::store::AuditEntry)],
    now: i64,
) -> Result<Vec<u64>, StoreError> {
    let ids: Vec<i64> = customers.iter().map(|(c, _)| c.id).collect();
    let revoked = end_sessions_of(work, &ids, now, None)
        .await?
        .into_iter()
        .map(|ended| ended.revoked_tokens)
        .collect();
    let audits: Vec<&crate::store::AuditEntry> = customers.iter().map(|(_, a)| a).collect();
    work.tx().insert_audits(&audits).await?;
    let forced: Vec<_> = customers
        .iter()
        .map(|(c, a)| {
            let by = a.admin_email.as_str();
            (c.id, a.at, Event::ForceSignIn { by }, None)
        })
        .collect();
    events::record_each(work.tx(), &forced).await?;
    Ok(revoked)
}

/// Revokes one API token (the one a request came with). Unknown tokens are
/// ignored.
pub async fn revoke(state: &AppState, token: &str) -> Result<(), StoreError> {
    state
        .db
        .revoke_api_token(&token_hash(token), state.now())
        .await
}
