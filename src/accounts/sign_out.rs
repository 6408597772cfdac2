//! "End every session": the one rule behind a reset, a password change, Force
//! Sign In and "This wasn't me".

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
/// session ends) and deletes outstanding reset links, in the caller's work.
pub async fn end_every_session(
    work: &mut Work<'_>,
    customer_id: i64,
    now: i64,
) -> StoreResult<SessionsEnded> {
    let revoked_tokens = work.tx().revoke_api_tokens(customer_id, now).await?;
    let stamp = new_security_stamp();
    work.tx().rotate_security_stamp(customer_id, &stamp).await?;
    work.tx().delete_reset_links(customer_id).await?;
    Ok(SessionsEnded {
        revoked_tokens,
        stamp,
    })
}
