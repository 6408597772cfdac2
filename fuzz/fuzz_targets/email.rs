//! `Email::parse`: never panics; what it accepts is the trimmed input, bounded,
//! one `@` split, and parses again to itself (also through its lookup key).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shop_accounts::accounts::{Email, EmailError, MAX_EMAIL_LENGTH};

fuzz_target!(|raw: &str| {
    match Email::parse(raw) {
        Ok(email) => {
            assert_eq!(email.as_str(), raw.trim());
            assert!(email.as_str().chars().count() <= MAX_EMAIL_LENGTH);
            let (local, domain) = email.as_str().rsplit_once('@').expect("an @");
            assert!(!local.is_empty() && !domain.is_empty());
            assert!(!email.as_str().chars().any(char::is_control));
            // parse → display → parse round-trips.
            assert_eq!(Email::parse(&email.to_string()), Ok(email.clone()));
            // The key folds ASCII only, stays a valid address and is stable.
            let key = email.key();
            assert_eq!(key.len(), email.as_str().len());
            let again = Email::parse(&key).expect("the key is an address");
            assert_eq!(again.key(), key);
        }
        Err(EmailError::Empty) => assert!(raw.trim().is_empty()),
        Err(EmailError::TooLong) => assert!(raw.trim().chars().count() > MAX_EMAIL_LENGTH),
        Err(EmailError::Invalid) => {
            assert!(!raw.trim().is_empty());
            assert!(raw.trim().chars().count() <= MAX_EMAIL_LENGTH);
        }
    }
});
