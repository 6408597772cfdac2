//! Email addresses: stored as typed, matched case-insensitively in ASCII only.

/// A syntactically plausible email address, as the person typed it (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    Empty,
    TooLong,
    Invalid,
}

impl EmailError {
    pub fn message_key(self) -> &'static str {
        match self {
            EmailError::Empty => "error-required-field",
            EmailError::TooLong => "error-email-too-long",
            EmailError::Invalid => "error-email-invalid",
        }
    }
}

pub const MAX_EMAIL_LENGTH: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let email = raw.trim();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.chars().count() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = email.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let forbidden =
            |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
        let valid = !local.is_empty()
            && local.chars().count() <= 64
            && !domain.is_empty()
            && !local.chars().any(forbidden)
            && !domain.chars().any(forbidden)
            && !local.starts_with('.')
            && !local.ends_with('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if !valid {
            return Err(EmailError::Invalid);
        }
        Ok(Email(email.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lookup key: `A`–`Z` folded to `a`–`z` and nothing else, so a Unicode
    /// look-alike (dotless ı, fullwidth letters, another normal form) never matches.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_ascii_only() {
        let a = Email::parse(" Jane.Doe@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "Jane.Doe@Example.COM");
        assert_eq!(a.key(), "jane.doe@example.com");
        // Dotless ı and fullwidth letters keep their identity.
        assert_ne!(
            Email::parse("jıll@example.com").unwrap().key(),
            "jill@example.com"
        );
        assert_ne!(
            Email::parse("ｊill@example.com").unwrap().key(),
            "jill@example.com"
        );
    }

    #[test]
    fn rejects_what_cannot_be_an_address() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("no-at-sign"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("a b@example.com"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("a@example..com"), Err(EmailError::Invalid));
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(300))),
            Err(EmailError::TooLong)
        );
        assert!(Email::parse("user@localhost").is_ok());
    }
}
