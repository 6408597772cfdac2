//! Guessing reset tokens is limited per client IP (SECURITY-CHECKS 21): after
//! too many malformed, used or expired tokens in an hour, every token from that
//! address is answered like an expired one. With 256-bit tokens guessing cannot
//! succeed anyway; this keeps scanners from trying at volume.

use std::net::IpAddr;

use super::ResetToken;
use crate::state::AppState;
use crate::store::StoreError;

/// Wrong tokens one client IP may present in an hour. Generous: a shopper
/// clicking an old link a few times never meets it.
pub const MAX_FAILURES_PER_HOUR: i64 = 20;
/// The window those failures are counted in.
pub const WINDOW_SECONDS: i64 = 3600;

/// The hash of a presented token, or `None` when it is malformed (counted as a
/// failure) or the client is over the limit.
pub async fn presented_hash(
    state: &AppState,
    token: &str,
    client_ip: IpAddr,
) -> Result<Option<String>, StoreError> {
    let ip = super::limits::limit_key(client_ip);
    let failures = state
        .db
        .reset_token_failures_since(&ip, state.now() - WINDOW_SECONDS)
        .await?;
    if failures >= MAX_FAILURES_PER_HOUR {
        metrics::counter!("shop_reset_token_guessing_refused_total").increment(1);
        return Ok(None);
    }
    match ResetToken::parse(token) {
        Some(token) => Ok(Some(token.hash())),
        None => {
            record_failure(state, client_ip).await?;
            Ok(None)
        }
    }
}

pub async fn record_failure(state: &AppState, client_ip: IpAddr) -> Result<(), StoreError> {
    state
        .db
        .record_reset_token_failure(&super::limits::limit_key(client_ip), state.now())
        .await
}
