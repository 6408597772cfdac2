//! argon2id on the blocking pool, behind a semaphore sized to the cores, so hashing
//! never stalls the async runtime and a sign-in flood queues instead of thrashing.
//!
//! Verifying takes any stored kind (`StoredHash`: native, Magento, bcrypt, none), and
//! every check lasts at least `FLOOR`, the measured cost of the dearest kind accepted,
//! so the time of a sign-in does not tell an imported account from a native one,
//! one without a password, or no account. The padding is a timer: it holds no CPU
//! and no hashing permit. The permits bound memory: at most one 64 MiB Magento
//! check per core at a time.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::Password;
use super::stored_hash::{self, StoredHash};
use crate::state::AppState;
use crate::store::Credentials;

/// OWASP's argon2id parameters: 19 MiB, two passes, one lane.
pub(crate) fn native_argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid params"),
    )
}

/// Checked when there is nothing to check (no account, no password, an unreadable
/// value), so the work is that of a native check.
static DUMMY_HASH: LazyLock<StoredHash> = LazyLock::new(|| {
    let hash = hash_blocking("not-a-real-password-4f1c").expect("hashing a constant works");
    StoredHash::parse(&hash).expect("our own hash parses")
});

/// How long every check lasts at least: the slowest of three runs of each dearest
/// accepted kind (two Magento Argon2 steps; bcrypt at the highest cost), plus a
/// margin, measured once per process.
static FLOOR: LazyLock<Duration> = LazyLock::new(|| {
    let dearest = stored_hash::dearest_examples()
        .iter()
        .map(|hash| {
            (0..3)
                .map(|_| {
                    let started = Instant::now();
                    hash.verify_blocking("calibration");
                    started.elapsed()
                })
                .max()
                .unwrap_or_default()
        })
        .max()
        .unwrap_or_default();
    let floor = dearest.mul_f64(1.2);
    tracing::debug!(?floor, "password check time floor");
    floor
});

/// A busy machine can slow the dearest kind past the measured floor. A check that
/// took longer than the floor raises it to its own time (with the margin) for this
/// long, so the checks after it, of every kind, last as long.
const RAISE_FOR: Duration = Duration::from_secs(60);
static RAISED: Mutex<Option<(Instant, Duration)>> = Mutex::new(None);

fn floor_at(now: Instant) -> Duration {
    let raised = RAISED.lock().map(|r| *r).unwrap_or(None);
    match raised {
        Some((at, floor)) if now.duration_since(at) < RAISE_FOR => floor.max(*FLOOR),
        _ => *FLOOR,
    }
}

/// Notes how long a check's work took; answers the floor it must last.
fn observe(work: Duration, now: Instant) -> Duration {
    let floor = floor_at(now);
    if work <= floor {
        return floor;
    }
    let raised = work.mul_f64(1.2);
    if let Ok(mut r) = RAISED.lock() {
        *r = Some((now, raised));
    }
    raised
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = native_argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

/// The check itself, on a blocking thread.
fn check_blocking(stored: Option<&str>, password: &str) -> bool {
    match stored.map(StoredHash::parse) {
        Some(Ok(hash)) if hash != StoredHash::Empty => hash.verify_blocking(password),
        _ => {
            DUMMY_HASH.verify_blocking(password);
            false
        }
    }
}

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        PasswordHasher {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }
}

impl PasswordHasher {
    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        self.hash_str(password.expose()).await
    }

    /// Hashes a password that is not checked against the policy: an imported one
    /// that just verified.
    async fn hash_str(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Checks `password` against a stored hash of any kind. With no hash (unknown
    /// account), an empty one (imported without a password) or one that cannot be
    /// read it checks a dummy one and answers false. Every call lasts at least the
    /// floor (raised for a while after a slow check), counted from when it got a
    /// hashing permit.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> bool {
        let Ok(permit) = self.permits.acquire().await else {
            return false;
        };
        let started = Instant::now();
        let password_text_has_control = super::password::has_control_characters(password);
        let hash = hash.map(str::to_string);
        let password = password.to_string();
        let (ok, floor) = tokio::task::spawn_blocking(move || {
            let ok = check_blocking(hash.as_deref(), &password);
            (ok, observe(started.elapsed(), Instant::now()))
        })
        .await
        .unwrap_or((false, Duration::ZERO));
        drop(permit);
        tokio::time::sleep_until((started + floor).into()).await;
        // A password with control characters never matches (the policy lets
        // none be set), after the same work.
        ok && !password_text_has_control
    }

    /// Computes the dummy hash and measures the floor now rather than on the first
    /// sign-in. Blocking: about a second of hashing.
    pub fn warm_up(&self) {
        LazyLock::force(&DUMMY_HASH);
        LazyLock::force(&FLOOR);
    }
}

/// After a successful sign-in with an imported hash, stores this server's own hash
/// in its place. A compare-and-swap on the old value: of two first sign-ins at once
/// one writes, the other finds the hash already changed, and both stay signed in.
/// A failure is logged and leaves the old hash, which still works next time.
pub async fn upgrade_if_legacy(state: &AppState, customer: &Credentials, password: &str) {
    if StoredHash::parse(&customer.password_hash).is_ok_and(|h| h.is_native()) {
        return;
    }
    let upgraded = async {
        let new_hash = state.hasher.hash_str(password).await?;
        let swapped = state
            .db
            .replace_password_hash(customer.id, &customer.password_hash, &new_hash)
            .await?;
        anyhow::Ok(swapped)
    }
    .await;
    match upgraded {
        Ok(true) => tracing::info!(
            id = customer.id,
            "imported password hash replaced by argon2id"
        ),
        Ok(false) => {}
        Err(e) => tracing::warn!(
            id = customer.id,
            "imported password hash not upgraded: {e:#}"
        ),
    }
}

/// A hash for bulk demo data: computed once, reused for every fake customer.
pub fn hash_for_demo(password: &str) -> anyhow::Result<String> {
    hash_blocking(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_truncation_past_72_bytes() {
        let long = "x".repeat(100);
        let hash = StoredHash::parse(&hash_blocking(&long).unwrap()).unwrap();
        assert!(hash.verify_blocking(&long));
        assert!(!hash.verify_blocking(&long[..72]));
    }

    #[test]
    fn nothing_to_check_never_verifies() {
        assert!(!check_blocking(None, "not-a-real-password-4f1c"));
        assert!(!check_blocking(Some(""), ""));
        assert!(!check_blocking(Some("garbage"), "garbage"));
    }

    #[test]
    fn a_slow_check_raises_the_floor_for_a_while() {
        // Far ahead of the other tests' clock, which share the raised floor.
        let now = Instant::now() + 100 * RAISE_FOR;
        let slow = *FLOOR * 3;
        assert_eq!(observe(slow, now), slow.mul_f64(1.2));
        assert_eq!(floor_at(now + Duration::from_secs(1)), slow.mul_f64(1.2));
        assert_eq!(observe(Duration::ZERO, now), slow.mul_f64(1.2));
        assert_eq!(floor_at(now + RAISE_FOR), *FLOOR);
    }

    #[tokio::test]
    async fn every_kind_lasts_the_floor() {
        let hasher = PasswordHasher::default();
        hasher.warm_up();
        let md5 = "e10e0049aaf5b5487d79814493c0f425:Zr8qT0yWkq1mX3cV9bN2hJ4fL6dS7aP5:0";
        for hash in [Some(md5), Some(""), None] {
            let started = Instant::now();
            assert!(!hasher.verify(hash, "wrong").await);
            assert!(started.elapsed() >= *FLOOR, "{hash:?} answered early");
        }
        let started = Instant::now();
        assert!(hasher.verify(Some(md5), "hunter2 with spaces").await);
        assert!(started.elapsed() >= *FLOOR);
    }
}
