//! argon2id on the blocking pool, behind a semaphore sized to the cores, so hashing
//! never stalls the async runtime and a sign-in flood queues instead of thrashing.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::Password;

/// OWASP's argon2id parameters: 19 MiB, two passes, one lane.
fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid params"),
    )
}

/// Verified when the email has no account, so the answer takes as long either way.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("not-a-real-password-4f1c").expect("hashing a constant works"));

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
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
        let _permit = self.permits.acquire().await?;
        let password = password.expose().to_string();
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Checks `password` against `hash`; with no hash (unknown account) it checks a
    /// dummy one and answers false, taking the same time. A password with control
    /// characters never matches (the policy lets none be set), after the same work.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let acceptable = hash.is_some() && !super::password::has_control_characters(password);
        let hash = hash
            .map(str::to_string)
            .unwrap_or_else(|| DUMMY_HASH.clone());
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&hash, &password))
            .await
            .unwrap_or(false);
        ok && acceptable
    }

    /// Computes the dummy hash now rather than on the first unknown sign-in.
    pub fn warm_up(&self) {
        LazyLock::force(&DUMMY_HASH);
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
        let hash = hash_blocking(&long).unwrap();
        assert!(verify_blocking(&hash, &long));
        assert!(!verify_blocking(&hash, &long[..72]));
    }
}
