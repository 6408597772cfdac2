//! The password policy: one function every path uses (registration, change, reset,
//! REST, admin creation). Every character counts: nothing is truncated.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::Email;

pub const MAX_PASSWORD_LENGTH: usize = 256;

/// A password that passed the policy. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// The configurable part of the policy (Password Options).
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// How many of lower, upper, digit, special must appear (0–4).
    pub required_classes: u8,
}

/// One broken rule; each has its own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    Empty,
    TooShort { min: usize },
    TooLong,
    HasSpaces,
    ControlCharacters,
    SameAsEmail,
    MissingClasses { required: u8 },
    TooCommon,
    ConfirmationMismatch,
}

impl PasswordProblem {
    /// The problem in words, in `locale`.
    pub fn localized(&self, locale: crate::i18n::Locale) -> String {
        let (key, args) = self.message();
        let args: Vec<(&'static str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        locale.t_with(key, &args)
    }

    /// The catalog key and its arguments.
    pub fn message(&self) -> (&'static str, Vec<(&'static str, String)>) {
        match self {
            PasswordProblem::Empty => ("error-required-field", vec![]),
            PasswordProblem::TooShort { min } => {
                ("password-too-short", vec![("min", min.to_string())])
            }
            PasswordProblem::TooLong => (
                "password-too-long",
                vec![("max", MAX_PASSWORD_LENGTH.to_string())],
            ),
            PasswordProblem::HasSpaces => ("password-has-spaces", vec![]),
            PasswordProblem::ControlCharacters => ("password-has-control-characters", vec![]),
            PasswordProblem::SameAsEmail => ("password-same-as-email", vec![]),
            PasswordProblem::MissingClasses { required } => (
                "password-missing-classes",
                vec![("count", required.to_string())],
            ),
            PasswordProblem::TooCommon => ("password-too-common", vec![]),
            PasswordProblem::ConfirmationMismatch => ("password-mismatch", vec![]),
        }
    }
}

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

fn character_classes(password: &str) -> u8 {
    let lower = password.chars().any(char::is_lowercase);
    let upper = password.chars().any(char::is_uppercase);
    let digit = password.chars().any(|c| c.is_numeric());
    let special = password.chars().any(|c| !c.is_alphanumeric());
    [lower, upper, digit, special]
        .into_iter()
        .filter(|&b| b)
        .count() as u8
}

/// Control characters other than whitespace (tabs and line breaks are spaces
/// to the policy). No one types them, and NUL must never reach the database.
pub fn has_control_characters(raw: &str) -> bool {
    raw.chars().any(|c| c.is_control() && !c.is_whitespace())
}

impl Password {
    /// Checks a new password (and its confirmation, when the form has one) against
    /// the policy. Returns every broken rule, not just the first.
    pub fn new(
        raw: &str,
        confirmation: Option<&str>,
        email: &Email,
        policy: &PasswordPolicy,
    ) -> Result<Password, Vec<PasswordProblem>> {
        if raw.is_empty() {
            return Err(vec![PasswordProblem::Empty]);
        }
        let mut problems = Vec::new();
        let length = raw.chars().count();
        if length < policy.min_length {
            problems.push(PasswordProblem::TooShort {
                min: policy.min_length,
            });
        }
        if length > MAX_PASSWORD_LENGTH {
            problems.push(PasswordProblem::TooLong);
        }
        if raw.chars().any(char::is_whitespace) {
            problems.push(PasswordProblem::HasSpaces);
        }
        if has_control_characters(raw) {
            problems.push(PasswordProblem::ControlCharacters);
        }
        if raw.eq_ignore_ascii_case(email.as_str()) {
            problems.push(PasswordProblem::SameAsEmail);
        }
        if policy.required_classes > 0 && character_classes(raw) < policy.required_classes {
            problems.push(PasswordProblem::MissingClasses {
                required: policy.required_classes,
            });
        }
        if COMMON_PASSWORDS.contains(raw.to_lowercase().as_str()) {
            problems.push(PasswordProblem::TooCommon);
        }
        if confirmation.is_some_and(|c| c != raw) {
            problems.push(PasswordProblem::ConfirmationMismatch);
        }
        if problems.is_empty() {
            Ok(Password(raw.to_string()))
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("jane@example.com").unwrap()
    }
    const DEFAULT: PasswordPolicy = PasswordPolicy {
        min_length: 6,
        required_classes: 0,
    };

    #[test]
    fn defaults_accept_a_lowercase_passphrase() {
        assert!(Password::new("correct-horse-battery-staple", None, &email(), &DEFAULT).is_ok());
    }

    #[test]
    fn each_broken_rule_is_reported() {
        let problems = Password::new("a b", Some("x"), &email(), &DEFAULT).unwrap_err();
        assert!(problems.contains(&PasswordProblem::TooShort { min: 6 }));
        assert!(problems.contains(&PasswordProblem::HasSpaces));
        assert!(problems.contains(&PasswordProblem::ConfirmationMismatch));
        assert_eq!(
            Password::new("JANE@example.com", None, &email(), &DEFAULT).unwrap_err(),
            vec![PasswordProblem::SameAsEmail]
        );
        assert_eq!(
            Password::new("Password", None, &email(), &DEFAULT).unwrap_err(),
            vec![PasswordProblem::TooCommon]
        );
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(
            Password::new("secret\0word", None, &email(), &DEFAULT).unwrap_err(),
            vec![PasswordProblem::ControlCharacters]
        );
        assert_eq!(
            Password::new("secret\tword", None, &email(), &DEFAULT).unwrap_err(),
            vec![PasswordProblem::HasSpaces]
        );
    }

    #[test]
    fn length_counts_characters_up_to_256() {
        let long: String = "é".repeat(256);
        assert!(Password::new(&long, None, &email(), &DEFAULT).is_ok());
        let too_long: String = "é".repeat(257);
        assert_eq!(
            Password::new(&too_long, None, &email(), &DEFAULT).unwrap_err(),
            vec![PasswordProblem::TooLong]
        );
    }

    #[test]
    fn classes_apply_only_when_set() {
        let strict = PasswordPolicy {
            min_length: 6,
            required_classes: 3,
        };
        assert!(Password::new("lowercaseonly", None, &email(), &strict).is_err());
        assert!(Password::new("Lower9case", None, &email(), &strict).is_ok());
    }
}
