//! Customer API tokens ("OAuth tokens" in Magento's words): issued for a valid
//! sign-in, refused once unknown, expired, revoked or older than the stamp.

use crate::accounts::customers::{self, SignInError};
use crate::secrets::{random_token, token_hash};
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{CustomerRow, StoreError};

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
    if token.len() != 43 {
        return Ok(None);
    }
    state
        .db
        .customer_by_api_token(&token_hash(token), state.now())
        .await
}

/// Force Sign In: revokes every API token of the customer and ends every
/// storefront session (the security stamp rotates). Idempotent: a second call
/// succeeds and revokes nothing more. Returns how many tokens were revoked.
pub async fn force_sign_in(
    state: &AppState,
    customer: &CustomerRow,
    audit: &crate::store::AuditEntry,
) -> Result<u64, StoreError> {
    let stamp = crate::accounts::new_security_stamp();
    let revoked = state
        .db
        .force_customer_sign_out(customer.id, &stamp, state.now(), audit)
        .await?;
    tracing::info!(
        customer_id = customer.id,
        revoked,
        "customer forced to sign in again"
    );
    Ok(revoked)
}
