//! Administrators' second factor: enrolment with a TOTP secret (sealed at
//! rest) and ten single-use recovery codes (hashed), the code asked after the
//! password (±1 step, each step used once on every instance, a wrong code a
//! failed sign-in), and its removal from the command line.

use super::admins::Admin;
use super::lockout::{self, PasswordCheck};
use super::new_security_stamp;
use super::totp::TotpSecret;
use crate::secrets::{sealing, token_hash};
use crate::state::AppState;
use crate::store::{AccountTable, AuditEntry, StoreError};
use crate::work::Work;

/// Recovery codes shown at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// Characters in a recovery code (base32: 80 random bits), shown in groups of four.
const RECOVERY_CODE_CHARS: usize = 16;

/// Seals a secret for the database (in clear only where the instance has no
/// sealing key: PostgreSQL without SECRET_KEY, which the server warned about).
fn seal(state: &AppState, secret: &TotpSecret) -> String {
    let text = secret.to_base32();
    match state.sealing.totp() {
        Some(key) => key.seal_text(&text),
        None => text,
    }
}

fn open(state: &AppState, stored: &str) -> anyhow::Result<TotpSecret> {
    let text = if sealing::is_sealed(stored) {
        let key = state
            .sealing
            .totp()
            .ok_or_else(|| anyhow::anyhow!("a sealed TOTP secret but no SECRET_KEY"))?;
        key.open_text(stored)?
    } else {
        stored.to_string()
    };
    TotpSecret::from_base32(&text)
        .ok_or_else(|| anyhow::anyhow!("a stored TOTP secret is not base32"))
}

/// The secret to enrol with: the one already shown to this administrator and
/// not yet confirmed (a reload or a second tab shows the same), or a new one.
pub async fn pending_secret(state: &AppState, admin_id: i64) -> anyhow::Result<TotpSecret> {
    if let Some(stored) = state.db.admin_totp_secret(admin_id, true).await? {
        return open(state, &stored);
    }
    let secret = TotpSecret::generate();
    state
        .db
        .put_admin_pending_secret(admin_id, &seal(state, &secret))
        .await?;
    Ok(secret)
}

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error("the code does not match the secret")]
    WrongCode,
    #[error("the administrator has a second factor already")]
    AlreadyEnrolled,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for EnrolError {
    fn from(e: StoreError) -> Self {
        EnrolError::Internal(e.into())
    }
}

/// What a confirmed enrolment gives: the recovery codes (shown once, never
/// stored in clear) and the new security stamp (other sessions end).
pub struct Enrolled {
    pub recovery_codes: Vec<String>,
    pub stamp: String,
}

/// Confirms the pending secret with a code from the app: it becomes the
/// second factor, ten recovery codes are made, every other session ends.
pub async fn confirm(
    state: &AppState,
    admin: &Admin,
    code: &str,
    mut audit: AuditEntry,
) -> Result<Enrolled, EnrolError> {
    if admin.two_factor {
        return Err(EnrolError::AlreadyEnrolled);
    }
    let Some(stored) = state.db.admin_totp_secret(admin.id, true).await? else {
        return Err(EnrolError::WrongCode);
    };
    let secret = open(state, &stored)?;
    let step = secret
        .matching_step(code, state.now())
        .ok_or(EnrolError::WrongCode)?;
    let recovery_codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes: Vec<String> = recovery_codes
        .iter()
        .map(|c| token_hash(&normalize_recovery_code(c)))
        .collect();
    let stamp = new_security_stamp();
    let mut work = Work::begin(state).await?;
    if !work
        .tx()
        .confirm_admin_totp(admin.id, &stored, step)
        .await?
    {
        return Err(EnrolError::AlreadyEnrolled);
    }
    work.tx().replace_recovery_codes(admin.id, &hashes).await?;
    work.tx().rotate_admin_stamp(admin.id, &stamp).await?;
    audit.action = crate::audit::TWO_FACTOR_ENROLLED;
    work.tx().insert_audit(&audit).await?;
    work.commit().await?;
    tracing::info!(
        admin_id = admin.id,
        "administrator enrolled a second factor"
    );
    Ok(Enrolled {
        recovery_codes,
        stamp,
    })
}

/// What a code typed at sign-in was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// A current code of the app, not used before.
    Accepted,
    /// One of the recovery codes, now used up.
    RecoveryCodeUsed,
    /// Wrong, used already, or the account is locked: one answer for all.
    Refused { locked: bool },
}

/// Checks the code of an administrator who gave the right password: a TOTP
/// code (±1 step, each step once) or an unused recovery code. Counted toward
/// the lockout like a password.
pub async fn check_sign_in_code(
    state: &AppState,
    admin: &Admin,
    code: &str,
) -> anyhow::Result<CodeCheck> {
    let code = code.trim();
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let is_totp = digits.len() == super::totp::DIGITS && digits.bytes().all(|b| b.is_ascii_digit());
    let now = state.now();
    let secret = match state.db.admin_totp_secret(admin.id, false).await? {
        Some(stored) => Some(open(state, &stored)?),
        None => None,
    };
    let mut used_recovery = false;
    let check = lockout::check_code(state, AccountTable::Admins, admin.id, || async {
        let Some(secret) = secret else {
            return Ok(false);
        };
        if is_totp {
            return match secret.matching_step(&digits, now) {
                Some(step) => state.db.use_totp_step(admin.id, step).await,
                None => Ok(false),
            };
        }
        let normalized = normalize_recovery_code(code);
        if normalized.len() != RECOVERY_CODE_CHARS {
            return Ok(false);
        }
        let mut tx = state.db.begin().await?;
        let used = tx
            .use_recovery_code(admin.id, &token_hash(&normalized), now)
            .await?;
        tx.commit().await?;
        used_recovery = used;
        Ok(used)
    })
    .await?;
    Ok(match check {
        PasswordCheck::Correct if used_recovery => CodeCheck::RecoveryCodeUsed,
        PasswordCheck::Correct => CodeCheck::Accepted,
        other => CodeCheck::Refused {
            locked: other.left_locked(),
        },
    })
}

/// Removes an administrator's second factor (the command line, for a lost
/// phone): their recovery codes go too, every session ends, and they enrol
/// again at their next sign-in. False when they had none.
pub async fn remove(
    state: &AppState,
    admin_id: i64,
    audit: &AuditEntry,
) -> Result<bool, StoreError> {
    let mut work = Work::begin(state).await?;
    let removed = work.tx().remove_admin_two_factor(admin_id).await?;
    if removed {
        work.tx()
            .rotate_admin_stamp(admin_id, &new_security_stamp())
            .await?;
        work.tx().insert_audit(audit).await?;
    }
    work.commit().await?;
    Ok(removed)
}

/// A new recovery code: 16 base32 characters in groups of four.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; RECOVERY_CODE_CHARS];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A recovery code as typed, without dashes and spaces, lower case.
fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_grouped_and_normalize() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(normalize_recovery_code(&code).len(), RECOVERY_CODE_CHARS);
        assert_eq!(
            normalize_recovery_code(&format!(" {} ", code.to_uppercase())),
            normalize_recovery_code(&code)
        );
        assert_ne!(new_recovery_code(), code);
    }
}
