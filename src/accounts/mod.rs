//! Customers and administrators: registration, sign-in with lockout, password
//! changes, and the policy and hashing they share.

pub mod admins;
pub mod customers;
mod email;
mod hashing;
pub mod lockout;
mod password;
mod stored_hash;

pub use email::{Email, EmailError, MAX_EMAIL_LENGTH};
pub use hashing::{PasswordHasher, hash_for_demo, upgrade_if_legacy};
pub use password::{MAX_PASSWORD_LENGTH, Password, PasswordPolicy, PasswordProblem};
pub use stored_hash::{HashFormatError, StoredHash};

/// A fresh security stamp: rotating it ends every session and API token.
pub fn new_security_stamp() -> String {
    crate::secrets::random_token()
}
