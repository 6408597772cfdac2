//! Sign-in lockout, shared by customers (storefront and REST) and administrators.

use crate::settings::PasswordOptions;

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
