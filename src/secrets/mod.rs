//! Random tokens, their hashes, the server keys kept in the database, and the
//! sealing key that is kept out of it.

mod key_source;
pub mod sealing;

pub use key_source::{KEY_FILE_NAME, load_sealing_keys};
pub use sealing::{OpenError, SealingKey, SealingKeys, SecretKey};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::store::{Db, StoreResult};

/// Random bytes in every token (reset links, API tokens, session-bound secrets).
pub const TOKEN_BYTES: usize = 32;
/// A token's length as text: 32 bytes in unpadded base64url.
pub const TOKEN_LENGTH: usize = 43;

/// 32 bytes (256 bits) from the operating system's random source, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, hex: what the database keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Server keys generated on first start and kept in the database, so every
/// instance sharing the database shares them with no extra setting.
#[derive(Clone)]
pub struct ServerKeys {
    csrf: Vec<u8>,
    device: Vec<u8>,
    /// Signs the flash-message cookie; derived from the CSRF key, so it needs
    /// no setting of its own.
    flash: Vec<u8>,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeys(..)")
    }
}

impl ServerKeys {
    pub async fn load_or_create(db: &Db) -> StoreResult<Self> {
        let csrf = db
            .setting_or_insert("secret.csrf_key", &random_token())
            .await?;
        let device = db
            .setting_or_insert("secret.device_key", &random_token())
            .await?;
        let flash = mac(csrf.as_bytes(), "key:flash-cookie").into_bytes();
        Ok(ServerKeys {
            csrf: csrf.into_bytes(),
            device: device.into_bytes(),
            flash,
        })
    }

    /// HMAC-SHA256 of `message` under the CSRF key, base64url.
    pub fn csrf_mac(&self, message: &str) -> String {
        mac(&self.csrf, message)
    }

    /// HMAC-SHA256 of `message` under the device-cookie key, base64url.
    pub fn device_mac(&self, message: &str) -> String {
        mac(&self.device, message)
    }

    /// The key of the flash-message cookie's HMAC (src/http/flash.rs).
    pub fn flash_key(&self) -> &[u8] {
        &self.flash
    }
}

/// HMAC-SHA256 of `message` under `key`, base64url.
pub fn mac(key: &[u8], message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Compares two secrets in constant time.
pub fn secure_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_differ() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), TOKEN_LENGTH);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
