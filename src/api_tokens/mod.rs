//! Customer API tokens ("OAuth tokens" in Magento's words): issued for a valid
//! sign-in, refused once unknown, expired, revoked or older than the stamp.

use crate::accounts::customers::{self, SignInError};
use crate::accounts::sign_out::end_every_session;
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
) -> Result<String, SignInError> {
    let customer = customers::sign_in(state, username, password).await?;
    let options = PasswordOptions::load(&state.db).await?;
    let token = random_token();
    let now = state.now();
    state
        .db
        .insert_api_token(
            &customer,
            &token_hash(&token),
            now,
            now + options.api_token_lifetime_hours * 3600,
        )
        .await?;
    Ok(token)
}

/// The customer behind a bearer token, if it is live.
pub async fn verify(state: &AppState, token: &str) -> Result<Option<CustomerRow>, StoreError> {
    if token.len() != crate::secrets::TOKEN_LENGTH {
        return Ok(None);
    }
    state
        .db
        .customer_by_api_token(&token_hash(token), state.now())
        .await
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
    let revoked = end_every_session(&mut work, customer.id, state.now())
        .await?
        .revoked_tokens;
    work.tx().insert_audit(audit).await?;
    work.commit().await?;
    tracing::info!(
        customer_id = customer.id,
        revoked,
        "customer forced to sign in again"
    );
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
