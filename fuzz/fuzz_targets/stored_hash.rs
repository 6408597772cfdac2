//! `StoredHash::parse` (the `password_hash` column, Magento imports included):
//! never panics; what it accepts has the shape of its kind and a bounded cost;
//! cheap kinds are verified (no panic, a wrong password never verifies).
#![no_main]

use argon2::password_hash::PasswordHash;
use libfuzzer_sys::fuzz_target;
use shop_accounts::accounts::StoredHash;

/// Two Magento `3_32_2_67108864` steps, in KiB × passes: the dearest accepted.
const MAX_ARGON_WORK: u64 = 2 * 2 * 65_536;
const MAX_ARGON_KIB: u64 = 65_536;

fuzz_target!(|stored: &str| {
    let Ok(hash) = StoredHash::parse(stored) else {
        return;
    };
    assert_eq!(StoredHash::parse(stored), Ok(hash.clone()), "deterministic");
    match &hash {
        StoredHash::Empty => assert!(stored.is_empty()),
        StoredHash::Native(phc) => {
            assert_eq!(phc, stored);
            assert!(hash.is_native());
            let parsed = PasswordHash::new(phc).expect("a PHC string");
            let param = |name: &str| parsed.params.get_decimal(name).map(u64::from);
            let m = param("m").unwrap_or(0);
            let t = param("t").unwrap_or(0);
            assert!(m <= MAX_ARGON_KIB, "native argon2 memory {m} KiB accepted");
            assert!(m * t <= MAX_ARGON_WORK, "native argon2 work {m}×{t} accepted");
        }
        StoredHash::Bcrypt(bcrypt) => {
            assert_eq!(bcrypt.len(), 60);
            assert!(stored.starts_with(bcrypt.as_str()));
            let cost: u32 = bcrypt[4..6].parse().expect("two cost digits");
            assert!((4..=10).contains(&cost));
            if cost == 4 {
                // A cheap one: verifying must not panic, and a NUL-cut password
                // answers like the password before the NUL.
                let a = hash.verify_blocking("fuzz");
                assert_eq!(a, hash.verify_blocking("fuzz\0tail"));
            }
        }
        StoredHash::Magento(_) => {
            assert!(!hash.is_native());
            // Only MD5/SHA-256 chains are cheap enough to verify per input.
            let versions = stored.splitn(3, ':').nth(2);
            let cheap = versions.is_none_or(|v| v.split(':').all(|s| s == "0" || s == "1"));
            if cheap {
                hash.verify_blocking("");
                hash.verify_blocking(stored);
            }
        }
    }
});
