//! argon2id on a fixed pool of hashing threads, one per core, behind a semaphore
//! sized to the cores, so hashing never stalls the async runtime and a sign-in
//! flood queues instead of thrashing.
//!
//! Each hashing thread keeps ONE block buffer for the native parameters (19 MiB),
//! allocated on its first hash and reused by every hash after it, so resident
//! memory under a sign-in flood is bounded by cores × 19 MiB instead of growing
//! with every blocking thread glibc gives an arena (2.4 GiB peak before). The
//! threads run as `SCHED_BATCH` on Linux: at full hashing load a waking request
//! task (a page, `/healthz`) is not kept waiting behind a hash.
//!
//! Verifying takes any stored kind (`StoredHash`: native, Magento, bcrypt, none), and
//! every check lasts at least `FLOOR`, the measured cost of the dearest kind accepted,
//! so the time of a sign-in does not tell an imported account from a native one,
//! one without a password, or no account. The padding is a timer: it holds no CPU
//! and no hashing permit. The permits bound memory: at most one 64 MiB Magento
//! check per core at a time.

use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, oneshot};

use super::Password;
use super::stored_hash::{self, StoredHash};
use crate::state::AppState;
use crate::store::Credentials;

/// OWASP's argon2id parameters: 19 MiB, two passes, one lane.
fn native_params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid params")
}

pub(crate) fn native_argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, native_params())
}

/// Checked when there is nothing to check (no account, no password, an unreadable
/// value), so the work is that of a native check. A constant: the native hash of
/// a password nobody has, with the native parameters (a test holds it to them),
/// so no hashing is spent on it at start.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$bm90LWEtcmVhbC1zYWx0LTRmMWM$p8ePCamko+cVLuY0kCG4xzd/qSOEMRpkYhsAGDWXlyQ";
static DUMMY_HASH: LazyLock<StoredHash> =
    LazyLock::new(|| StoredHash::parse(DUMMY_PHC).expect("the dummy hash parses"));

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

/// A hashing thread's working memory: the blocks of one native hash, allocated
/// on the thread's first hash and kept.
#[derive(Default)]
pub(crate) struct Memory(Vec<Block>);

impl Memory {
    /// At least `blocks` blocks; more than the native count (a stored hash with
    /// dearer parameters) is borrowed for this hash only.
    fn blocks(&mut self, blocks: usize) -> BlocksOf<'_> {
        if blocks <= native_params().block_count() {
            if self.0.len() < blocks {
                self.0 = vec![Block::default(); native_params().block_count()];
            }
            BlocksOf::Kept(&mut self.0[..blocks])
        } else {
            BlocksOf::Once(vec![Block::default(); blocks])
        }
    }
}

enum BlocksOf<'a> {
    Kept(&'a mut [Block]),
    Once(Vec<Block>),
}

impl AsMut<[Block]> for BlocksOf<'_> {
    fn as_mut(&mut self) -> &mut [Block] {
        match self {
            BlocksOf::Kept(blocks) => blocks,
            BlocksOf::Once(blocks) => blocks,
        }
    }
}

fn hash_blocking(password: &str, memory: &mut Memory) -> anyhow::Result<String> {
    let mut salt_raw = [0u8; 16];
    getrandom::fill(&mut salt_raw)?;
    let salt = SaltString::encode_b64(&salt_raw).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let argon = native_argon2();
    let params = argon.params().clone();
    let mut raw = [0u8; 64];
    let out = &mut raw[..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt_raw,
            out,
            memory.blocks(params.block_count()),
        )
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("argon2: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(out).map_err(|e| anyhow::anyhow!("argon2: {e}"))?),
    };
    Ok(phc.to_string())
}

/// A native (argon2id PHC) hash checked in the thread's kept memory; what
/// `argon2`'s `verify_password` does, without allocating the blocks.
fn verify_native(phc: &str, password: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut raw = [0u8; 64];
    let Some(out) = raw.get_mut(..expected.len()) else {
        return false;
    };
    let blocks = memory.blocks(params.block_count());
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(out).is_ok_and(|computed| computed == expected)
}

/// The check itself, on a hashing thread.
fn check_blocking(stored: Option<&str>, password: &str, memory: &mut Memory) -> bool {
    let hash = match stored.map(StoredHash::parse) {
        Some(Ok(hash)) if hash != StoredHash::Empty => hash,
        _ => {
            verify_kind(&DUMMY_HASH, password, memory);
            return false;
        }
    };
    verify_kind(&hash, password, memory)
}

fn verify_kind(hash: &StoredHash, password: &str, memory: &mut Memory) -> bool {
    match hash {
        StoredHash::Native(phc) => verify_native(phc, password, memory),
        other => other.verify_blocking(password),
    }
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// The hashing threads: one per core, started on first use, for the process's
/// life (every application in a test process shares them).
struct Pool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for n in 0..cores() {
        let receiver = receiver.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{n}"))
            .spawn(move || {
                batch_scheduling();
                let mut memory = Memory::default();
                loop {
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking job drops its answer channel; the thread goes on.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory)));
                }
            })
            .expect("cannot start a hashing thread");
    }
    Pool {
        jobs: Mutex::new(sender),
    }
});

impl Pool {
    /// Runs `work` on a hashing thread with that thread's memory.
    async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = answer.send(work(memory));
        });
        self.jobs
            .lock()
            .map_err(|_| anyhow::anyhow!("hashing pool poisoned"))?
            .send(job)
            .map_err(|_| anyhow::anyhow!("hashing threads gone"))?;
        answered
            .await
            .map_err(|_| anyhow::anyhow!("a hashing job failed"))
    }
}

/// Hashing threads yield to request handling: on Linux they run as
/// `SCHED_BATCH` (the same CPU share, but a waking task is not kept waiting
/// behind them).
fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if rc != 0 {
            tracing::debug!("hashing thread left at normal scheduling");
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Counts a hash's work (not its wait for a thread, nor the floor's padding):
/// `shop_password_hash_seconds` sum ÷ count is the time per hash, and cores ÷
/// that is the hashing limit the benchmark compares the sign-in rate with.
fn record_hash_time(kind: &'static str, took: Duration) {
    metrics::histogram!("shop_password_hash_seconds", "kind" => kind).record(took.as_secs_f64());
}

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher {
            permits: Arc::new(Semaphore::new(cores())),
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
        POOL.run(move |memory| {
            let started = Instant::now();
            let hash = hash_blocking(&password, memory);
            record_hash_time("hash", started.elapsed());
            hash
        })
        .await?
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
        let (ok, floor) = POOL
            .run(move |memory| {
                let working = Instant::now();
                let ok = check_blocking(hash.as_deref(), &password, memory);
                record_hash_time("verify", working.elapsed());
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

    /// Measures the floor now rather than on the first sign-in. Blocking: about
    /// a second of hashing (the dearest imported kinds, whose memory is freed
    /// after).
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
    hash_blocking(password, &mut Memory::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    #[test]
    fn no_truncation_past_72_bytes() {
        let long = "x".repeat(100);
        let mut memory = Memory::default();
        let hash = hash_blocking(&long, &mut memory).unwrap();
        assert!(check_blocking(Some(&hash), &long, &mut memory));
        assert!(!check_blocking(Some(&hash), &long[..72], &mut memory));
    }

    #[test]
    fn nothing_to_check_never_verifies() {
        let mut memory = Memory::default();
        assert!(!check_blocking(
            None,
            "not-a-real-password-4f1c",
            &mut memory
        ));
        assert!(!check_blocking(Some(""), "", &mut memory));
        assert!(!check_blocking(Some("garbage"), "garbage", &mut memory));
    }

    fn costs(params: &Params) -> (u32, u32, u32) {
        (params.m_cost(), params.t_cost(), params.p_cost())
    }

    #[test]
    fn the_dummy_hash_costs_a_native_check() {
        let parsed = PasswordHash::new(DUMMY_PHC).unwrap();
        assert_eq!(
            costs(&Params::try_from(&parsed).unwrap()),
            costs(&native_params())
        );
        assert_eq!(parsed.algorithm, Algorithm::Argon2id.ident());
        assert_eq!(parsed.version, Some(Version::V0x13.into()));
        // A real hash of that password (argon2's own verifier agrees), so the
        // check does the whole work.
        let password = b"not-a-real-password-4f1c";
        assert!(native_argon2().verify_password(password, &parsed).is_ok());
    }

    #[test]
    fn hashes_match_the_argon2_crate_both_ways() {
        let mut memory = Memory::default();
        let ours = hash_blocking("pa55 word", &mut memory).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert_eq!(
            costs(&Params::try_from(&parsed).unwrap()),
            costs(&native_params())
        );
        assert!(
            native_argon2()
                .verify_password(b"pa55 word", &parsed)
                .is_ok()
        );
        assert!(
            native_argon2()
                .verify_password(b"pa55 wore", &parsed)
                .is_err()
        );
        // Hashes written by the crate's own hasher, at the native parameters,
        // cheaper ones and dearer ones (more memory than a thread keeps).
        for params in [
            native_params(),
            Params::new(8 * 1024, 1, 1, None).unwrap(),
            Params::new(24 * 1024, 1, 1, Some(16)).unwrap(),
        ] {
            let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"pa55 word", &salt)
                .unwrap()
                .to_string();
            assert!(verify_native(&theirs, "pa55 word", &mut memory), "{theirs}");
            assert!(
                !verify_native(&theirs, "pa55 wore", &mut memory),
                "{theirs}"
            );
        }
        assert!(!verify_native(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
            "x",
            &mut memory
        ));
    }

    #[test]
    fn a_thread_keeps_one_block_buffer() {
        let mut memory = Memory::default();
        hash_blocking("one", &mut memory).unwrap();
        let kept = memory.0.as_ptr();
        assert_eq!(memory.0.len(), native_params().block_count());
        let hash = hash_blocking("two", &mut memory).unwrap();
        assert!(check_blocking(Some(&hash), "two", &mut memory));
        assert!(!check_blocking(None, "two", &mut memory));
        assert_eq!(memory.0.as_ptr(), kept, "the buffer was reallocated");
        // A dearer stored hash borrows memory for that check only.
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let dear = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(24 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"x", &salt)
        .unwrap()
        .to_string();
        assert!(check_blocking(Some(&dear), "x", &mut memory));
        assert_eq!(memory.0.as_ptr(), kept);
        assert_eq!(memory.0.len(), native_params().block_count());
    }

    #[tokio::test]
    async fn the_pool_hashes_and_verifies() {
        let hasher = PasswordHasher::default();
        let hash = hasher.hash_str("through the pool").await.unwrap();
        assert!(hasher.verify(Some(&hash), "through the pool").await);
        assert!(!hasher.verify(Some(&hash), "through the poo1").await);
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
