//! Password checks with lockout, one flow for customers (storefront sign-in,
//! REST token, the current password of a password change) and administrators.
//!
//! Each attempt reserves its place in the failure count before the slow hash
//! is checked, and settles it afterwards, each step one atomic statement: a
//! burst of parallel guesses on one or many instances gets no more checks than
//! the limit allows, and a right password that arrives after the lock is refused.
//!
//! Sign-ins (not a re-entered current password, not a second-factor code) are
//! also counted per client address across every account (issue 14, credential
//! stuffing): once an address (an IPv4 address, or an IPv6 /64) has had
//! `ip_sign_in_failures` failures in its window, its further attempts are
//! refused before anything is looked up or hashed, and are not counted toward
//! the account tried, so a botnet cannot lock the owners out. The owner's own
//! browser (the known-device cookie) is not counted and not refused.

use std::net::IpAddr;

use crate::recovery::limits::limit_key;
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{AccountTable, Credentials, IpFailureRule, LockoutRule, StoreError};

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
    /// The client address has had too many failed sign-ins across all
    /// accounts: refused without looking at the account or the password, and
    /// not counted toward the account's lockout.
    Throttled,
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
/// answer takes as long either way. `known_device`: the browser has signed in
/// to this account before (SPEC §9): while the account is locked by failures
/// from elsewhere, its right password still gets in; its failures still count.
/// `client_ip`: where the attempt comes from, counted by the per-address limit
/// unless the browser is a known device (`None`: not counted, for a sign-in
/// the application makes itself right after setting the password).
pub async fn check_sign_in(
    state: &AppState,
    table: AccountTable,
    account: Option<&Credentials>,
    password: &str,
    known_device: bool,
    client_ip: Option<IpAddr>,
) -> Result<PasswordCheck, StoreError> {
    let ip = client_ip.filter(|_| !known_device);
    gated(state, ip, || {
        check(
            state,
            table,
            account,
            password,
            Settle::SignIn,
            known_device,
        )
    })
    .await
}

/// The password of an administrator who is asked for a code next: a right
/// password gives back its reserved attempt but does not clear the failure
/// count, so wrong codes keep counting however often the password is entered.
pub async fn check_first_of_two(
    state: &AppState,
    table: AccountTable,
    account: Option<&Credentials>,
    password: &str,
    client_ip: Option<IpAddr>,
) -> Result<PasswordCheck, StoreError> {
    gated(state, client_ip, || {
        check(state, table, account, password, Settle::FirstOfTwo, false)
    })
    .await
}

/// The per-address limit around a sign-in: the attempt reserves its place in
/// the address's failure count first (one atomic statement, so parallel
/// attempts cannot pass the limit); a full window refuses it unchecked. A
/// right password gives its place back; anything else keeps it counted.
async fn gated<F, Fut>(
    state: &AppState,
    client_ip: Option<IpAddr>,
    sign_in: F,
) -> Result<PasswordCheck, StoreError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<PasswordCheck, StoreError>>,
{
    let Some(ip) = client_ip else {
        return sign_in().await;
    };
    let options = PasswordOptions::load(&state.db).await?;
    let Some(rule) = ip_rule(&options) else {
        return sign_in().await;
    };
    let key = limit_key(ip);
    let Some(reservation) = state.db.reserve_ip_sign_in(&key, state.now(), rule).await? else {
        metrics::counter!("shop_sign_in_throttled_total").increment(1);
        tracing::debug!(address = %key, "sign-in refused: too many failures from this address");
        return Ok(PasswordCheck::Throttled);
    };
    if reservation.failures == rule.failures {
        tracing::warn!(
            address = %key,
            failures = rule.failures,
            minutes = options.ip_sign_in_minutes,
            "too many failed sign-ins from one address: its further sign-ins are refused \
             for the rest of the window (known devices excepted)"
        );
    }
    let check = sign_in().await?;
    if check.is_correct() {
        state.db.give_back_ip_sign_in(&key, reservation).await?;
    }
    Ok(check)
}

/// The per-address limit as the store takes it; `None` when it is off.
pub fn ip_rule(options: &PasswordOptions) -> Option<IpFailureRule> {
    (options.ip_sign_in_failures > 0).then(|| IpFailureRule {
        failures: options.ip_sign_in_failures,
        window_seconds: options.ip_sign_in_minutes * 60,
    })
}

/// A second-factor code of a signed-in-by-password account: reserved and
/// settled like a password (a wrong code is a failed sign-in); `verify` says
/// whether the code is right and uses it up. A right code completes the
/// sign-in (the count starts afresh).
pub async fn check_code<F, Fut>(
    state: &AppState,
    table: AccountTable,
    account_id: i64,
    verify: F,
) -> Result<PasswordCheck, StoreError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    let options = PasswordOptions::load(&state.db).await?;
    let now = state.now();
    let rule = rule(&options, now);
    if !state
        .db
        .reserve_sign_in_attempt(table, account_id, now, rule)
        .await?
    {
        return Ok(PasswordCheck::Locked);
    }
    if verify().await? {
        let stands = state
            .db
            .settle_correct_password(table, account_id, now, true)
            .await?;
        return Ok(if stands {
            PasswordCheck::Correct
        } else {
            PasswordCheck::Locked
        });
    }
    let locked_now = state
        .db
        .settle_failed_sign_in(table, account_id, now, rule)
        .await?;
    Ok(PasswordCheck::Wrong { locked_now })
}

/// How a right password settles its reserved attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// A sign-in: the count starts afresh and the sign-in time is kept.
    SignIn,
    /// A re-entered current password: the count starts afresh.
    CurrentPassword,
    /// The first of two factors: only the reserved attempt is given back.
    FirstOfTwo,
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
    check(
        state,
        table,
        account.as_ref(),
        password,
        Settle::CurrentPassword,
        false,
    )
    .await
}

async fn check(
    state: &AppState,
    table: AccountTable,
    account: Option<&Credentials>,
    password: &str,
    settle: Settle,
    known_device: bool,
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
    // A known device is checked even while the account is locked.
    let checked = account
        .filter(|_| reserved || known_device)
        .map(|a| a.password_hash.as_str());
    let matches = state.hasher.verify(checked, password).await;
    let Some(account) = account else {
        return Ok(PasswordCheck::Wrong { locked_now: false });
    };
    if !reserved && known_device {
        if matches {
            // The owner's own browser: in, and the lock stays for everyone else.
            state.db.record_sign_in_time(table, account.id, now).await?;
            return Ok(PasswordCheck::Correct);
        }
        // Guessing from the owner's device is limited like any other: once
        // its failures fill the limit, the caller forgets the device.
        let failures = state.db.count_failed_sign_in(table, account.id).await?;
        return Ok(PasswordCheck::Wrong {
            locked_now: failures >= rule.failures,
        });
    }
    if !reserved {
        return Ok(PasswordCheck::Locked);
    }
    // Settled at the time the check began, so the lock window is the same
    // whether hashing was quick or queued.
    if matches {
        let stands = match settle {
            Settle::FirstOfTwo => state.db.settle_first_factor(table, account.id, now).await?,
            _ => {
                state
                    .db
                    .settle_correct_password(table, account.id, now, settle == Settle::SignIn)
                    .await?
            }
        };
        return Ok(if stands {
            PasswordCheck::Correct
        } else {
            PasswordCheck::Locked
        });
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

    #[test]
    fn thirty_failures_per_address_in_ten_minutes_by_default() {
        let rule = ip_rule(&PasswordOptions::default()).expect("on by default");
        assert_eq!(rule.failures, 30);
        assert_eq!(rule.window_seconds, 600);
        let off = PasswordOptions {
            ip_sign_in_failures: 0,
            ..PasswordOptions::default()
        };
        assert!(ip_rule(&off).is_none());
    }
}
