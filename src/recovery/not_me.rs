//! "This wasn't me", the link of the new-device notice (SPEC §9). Opening it
//! changes nothing; confirming ends every session and API token of the
//! customer and opens Set a New Password with a fresh reset link that only
//! this browser's session holds. The link works once, for 24 hours, and is
//! guessed at no faster than reset links are.

use std::net::IpAddr;

use super::guessing;
use crate::accounts::events::{self, Event};
use crate::accounts::sign_out::end_every_session;
use crate::secrets::{random_token, token_hash};
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::StoreError;
use crate::work::Work;

/// Opens a link from the notice: the hash to keep in the session when it is
/// live (nothing is used up), `None` otherwise.
pub async fn open(
    state: &AppState,
    token: &str,
    client_ip: IpAddr,
) -> Result<Option<String>, StoreError> {
    let Some(hash) = guessing::presented_hash(state, token, client_ip).await? else {
        return Ok(None);
    };
    if is_live(state, &hash).await? {
        return Ok(Some(hash));
    }
    guessing::record_failure(state, client_ip).await?;
    Ok(None)
}

/// Whether the link a session kept still works.
pub async fn is_live(state: &AppState, hash: &str) -> Result<bool, StoreError> {
    Ok(state
        .db
        .not_me_link_owner(hash, state.now())
        .await?
        .is_some())
}

/// Confirms: uses the link up, ends every session and token, and issues a
/// reset link. Returns the reset link's hash for the session to keep (the
/// token itself goes nowhere), or `None` when the link was not live.
pub async fn confirm(
    state: &AppState,
    hash: &str,
    client_ip: IpAddr,
) -> Result<Option<String>, StoreError> {
    let now = state.now();
    let options = PasswordOptions::load(&state.db).await?;
    let reset_hash = token_hash(&random_token());
    let mut work = Work::begin(state).await?;
    let Some(customer_id) = work.tx().use_not_me_link(hash, now).await? else {
        return Ok(None);
    };
    end_every_session(&mut work, customer_id, now).await?;
    events::record(work.tx(), customer_id, now, Event::NotMe, Some(client_ip)).await?;
    let ended = Event::SessionsEnded { how: "not_me" };
    events::record(work.tx(), customer_id, now, ended, Some(client_ip)).await?;
    work.tx()
        .replace_reset_link(
            customer_id,
            &reset_hash,
            now,
            now + options.link_lifetime_hours * 3600,
        )
        .await?;
    work.commit().await?;
    tracing::info!(
        customer_id,
        "customer reported a sign-in that was not theirs"
    );
    Ok(Some(reset_hash))
}
