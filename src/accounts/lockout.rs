//! Sign-in with lockout, one flow for customers (storefront and REST) and
//! administrators.

use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{AccountTable, StoreError};

/// What sign-in looks at in an account row.
pub struct SignInRecord<'a> {
    pub id: i64,
    pub password_hash: &'a str,
    pub failed_sign_ins: i64,
    pub locked_until: Option<i64>,
}

/// Checks `password` against `account` and keeps the lockout count. An unknown
/// account checks a dummy hash, so the answer takes as long either way; a locked
/// account is refused after the same work. Every refusal looks the same.
pub async fn check_sign_in(
    state: &AppState,
    table: AccountTable,
    account: Option<SignInRecord<'_>>,
    password: &str,
) -> Result<bool, StoreError> {
    // Read for every attempt, known account or not, so both take the same path.
    let options = PasswordOptions::load(&state.db).await?;
    let matches = state
        .hasher
        .verify(account.as_ref().map(|a| a.password_hash), password)
        .await;
    let Some(account) = account else {
        return Ok(false);
    };
    let now = state.now();
    if is_locked(account.locked_until, now) {
        return Ok(false);
    }
    if !matches {
        let (failures, locked_until) = after_failure(account.failed_sign_ins, now, &options);
        state
            .db
            .record_failed_sign_in(table, account.id, failures, locked_until)
            .await?;
        if locked_until.is_some() {
            tracing::info!(
                ?table,
                id = account.id,
                "account locked after repeated failed sign-ins"
            );
        }
        return Ok(false);
    }
    state.db.record_sign_in(table, account.id, now).await?;
    Ok(true)
}

pub fn is_locked(locked_until: Option<i64>, now: i64) -> bool {
    locked_until.is_some_and(|until| until > now)
}

/// The failure count and lock after one more failed sign-in: reaching the limit
/// locks the account for the configured minutes and starts the count afresh.
pub fn after_failure(
    failed_sign_ins: i64,
    now: i64,
    options: &PasswordOptions,
) -> (i64, Option<i64>) {
    let failures = failed_sign_ins + 1;
    if options.lockout_failures > 0 && failures >= options.lockout_failures {
        (0, Some(now + options.lockout_minutes * 60))
    } else {
        (failures, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenth_failure_locks_for_ten_minutes() {
        let options = PasswordOptions::default();
        assert_eq!(after_failure(8, 1000, &options), (9, None));
        assert_eq!(after_failure(9, 1000, &options), (0, Some(1600)));
        assert!(is_locked(Some(1600), 1599));
        assert!(!is_locked(Some(1600), 1600));
    }
}
