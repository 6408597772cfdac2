//! TOTP (RFC 6238): HMAC-SHA1, 6 digits, 30-second steps — what every
//! authenticator app reads from an `otpauth://` link. Pure functions; which
//! steps were already used is the store's business (see `two_factor`).

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Bytes in a new secret (160 bits, the HMAC-SHA1 block size RFC 4226 advises).
pub const SECRET_BYTES: usize = 20;
/// Steps either side of now that are still accepted (clock drift).
pub const DRIFT_STEPS: i64 = 1;

/// A TOTP secret's raw bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh secret from the operating system's random source.
    pub fn generate() -> TotpSecret {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).expect("the OS random source failed");
        TotpSecret(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> TotpSecret {
        TotpSecret(bytes)
    }

    /// The secret as base32 (RFC 4648, no padding), the form apps take.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        base32_decode(text).map(TotpSecret)
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: i64) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(&(step as u64).to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = (digest[digest.len() - 1] & 0x0f) as usize;
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        format!(
            "{:0width$}",
            binary % 10u32.pow(DIGITS as u32),
            width = DIGITS
        )
    }

    /// The code at unix time `now`.
    pub fn code_at(&self, now: i64) -> String {
        self.code_at_step(step_of(now))
    }

    /// The time step within ±`DRIFT_STEPS` of `now` whose code is `code`, the
    /// newest first. `code` is what a person typed: spaces are ignored.
    pub fn matching_step(&self, code: &str, now: i64) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = step_of(now);
        (current - DRIFT_STEPS..=current + DRIFT_STEPS)
            .rev()
            .find(|step| crate::secrets::secure_eq(&self.code_at_step(*step), &code))
    }

    /// The `otpauth://totp/…` link an authenticator app (or its QR code) reads.
    pub fn otpauth_url(&self, issuer: &str, account: &str) -> String {
        let label = format!("{issuer}:{account}");
        let label: String = url::form_urlencoded::byte_serialize(label.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("secret", &self.to_base32())
            .append_pair("issuer", issuer)
            .append_pair("algorithm", "SHA1")
            .append_pair("digits", &DIGITS.to_string())
            .append_pair("period", &STEP_SECONDS.to_string())
            .finish()
            .replace('+', "%20");
        format!("otpauth://totp/{label}?{query}")
    }
}

/// The time step of unix time `now`.
pub fn step_of(now: i64) -> i64 {
    now.div_euclid(STEP_SECONDS)
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = ALPHABET
            .iter()
            .position(|a| *a as char == c.to_ascii_uppercase())? as u32;
        buffer = ((buffer << 5) | value) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1: the 20-byte ASCII key "12345678901234567890";
    /// the RFC prints 8 digits, of which a 6-digit code is the last six.
    #[test]
    fn rfc_6238_sha1_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (time, eight_digits) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(secret.code_at(time), eight_digits[2..], "T = {time}");
        }
    }

    #[test]
    fn one_step_either_side_and_no_further() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let step = step_of(now);
        assert_eq!(secret.matching_step(&secret.code_at(now), now), Some(step));
        let before = secret.code_at_step(step - 1);
        let after = secret.code_at_step(step + 1);
        assert_eq!(secret.matching_step(&before, now), Some(step - 1));
        assert_eq!(secret.matching_step(&after, now), Some(step + 1));
        let old = secret.code_at_step(step - 2);
        if ![before.as_str(), after.as_str(), &secret.code_at(now)].contains(&old.as_str()) {
            assert_eq!(secret.matching_step(&old, now), None);
        }
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
        let spaced = format!(
            "{} {}",
            &secret.code_at(now)[..3],
            &secret.code_at(now)[3..]
        );
        assert_eq!(secret.matching_step(&spaced, now), Some(step));
    }

    #[test]
    fn base32_round_trips_rfc_4648_vectors() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert!(base32_decode("not base32!").is_none());
        let secret = TotpSecret::generate();
        assert_eq!(TotpSecret::from_base32(&secret.to_base32()), Some(secret));
    }

    #[test]
    fn otpauth_link_names_issuer_account_and_secret() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let url = secret.otpauth_url("My Shop", "ada@shop.test");
        assert_eq!(
            url,
            "otpauth://totp/My%20Shop%3Aada%40shop.test?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=My%20Shop&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert_eq!(format!("{:?}", TotpSecret::generate()), "TotpSecret(..)");
    }
}
