//! "End every session": the one rule behind a reset, a password change, Force
//! Sign In and "This wasn't me".

use std::collections::HashMap;

use super::new_security_stamp;
use crate::store::StoreResult;
use crate::work::Work;

/// What ending every session did.
pub struct SessionsEnded {
    /// API tokens revoked.
    pub revoked_tokens: u64,
    /// The customer's new security stamp: sessions signed in under the old one
    /// end on their next request, on every instance.
    pub stamp: String,
}

/// Revokes every API token, rotates the security stamp (every storefront
/// session ends), deletes the listed sessions and outstanding reset links, in
/// the caller's work.
pub async fn end_every_session(
    work: &mut Work<'_>,
    customer_id: i64,
    now: i64,
) -> StoreResult<SessionsEnded> {
    end_every_other_session(work, customer_id, now, None).await
}

/// The same, but the session with key hash `keep` stays listed: the caller
/// re-binds it to the new stamp (a password change on the account page).
pub async fn end_every_other_session(
    work: &mut Work<'_>,
    customer_id: i64,
    now: i64,
    keep: Option<&str>,
) -> StoreResult<SessionsEnded> {
    let mut ended = end_sessions_of(work, &[customer_id], now, keep).await?;
    Ok(ended.remove(0))
}

/// Ends every session of each of a set of customers (`keep` as above), one
/// statement per step for the whole set: what each of them gets is what one
/// customer gets. Returns what was ended, in the order of `customer_ids`.
pub async fn end_sessions_of(
    work: &mut Work<'_>,
    customer_ids: &[i64],
    now: i64,
    keep: Option<&str>,
) -> StoreResult<Vec<SessionsEnded>> {
    work.tx().delete_sessions_of(customer_ids, keep).await?;
    let revoked = work.tx().revoke_api_tokens_of(customer_ids, now).await?;
    let mut tokens: HashMap<i64, u64> = HashMap::new();
    for owner in revoked {
        *tokens.entry(owner).or_default() += 1;
    }
    let stamps: Vec<(i64, String)> = customer_ids
        .iter()
        .map(|&id| (id, new_security_stamp()))
        .collect();
    work.tx().rotate_security_stamps(&stamps).await?;
    work.tx().delete_reset_links_of(customer_ids).await?;
    Ok(stamps
        .into_iter()
        .map(|(id, stamp)| SessionsEnded {
            revoked_tokens: tokens.get(&id).copied().unwrap_or(0),
            stamp,
        })
        .collect())
}
