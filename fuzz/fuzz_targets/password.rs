//! The password policy: never panics; an accepted password keeps every rule;
//! every reported problem is true of the input; the same input gets the same answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shop_accounts::accounts::{
    Email, MAX_PASSWORD_LENGTH, Password, PasswordPolicy, PasswordProblem,
};

// Lines: `MIN CLASSES`, the email, the password, and the confirmation if any.
fuzz_target!(|text: &str| {
    let mut lines = text.split('\n');
    let mut numbers = lines.next().unwrap_or("").split(' ').map(|n| n.parse::<u8>().unwrap_or(0));
    let (min, classes) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let email = lines.next().unwrap_or("");
    let raw = lines.next().unwrap_or("");
    let confirmation = lines.next();
    let policy = PasswordPolicy {
        min_length: usize::from(min % 80),
        required_classes: classes % 5,
    };
    let email = Email::parse(email).unwrap_or_else(|_| Email::parse("jane@example.com").unwrap());
    let length = raw.chars().count();
    let result = Password::new(raw, confirmation, &email, &policy);
    match &result {
        Ok(password) => {
            assert_eq!(password.expose(), raw);
            assert!(length >= policy.min_length && length <= MAX_PASSWORD_LENGTH);
            assert!(length > 0);
            assert!(!raw.chars().any(char::is_whitespace));
            assert!(!raw.chars().any(char::is_control));
            assert!(!raw.eq_ignore_ascii_case(email.as_str()));
            assert!(confirmation.is_none_or(|c| c == raw));
            // Never printed.
            assert_eq!(format!("{password:?}"), "Password(..)");
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for (i, problem) in problems.iter().enumerate() {
                assert!(!problems[..i].contains(problem), "reported twice: {problem:?}");
                let (key, _args) = problem.message();
                assert!(!key.is_empty());
                match problem {
                    PasswordProblem::Empty => assert!(raw.is_empty() && problems.len() == 1),
                    PasswordProblem::TooShort { min } => {
                        assert!(*min == policy.min_length && length < *min)
                    }
                    PasswordProblem::TooLong => assert!(length > MAX_PASSWORD_LENGTH),
                    PasswordProblem::HasSpaces => assert!(raw.chars().any(char::is_whitespace)),
                    PasswordProblem::ControlCharacters => {
                        assert!(raw.chars().any(|c| c.is_control() && !c.is_whitespace()))
                    }
                    PasswordProblem::SameAsEmail => {
                        assert!(raw.eq_ignore_ascii_case(email.as_str()))
                    }
                    PasswordProblem::MissingClasses { required } => {
                        assert_eq!(*required, policy.required_classes)
                    }
                    PasswordProblem::TooCommon => assert!(length <= MAX_PASSWORD_LENGTH),
                    PasswordProblem::ConfirmationMismatch => {
                        assert!(confirmation.is_some_and(|c| c != raw))
                    }
                }
            }
        }
    }
    // Deterministic.
    let again = Password::new(raw, confirmation, &email, &policy);
    match (&result, &again) {
        (Ok(a), Ok(b)) => assert_eq!(a.expose(), b.expose()),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("the same password got two answers"),
    }
});
