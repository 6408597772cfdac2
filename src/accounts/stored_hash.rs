//! The `password_hash` column, read once into a value that knows its kind: this
//! server's argon2id, a Magento 2 or Magento 1 hash imported as it was, bcrypt from
//! OpenMage, or nothing. Each kind verifies itself exactly as the system that wrote
//! it does (Magento: `Encryptor::isValidHash`).

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Argon2 as Magento's versions `2` and `3` (no parameters) mean it: libsodium's
/// "interactive" limits, a 32-byte output.
const MAGENTO_ARGON: ArgonStep = ArgonStep {
    output_len: 32,
    ops: 2,
    mem_bytes: 64 * 1024 * 1024,
};

/// The dearest Argon2 work one stored hash may ask for, in KiB × passes: two
/// Magento steps, as `customer:hash:upgrade` leaves after 2.3 → 2.4 (`…:2:3_32_2_67108864`).
/// Dearer hashes are refused, so the sign-in time floor stays known and bounded.
const MAX_ARGON_WORK: u64 = 2 * MAGENTO_ARGON.work();
/// One step's memory: what the hashing semaphore multiplies under a burst.
const MAX_ARGON_MEM_BYTES: u32 = MAGENTO_ARGON.mem_bytes;
/// Versions in a chain; real ones have at most four (`0:1:2:3_…`).
const MAX_STEPS: usize = 8;
/// bcrypt costs up to OpenMage's default; each step up doubles the work.
pub const MAX_BCRYPT_COST: u32 = 10;

/// A stored password hash, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredHash {
    /// No password: the account gets in through Forgot Your Password? only.
    Empty,
    /// This server's argon2id PHC string.
    Native(String),
    /// Magento 2 `hex:salt:versions`, or Magento 1 `hex:salt` (one MD5 or SHA-256 step).
    Magento(MagentoHash),
    /// bcrypt from OpenMage or a patched Magento 1, without a trailing `:0`.
    Bcrypt(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagentoHash {
    /// Lower-case hex, as Magento writes it.
    digest: String,
    salt: Vec<u8>,
    /// Oldest first: each step hashes the previous step's hex output.
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Md5,
    Sha256,
    Argon2id(ArgonStep),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ArgonStep {
    output_len: u32,
    ops: u32,
    mem_bytes: u32,
}

impl ArgonStep {
    /// libsodium hands Argon2 `memlimit / 1024` KiB.
    const fn mem_kib(self) -> u32 {
        self.mem_bytes / 1024
    }

    const fn work(self) -> u64 {
        self.mem_kib() as u64 * self.ops as u64
    }
}

/// Why a value is not a password hash this server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashFormatError {
    #[error("password_hash is not a Magento, bcrypt or argon2id hash")]
    Unknown,
    #[error("password_hash has a hash version Magento does not write")]
    UnknownVersion,
    #[error("password_hash: the digest is not lower-case hex of the length its last version makes")]
    BadDigest,
    #[error("password_hash: Argon2 needs a salt")]
    NoArgonSalt,
    #[error("password_hash: Argon2 parameters outside what Magento (libsodium) allows")]
    ArgonParams,
    #[error(
        "password_hash asks for more hashing work than this server verifies (at most two 3_32_2_67108864 steps, bcrypt cost 10)"
    )]
    TooCostly,
}

impl StoredHash {
    pub fn parse(stored: &str) -> Result<StoredHash, HashFormatError> {
        if stored.is_empty() {
            return Ok(StoredHash::Empty);
        }
        if stored.starts_with("$argon2id$") {
            return match PasswordHash::new(stored) {
                Ok(phc) if phc.salt.is_some() && phc.hash.is_some() => {
                    // Verifying uses the string's own parameters: an imported
                    // `$argon2id$m=4194304,…` would cost 4 GiB per sign-in.
                    native_cost_allowed(&phc)?;
                    Ok(StoredHash::Native(stored.to_string()))
                }
                _ => Err(HashFormatError::Unknown),
            };
        }
        if stored.starts_with("$2") {
            return parse_bcrypt(stored.strip_suffix(":0").unwrap_or(stored));
        }
        parse_magento(stored).map(StoredHash::Magento)
    }

    /// This server's own hash: nothing to upgrade.
    pub fn is_native(&self) -> bool {
        matches!(self, StoredHash::Native(_))
    }

    /// Recomputes the hash from `password` and compares in constant time. CPU-bound
    /// (up to two 64 MiB Argon2 runs): call it on a blocking thread. `Empty` never
    /// verifies.
    pub fn verify_blocking(&self, password: &str) -> bool {
        match self {
            StoredHash::Empty => false,
            StoredHash::Native(phc) => PasswordHash::new(phc).is_ok_and(|parsed| {
                crate::accounts::hashing::native_argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            }),
            StoredHash::Magento(hash) => hash.verify(password),
            StoredHash::Bcrypt(hash) => {
                // PHP hands crypt() a C string: the password ends at a NUL byte.
                let password = password.split('\0').next().unwrap_or("");
                bcrypt::verify(password, hash).unwrap_or(false)
            }
        }
    }
}

/// Lanes a stored argon2 hash may name (argon2 itself allows 2^24 - 1).
const MAX_LANES: u32 = 255;

/// A native hash may ask for no more than a Magento hash may: memory up to one
/// Magento step, work up to two.
fn native_cost_allowed(phc: &PasswordHash<'_>) -> Result<(), HashFormatError> {
    // A setting given twice ("m=…,m=…") is refused: which one counts would be
    // up to the parser, and the bound must hold for the one verification uses.
    let names: Vec<&str> = phc.params.iter().map(|(name, _)| name.as_str()).collect();
    if (1..names.len()).any(|i| names[..i].contains(&names[i])) {
        return Err(HashFormatError::Unknown);
    }
    // argon2's own check multiplies the lanes by 8 in a u32, which overflows
    // (a panic in a debug build) for `p=1000000000`: found by the fuzzer. No
    // hash of ours or Magento's uses more than one lane.
    if phc
        .params
        .get_decimal("p")
        .is_some_and(|lanes| lanes > MAX_LANES)
    {
        return Err(HashFormatError::Unknown);
    }
    let params = Params::try_from(phc).map_err(|_| HashFormatError::Unknown)?;
    let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
    if params.m_cost() > MAGENTO_ARGON.mem_kib() || work > MAX_ARGON_WORK {
        return Err(HashFormatError::TooCostly);
    }
    Ok(())
}

impl MagentoHash {
    fn verify(&self, password: &str) -> bool {
        let mut x = password.as_bytes().to_vec();
        for step in &self.steps {
            x = match step {
                Step::Md5 => hex(&Md5::new()
                    .chain_update(&self.salt)
                    .chain_update(&x)
                    .finalize()),
                Step::Sha256 => hex(&Sha256::new()
                    .chain_update(&self.salt)
                    .chain_update(&x)
                    .finalize()),
                Step::Argon2id(argon) => match argon_hash(*argon, &self.salt, &x) {
                    Some(raw) => hex(&raw),
                    None => return false,
                },
            }
        }
        x.ct_eq(self.digest.as_bytes()).into()
    }
}

/// Magento's `getArgonHash`: Argon2id v1.3, one lane, the salt repeated or cut to
/// 16 bytes (PHP's `str_pad($salt, 16, $salt)` / `substr($salt, 0, 16)`).
fn argon_hash(step: ArgonStep, salt: &[u8], secret: &[u8]) -> Option<Vec<u8>> {
    let salt16: Vec<u8> = salt.iter().copied().cycle().take(16).collect();
    let params = Params::new(step.mem_kib(), step.ops, 1, Some(step.output_len as usize)).ok()?;
    let mut out = vec![0u8; step.output_len as usize];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(secret, &salt16, &mut out)
        .ok()?;
    Some(out)
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]])
        .collect()
}

/// `$2y$`, `$2a$` or `$2b$`, two cost digits, 53 characters of bcrypt's base64.
fn parse_bcrypt(hash: &str) -> Result<StoredHash, HashFormatError> {
    let well_formed = hash.len() == 60
        && ["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p))
        && hash.as_bytes()[6] == b'$'
        && hash[7..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/');
    let cost: u32 = match hash.get(4..6).map(str::parse) {
        Some(Ok(cost)) if well_formed => cost,
        _ => return Err(HashFormatError::Unknown),
    };
    if !(4..=31).contains(&cost) {
        return Err(HashFormatError::Unknown);
    }
    if cost > MAX_BCRYPT_COST {
        return Err(HashFormatError::TooCostly);
    }
    Ok(StoredHash::Bcrypt(hash.to_string()))
}

/// `hex:salt:versions` (Magento 2) or `hex:salt` (Magento 1).
fn parse_magento(stored: &str) -> Result<MagentoHash, HashFormatError> {
    let mut parts = stored.splitn(3, ':');
    let digest = parts.next().unwrap_or("");
    let salt = parts.next().ok_or(HashFormatError::Unknown)?;
    let steps = match parts.next() {
        Some(versions) => versions
            .split(':')
            .map(parse_version)
            .collect::<Result<Vec<Step>, _>>()?,
        // Magento 1 knows the algorithm by the digest's length.
        None => match digest.len() {
            32 => vec![Step::Md5],
            64 => vec![Step::Sha256],
            _ => return Err(HashFormatError::Unknown),
        },
    };
    if steps.len() > MAX_STEPS {
        return Err(HashFormatError::TooCostly);
    }
    let argon: Vec<ArgonStep> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Argon2id(a) => Some(*a),
            _ => None,
        })
        .collect();
    if !argon.is_empty() && salt.is_empty() {
        return Err(HashFormatError::NoArgonSalt);
    }
    if argon.iter().map(|a| a.work()).sum::<u64>() > MAX_ARGON_WORK
        || argon.iter().any(|a| a.mem_bytes > MAX_ARGON_MEM_BYTES)
    {
        return Err(HashFormatError::TooCostly);
    }
    let digest_len = match steps.last() {
        Some(Step::Md5) => 32,
        Some(Step::Sha256) => 64,
        Some(Step::Argon2id(a)) => 2 * a.output_len as usize,
        None => return Err(HashFormatError::Unknown),
    };
    let lower_hex = digest
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if digest.len() != digest_len || !lower_hex {
        return Err(HashFormatError::BadDigest);
    }
    Ok(MagentoHash {
        digest: digest.to_string(),
        salt: salt.as_bytes().to_vec(),
        steps,
    })
}

/// `0`, `1`, `2`, `3` (read as Magento 2.4's `3_32_2_67108864`) or `3_<bytes>_<ops>_<mem>`.
fn parse_version(version: &str) -> Result<Step, HashFormatError> {
    match version {
        "0" => return Ok(Step::Md5),
        "1" => return Ok(Step::Sha256),
        "2" | "3" => return Ok(Step::Argon2id(MAGENTO_ARGON)),
        _ => {}
    }
    let fields: Vec<&str> = version.split('_').collect();
    let number = |s: &str| -> Result<u32, HashFormatError> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(HashFormatError::UnknownVersion);
        }
        s.parse().map_err(|_| HashFormatError::ArgonParams)
    };
    let [three, output_len, ops, mem_bytes] = fields[..] else {
        return Err(HashFormatError::UnknownVersion);
    };
    if three != "3" {
        return Err(HashFormatError::UnknownVersion);
    }
    let step = ArgonStep {
        output_len: number(output_len)?,
        ops: number(ops)?,
        mem_bytes: number(mem_bytes)?,
    };
    // libsodium's bounds: output ≥ 16 bytes, ops ≥ 1, memory ≥ 8 KiB.
    if step.output_len < 16 || step.output_len > 64 || step.ops < 1 || step.mem_bytes < 8192 {
        return Err(HashFormatError::ArgonParams);
    }
    Ok(Step::Argon2id(step))
}

/// The dearest hash `parse` accepts, with a password that does not match: what the
/// sign-in time floor is measured on.
pub(crate) fn dearest_examples() -> Vec<StoredHash> {
    let argon_chain = StoredHash::Magento(MagentoHash {
        digest: "0".repeat(64),
        salt: b"calibration-salt-32-characters!!".to_vec(),
        steps: vec![Step::Argon2id(MAGENTO_ARGON), Step::Argon2id(MAGENTO_ARGON)],
    });
    let bcrypt = bcrypt::hash_with_salt("calibration-hash", MAX_BCRYPT_COST, [7; 16])
        .expect("a valid cost")
        .format_for_version(bcrypt::Version::TwoY);
    vec![argon_chain, StoredHash::Bcrypt(bcrypt)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        hash: String,
        password: String,
        expect: String,
        note: String,
    }

    /// Vectors made by tests/vectors/make_magento_vectors.py with hashlib,
    /// argon2-cffi and bcrypt: an implementation independent of this one.
    #[test]
    fn independent_vectors() {
        let vectors: Vec<Vector> =
            serde_json::from_str(include_str!("../../tests/vectors/magento_hashes.json")).unwrap();
        assert!(vectors.len() > 60);
        for v in &vectors {
            let parsed = StoredHash::parse(&v.hash);
            let parsed_ok = || {
                parsed
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{}: refused: {e}", v.note))
            };
            match v.expect.as_str() {
                "verifies" => assert!(
                    parsed_ok().verify_blocking(&v.password),
                    "should verify: {}",
                    v.note
                ),
                "wrong" => assert!(
                    !parsed_ok().verify_blocking(&v.password),
                    "should not verify: {}",
                    v.note
                ),
                "reject" => assert!(parsed.is_err(), "should be refused: {}", v.note),
                other => panic!("unknown expectation {other}"),
            }
        }
    }

    #[test]
    fn public_magento_vector() {
        let hash = StoredHash::parse(
            "abf1de8d537a1270237b9b56c8db9c67aeece6d89639a64d5ffd7264262541ab:PNK7gwTSnTc9L8AXZEvgZQ4SA66qirus:3_32_2_67108864",
        )
        .unwrap();
        assert!(!hash.is_native());
        assert!(hash.verify_blocking("Password@2022"));
        assert!(!hash.verify_blocking("Password@2023"));
        assert!(!hash.verify_blocking("Password@2022 "));
    }

    #[test]
    fn kinds() {
        assert_eq!(StoredHash::parse(""), Ok(StoredHash::Empty));
        assert!(!StoredHash::Empty.verify_blocking(""));
        let native = crate::accounts::hash_for_demo("pw").unwrap();
        let native = StoredHash::parse(&native).unwrap();
        assert!(native.is_native());
        assert!(native.verify_blocking("pw"));
        assert!(!native.verify_blocking("pw2"));
        assert_eq!(
            StoredHash::parse("$argon2id$garbage"),
            Err(HashFormatError::Unknown)
        );
    }

    /// Found by reading for the stored_hash fuzz target's cost invariant: a
    /// native-looking hash carries its own Argon2 parameters, which verifying
    /// obeys, so an imported one could ask for gigabytes per sign-in.
    #[test]
    fn a_native_hash_with_a_setting_given_twice_is_refused() {
        // Found by the stored_hash fuzz target (fuzz/regressions/stored_hash/duplicate_m_param).
        let native = |params: &str| {
            format!(
                "$argon2id$v=19${params}$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo0MTIzNDU"
            )
        };
        assert!(StoredHash::parse(&native("m=19456,t=2,p=1")).is_ok());
        assert!(StoredHash::parse(&native("m=19456,m=19456,t=2,p=1")).is_err());
        assert!(StoredHash::parse(&native("m=99456,m=19456,p=1")).is_err());
    }

    #[test]
    fn a_native_hash_with_absurd_lanes_is_refused_without_overflow() {
        // Found by the stored_hash fuzz target (fuzz/regressions/stored_hash/lanes_overflow):
        // argon2's parameter check overflowed on it.
        let native = |params: &str| {
            format!(
                "$argon2id$v=19${params}$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo0MTIzNDU"
            )
        };
        assert_eq!(
            StoredHash::parse(&native("t=2,p=1000000000")),
            Err(HashFormatError::Unknown)
        );
        assert_eq!(
            StoredHash::parse(&native("m=19456,t=2,p=4294967295")),
            Err(HashFormatError::Unknown)
        );
        assert!(StoredHash::parse(&native("m=19456,t=2,p=4")).is_ok());
    }

    #[test]
    fn native_hashes_are_held_to_the_magento_cost_bound() {
        let native = |params: &str| {
            format!(
                "$argon2id$v=19${params}$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo0MTIzNDU"
            )
        };
        assert!(StoredHash::parse(&native("m=19456,t=2,p=1")).is_ok());
        assert!(StoredHash::parse(&native("m=65536,t=4,p=1")).is_ok());
        assert_eq!(
            StoredHash::parse(&native("m=4194304,t=1,p=1")),
            Err(HashFormatError::TooCostly)
        );
        assert_eq!(
            StoredHash::parse(&native("m=65536,t=5,p=1")),
            Err(HashFormatError::TooCostly)
        );
        assert_eq!(
            StoredHash::parse(&native("m=19456,t=4294967295,p=1")),
            Err(HashFormatError::TooCostly)
        );
    }

    #[test]
    fn dearest_examples_are_accepted_shapes() {
        for example in dearest_examples() {
            let reparsed = match &example {
                StoredHash::Bcrypt(h) => StoredHash::parse(h).unwrap(),
                StoredHash::Magento(m) => StoredHash::parse(&format!(
                    "{}:{}:2:3_32_2_67108864",
                    m.digest,
                    String::from_utf8_lossy(&m.salt)
                ))
                .unwrap(),
                _ => unreachable!(),
            };
            assert_eq!(reparsed, example);
            assert!(!example.verify_blocking("calibration"));
        }
        // One step dearer than the dearest is refused.
        assert_eq!(
            StoredHash::parse(&format!("{}:salt:2:2:2", "0".repeat(64))),
            Err(HashFormatError::TooCostly)
        );
        let dearer = bcrypt::hash_with_salt("x", 4, [7; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY)
            .replacen("$04$", &format!("${:02}$", MAX_BCRYPT_COST + 1), 1);
        assert_eq!(StoredHash::parse(&dearer), Err(HashFormatError::TooCostly));
    }
}
