//! Customers and administrators: registration, sign-in with lockout, password
//! changes, and the policy and hashing they share.

pub mod admins;
pub mod customers;
mod email;
mod hashing;
pub mod lockout;
mod name;
mod password;
pub mod sign_out;

pub use email::{Email, EmailError, MAX_EMAIL_LENGTH};
pub use hashing::{PasswordHasher, hash_for_demo};
pub use name::{MAX_NAME_LENGTH, NameError, PersonName};
pub use password::{MAX_PASSWORD_LENGTH, Password, PasswordPolicy, PasswordProblem};

/// A fresh security stamp: rotating it ends every session and API token.
pub fn new_security_stamp() -> String {
    crate::secrets::random_token()
}
