//! A person's name, for customers (first and last name) and administrators:
//! one rule for both, checked once where the name comes in.

/// The longest name kept, in characters.
pub const MAX_NAME_LENGTH: usize = 255;

/// A name as the person typed it, trimmed: present, not too long, and free of
/// control characters (no one types them on purpose, and PostgreSQL refuses NUL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {MAX_NAME_LENGTH} characters")]
    TooLong,
    #[error("the name contains control characters")]
    ControlCharacters,
}

impl NameError {
    /// The catalog key of the message shown under the field.
    pub fn message_key(self) -> &'static str {
        match self {
            NameError::Empty => "error-required-field",
            NameError::TooLong => "error-name-invalid",
            NameError::ControlCharacters => "error-control-characters",
        }
    }
}

impl PersonName {
    pub fn parse(raw: &str) -> Result<PersonName, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            Err(NameError::Empty)
        } else if name.chars().any(char::is_control) {
            Err(NameError::ControlCharacters)
        } else if name.chars().count() > MAX_NAME_LENGTH {
            Err(NameError::TooLong)
        } else {
            Ok(PersonName(name.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PersonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(
            PersonName::parse("  Jan de Vries ").unwrap().as_str(),
            "Jan de Vries"
        );
        assert_eq!(PersonName::parse(" \t "), Err(NameError::Empty));
        assert_eq!(
            PersonName::parse("Jan\0"),
            Err(NameError::ControlCharacters)
        );
        assert_eq!(
            PersonName::parse("Jan\u{7f}Piet"),
            Err(NameError::ControlCharacters)
        );
        assert_eq!(
            PersonName::parse("Jan\nPiet"),
            Err(NameError::ControlCharacters)
        );
        assert_eq!(
            PersonName::parse(&"é".repeat(255))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            255
        );
        assert_eq!(PersonName::parse(&"é".repeat(256)), Err(NameError::TooLong));
    }
}
