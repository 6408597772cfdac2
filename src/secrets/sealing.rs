//! Sealing: authenticated encryption for what must be stored but must not be
//! readable from a database dump alone (a mail body holding a live reset link;
//! later an administrator's TOTP secret). The key never lives in the database:
//! it comes from `SECRET_KEY`, or from a key file beside a SQLite database.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

/// The shortest `SECRET_KEY` accepted, in characters.
pub const SECRET_KEY_MIN_CHARS: usize = 32;
/// Prefix of the sealed text form; the version leaves room for another cipher.
const VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

/// The operator's root secret: `SECRET_KEY` or the key file's bytes. It never
/// encrypts anything itself; each use gets its own key derived from it.
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl FromStr for SecretKey {
    type Err = String;

    /// Any string of at least 32 characters, e.g. `openssl rand -base64 32`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.chars().count() < SECRET_KEY_MIN_CHARS {
            return Err(format!(
                "SECRET_KEY must be at least {SECRET_KEY_MIN_CHARS} characters (for example the output of `openssl rand -base64 32`)"
            ));
        }
        Ok(SecretKey(s.as_bytes().to_vec()))
    }
}

impl SecretKey {
    /// 32 bytes from the operating system's random source.
    pub fn random() -> SecretKey {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random source failed");
        SecretKey(bytes)
    }

    /// Key-file contents: exactly 32 bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<SecretKey> {
        (bytes.len() == 32).then_some(SecretKey(bytes))
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key for one purpose (HKDF-SHA256): keys of different purposes are
    /// unrelated, so the same SECRET_KEY serves them all.
    pub fn sealing_key(&self, purpose: Purpose) -> SealingKey {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"shop-accounts"), &self.0)
            .expand(purpose.label().as_bytes(), &mut okm)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SealingKey {
            cipher: XChaCha20Poly1305::new(&okm.into()),
        }
    }
}

/// What a sealing key is for; each purpose has its own derived key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Bodies of queued mail (they may hold a live reset link).
    MailBodies,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::MailBodies => "shop-accounts seal mail-bodies v1",
        }
    }
}

/// The sealing keys of this instance, one per purpose. Empty on PostgreSQL
/// without SECRET_KEY: values are then stored in clear (and the server said so
/// at start).
#[derive(Clone, Debug, Default)]
pub struct SealingKeys {
    mail: Option<SealingKey>,
}

impl SealingKeys {
    pub fn from_secret(secret: &SecretKey) -> SealingKeys {
        SealingKeys {
            mail: Some(secret.sealing_key(Purpose::MailBodies)),
        }
    }

    /// No key: values are stored in clear.
    pub fn none() -> SealingKeys {
        SealingKeys::default()
    }

    /// The key for queued mail bodies.
    pub fn mail(&self) -> Option<&SealingKey> {
        self.mail.as_ref()
    }
}

/// XChaCha20-Poly1305 under a key derived for one purpose.
#[derive(Clone)]
pub struct SealingKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

/// Why a sealed text could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("not a sealed value")]
    Malformed,
    #[error("sealed under another key, or altered")]
    Rejected,
}

impl SealingKey {
    /// `v1.<nonce>.<ciphertext>` (base64url), with a fresh random 24-byte nonce.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source failed");
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .expect("XChaCha20-Poly1305 seals any message that fits in memory");
        format!(
            "{VERSION}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let (nonce, ciphertext) = parse(sealed).ok_or(OpenError::Malformed)?;
        self.cipher
            .decrypt(XNonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| OpenError::Rejected)
    }

    pub fn seal_text(&self, plaintext: &str) -> String {
        self.seal(plaintext.as_bytes())
    }

    pub fn open_text(&self, sealed: &str) -> Result<String, OpenError> {
        String::from_utf8(self.open(sealed)?).map_err(|_| OpenError::Rejected)
    }
}

/// Whether `text` has the sealed form (so a value stored in clear, for example
/// on PostgreSQL without SECRET_KEY, is told apart). Clear mail bodies hold
/// spaces and line breaks, which the sealed form never does.
pub fn is_sealed(text: &str) -> bool {
    parse(text).is_some()
}

fn parse(sealed: &str) -> Option<([u8; NONCE_LEN], Vec<u8>)> {
    let mut parts = sealed.split('.');
    let (version, nonce, ciphertext) = (parts.next()?, parts.next()?, parts.next()?);
    if version != VERSION || parts.next().is_some() {
        return None;
    }
    let nonce = URL_SAFE_NO_PAD.decode(nonce).ok()?.try_into().ok()?;
    let ciphertext = URL_SAFE_NO_PAD.decode(ciphertext).ok()?;
    Some((nonce, ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> SealingKey {
        secret
            .parse::<SecretKey>()
            .unwrap()
            .sealing_key(Purpose::MailBodies)
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip() {
        let key = key(SECRET);
        let sealed = key.seal_text("Reset: https://shop/?token=abc");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("token"));
        assert!(is_sealed(&sealed));
        assert_eq!(
            key.open_text(&sealed).unwrap(),
            "Reset: https://shop/?token=abc"
        );
        assert_eq!(key.open(&key.seal(b"")).unwrap(), b"");
    }

    #[test]
    fn the_same_message_seals_differently_each_time() {
        let key = key(SECRET);
        assert_ne!(key.seal(b"same"), key.seal(b"same"));
    }

    #[test]
    fn a_tampered_value_is_rejected() {
        let key = key(SECRET);
        let sealed = key.seal(b"a live link");
        let (head, last) = sealed.split_at(sealed.len() - 1);
        let flipped = if last == "A" { "B" } else { "A" };
        assert_eq!(
            key.open(&format!("{head}{flipped}")),
            Err(OpenError::Rejected)
        );
        let parts: Vec<&str> = sealed.split('.').collect();
        let other_nonce = URL_SAFE_NO_PAD.encode([7u8; NONCE_LEN]);
        assert_eq!(
            key.open(&format!("v1.{other_nonce}.{}", parts[2])),
            Err(OpenError::Rejected)
        );
        assert_eq!(key.open("v1.short.x"), Err(OpenError::Malformed));
        assert_eq!(
            key.open(&sealed.replacen("v1", "v2", 1)),
            Err(OpenError::Malformed)
        );
        assert_eq!(key.open("Hello Jane Doe"), Err(OpenError::Malformed));
    }

    #[test]
    fn another_key_cannot_open() {
        let sealed = key(SECRET).seal(b"a live link");
        let other = key("fedcba9876543210fedcba9876543210");
        assert_eq!(other.open(&sealed), Err(OpenError::Rejected));
        let file_key = SecretKey::from_bytes(SECRET.as_bytes().to_vec()).unwrap();
        // The same bytes as a key file derive the same key: the derivation sees bytes only.
        assert_eq!(
            file_key
                .sealing_key(Purpose::MailBodies)
                .open(&sealed)
                .unwrap(),
            b"a live link"
        );
    }

    #[test]
    fn short_secret_keys_are_refused() {
        assert!("too short".parse::<SecretKey>().is_err());
        assert!("x".repeat(31).parse::<SecretKey>().is_err());
        assert!("x".repeat(32).parse::<SecretKey>().is_ok());
        assert!(SecretKey::from_bytes(vec![0; 31]).is_none());
    }

    #[test]
    fn clear_mail_bodies_are_not_taken_for_sealed_ones() {
        assert!(!is_sealed("Hello Jane,\n\nv1.abc.def"));
        assert!(!is_sealed("v1.notbase64!.x"));
        assert!(!is_sealed(""));
    }

    #[test]
    fn debug_output_hides_keys() {
        let secret: SecretKey = SECRET.parse().unwrap();
        assert_eq!(format!("{secret:?}"), "SecretKey(..)");
        assert_eq!(
            format!("{:?}", secret.sealing_key(Purpose::MailBodies)),
            "SealingKey(..)"
        );
    }
}
