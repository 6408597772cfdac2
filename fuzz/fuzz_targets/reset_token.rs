//! `ResetToken::parse`: only 43 characters of base64url parse, whatever else comes;
//! the hash is 64 lower-case hex digits and depends on the token only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shop_accounts::recovery::ResetToken;
use shop_accounts::secrets::{TOKEN_LENGTH, token_hash};

fuzz_target!(|raw: &str| {
    let well_formed = raw.len() == TOKEN_LENGTH
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match ResetToken::parse(raw) {
        Some(token) => {
            assert!(well_formed);
            let hash = token.hash();
            assert_eq!(hash.len(), 64);
            assert!(hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert_eq!(hash, token_hash(raw));
            assert_eq!(ResetToken::parse(raw).map(|t| t.hash()), Some(hash));
            // Never printed.
            assert_eq!(format!("{token:?}"), "ResetToken(..)");
        }
        None => assert!(!well_formed),
    }
});
