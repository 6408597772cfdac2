//! Customers and administrators: registration, sign-in with lockout, password
//! changes, and the policy and hashing they share.

pub mod admin_users;
pub mod admins;
pub mod customers;
pub mod devices;
mod email;
pub mod events;
mod hashing;
pub mod lockout;
mod name;
mod password;
pub mod security;
pub mod sign_out;
mod stored_hash;
pub mod totp;
pub mod two_factor;

pub use email::{Email, EmailError, MAX_EMAIL_LENGTH};
pub use hashing::{PasswordHasher, hash_for_demo, upgrade_if_legacy};
pub use name::{MAX_NAME_LENGTH, NameError, PersonName};
pub use password::{MAX_PASSWORD_LENGTH, Password, PasswordPolicy, PasswordProblem};
pub use stored_hash::{HashFormatError, StoredHash};

/// A fresh security stamp: rotating it ends every session and API token.
pub fn new_security_stamp() -> String {
    crate::secrets::random_token()
}
