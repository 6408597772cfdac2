//! Password checks with lockout, one flow for customers (storefront sign-in,
//! REST token, the current password of a password change) and administrators.
//!
//! Each attempt reserves its place in the failure count before the slow hash
//! is checked, and settles it afterwards, each step one atomic statement: a
//! burst of parallel guesses on one or many instances gets no more checks than
//! the limit allows, and a right password that arrives after the lock is refused.

use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{AccountTable, Credentials, LockoutRule, StoreError};

/// The answer to one password check. Callers show every refusal alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    Correct,
    /// A wrong password (or no such account); `locked_now` when this failure
    /// reached the limit.
    Wrong {
        locked_now: bool,
    },
    /// The account is locked (or a burst filled the limit): refused without
    /// looking at the password.
    Locked,
}

impl PasswordCheck {
    pub fn is_correct(self) -> bool {
        self == PasswordCheck::Correct
    }

    /// Whether the account is locked after this check.
    pub fn left_locked(self) -> bool {
        matches!(
            self,
            PasswordCheck::Locked | PasswordCheck::Wrong { locked_now: true }
        )
    }
}

/// A sign-in: checks `password` against `account` and keeps the lockout count.
/// An unknown account checks a dummy hash, and so does a locked one, so the
/// answer takes as long either way.
pub async fn check_sign_in(
    state: &AppState,
    table: AccountTable,
    account: Option<&Credentials>,
    password: &str,
) -> Result<PasswordCheck, StoreError> {
    check(state, table, account, password, true).await
}

/// The current password re-entered by a signed-in account (a password
/// change): counted toward the lockout exactly like a sign-in.
pub async fn check_current_password(
    state: &AppState,
    table: AccountTable,
    account_id: i64,
    password: &str,
) -> Result<PasswordCheck, StoreError> {
    let account = state.db.credentials_by_id(table, account_id).await?;
    check(state, table, account.as_ref(), password, false).await
}

async fn check(
    state: &AppState,
    table: AccountTable,
    account: Option<&Credentials>,
    password: &str,
    is_sign_in: bool,
) -> Result<PasswordCheck, StoreError> {
    // Read for every attempt, known account or not, so both take the same path.
    let options = PasswordOptions::load(&state.db).await?;
    let now = state.now();
    let rule = rule(&options, now);
    let reserved = match account {
        Some(account) => {
            state
                .db
                .reserve_sign_in_attempt(table, account.id, now, rule)
                .await?
        }
        None => false,
    };
    let checked = account
        .filter(|_| reserved)
        .map(|a| a.password_hash.as_str());
    let matches = state.hasher.verify(checked, password).await;
    let Some(account) = account else {
        return Ok(PasswordCheck::Wrong { locked_now: false });
    };
    if !reserved {
        return Ok(PasswordCheck::Locked);
    }
    // Settled at the time the check began, so the lock window is the same
    // whether hashing was quick or queued.
    if matches {
        return Ok(
            if state
                .db
                .settle_correct_password(table, account.id, now, is_sign_in)
                .await?
            {
                PasswordCheck::Correct
            } else {
                PasswordCheck::Locked
            },
        );
    }
    let locked_now = state
        .db
        .settle_failed_sign_in(table, account.id, now, rule)
        .await?;
    if locked_now {
        tracing::info!(
            ?table,
            id = account.id,
            "account locked after repeated failed sign-ins"
        );
    }
    Ok(PasswordCheck::Wrong { locked_now })
}

/// The lockout settings as the store's statements take them.
fn rule(options: &PasswordOptions, now: i64) -> LockoutRule {
    LockoutRule {
        failures: if options.lockout_failures > 0 {
            options.lockout_failures
        } else {
            i64::MAX
        },
        locked_until: now + options.lockout_minutes * 60,
    }
}

pub fn is_locked(locked_until: Option<i64>, now: i64) -> bool {
    locked_until.is_some_and(|until| until > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_lock_for_ten_minutes() {
        let options = PasswordOptions::default();
        let rule = rule(&options, 1000);
        assert_eq!(rule.failures, 10);
        assert_eq!(rule.locked_until, 1600);
        assert!(is_locked(Some(1600), 1599));
        assert!(!is_locked(Some(1600), 1600));
    }

    #[test]
    fn no_limit_when_lockout_is_off() {
        let options = PasswordOptions {
            lockout_failures: 0,
            ..PasswordOptions::default()
        };
        assert_eq!(rule(&options, 0).failures, i64::MAX);
    }
}
