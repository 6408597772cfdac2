//! Bulk jobs: Reset Password, Unlock or Force Sign In for many customers at
//! once. A job is a database row with its customers frozen when it is
//! confirmed; `runner` works through them in the background, calling the very
//! same domain function as the single action for each customer.

pub mod cli;
pub mod runner;

pub use runner::JobRunner;

use crate::accounts::admins::Permission;
use crate::state::AppState;
use crate::store::{AuditEntry, JobRow, NewJob, SelectionFilter, StoreResult};
use crate::work::Work;

/// At most this many ticked ids in one request: more than any grid page holds.
pub const MAX_IDS: usize = 1000;

/// Audit actions of the jobs themselves (each customer's entry is the single
/// action's own, tagged with the job id).
pub const AUDIT_JOB_STARTED: &str = "bulk_job_started";
pub const AUDIT_JOB_CANCELLED: &str = "bulk_job_cancelled";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ResetPassword,
    Unlock,
    ForceSignIn,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::ResetPassword, Action::Unlock, Action::ForceSignIn];

    /// The name in forms, the CLI and the `jobs.action` column.
    pub fn code(self) -> &'static str {
        match self {
            Action::ResetPassword => "reset_password",
            Action::Unlock => "unlock",
            Action::ForceSignIn => "force_sign_in",
        }
    }

    pub fn parse(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code.trim())
    }

    /// What the single action needs: Support may reset and unlock, only an
    /// Administrator may force sign-in.
    pub fn permission(self) -> Permission {
        match self {
            Action::ResetPassword => Permission::SendResetLink,
            Action::Unlock => Permission::Unlock,
            Action::ForceSignIn => Permission::ForceSignIn,
        }
    }

    /// The single action's audit name (the same as `http::admin::audit`'s).
    pub fn audit_action(self) -> &'static str {
        match self {
            Action::ResetPassword => "reset_password",
            Action::Unlock => "unlock",
            Action::ForceSignIn => "force_sign_in",
        }
    }
}

/// Where a selection is pinned: the largest customer id and the moment it was
/// counted for the confirmation page, which the job keeps to (customers created
/// later are not swept in; "locked" and "has live tokens" are read as of then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub upto: i64,
    pub at: i64,
}

/// A pinned moment older than this (a confirmation page left open for days)
/// is not kept to: the selection is read as of now instead.
const PIN_MAX_AGE_SECONDS: i64 = 24 * 3600;

/// A selection as shown on the confirmation page: its exact size, and where it
/// was pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub count: i64,
    pub pin: Pin,
}

/// Counts a selection. `pin` (from an earlier count, e.g. the confirmation
/// form) keeps it to the customers that existed then, matched as of then.
pub async fn count(
    state: &AppState,
    filter: &SelectionFilter,
    pin: Option<Pin>,
) -> StoreResult<Counted> {
    let pin = pinned(state, pin).await?;
    let selection = state.db.pin_selection(filter, pin.upto, pin.at).await?;
    let count = state.db.count_selection(&selection).await?;
    Ok(Counted { count, pin })
}

async fn pinned(state: &AppState, pin: Option<Pin>) -> StoreResult<Pin> {
    let now = state.now();
    Ok(match pin {
        Some(Pin { upto, at }) => Pin {
            upto,
            at: if at > now || at < now - PIN_MAX_AGE_SECONDS {
                now
            } else {
                at
            },
        },
        None => Pin {
            upto: state.db.max_customer_id().await?,
            at: now,
        },
    })
}

/// Who starts a job: the audit fields of the administrator (or `cli`).
pub struct Starter<'a> {
    pub admin_id: Option<i64>,
    pub admin_email: &'a str,
    pub client_ip: &'a str,
}

/// Creates a queued job for the customers of `filter` where `pin` pinned it,
/// freezing that selection, with its audit entry, in one transaction. The
/// caller has checked the starter may run `action`. `grid_filter` is the
/// grid's query (`q=jan&locked=yes`) for the record, empty for ticked ids.
pub async fn start(
    state: &AppState,
    action: Action,
    filter: &SelectionFilter,
    pin: Pin,
    described: &str,
    grid_filter: &str,
    by: &Starter<'_>,
) -> StoreResult<JobRow> {
    let now = state.now();
    let pin = pinned(state, Some(pin)).await?;
    let selection = state.db.pin_selection(filter, pin.upto, pin.at).await?;
    let mut work = Work::begin(state).await?;
    let id = work
        .tx()
        .insert_job(&NewJob {
            action: action.code(),
            selection: described,
            admin_id: by.admin_id,
            admin_email: by.admin_email,
            client_ip: by.client_ip,
            grid_filter,
            created_at: now,
        })
        .await?;
    let total = work.tx().fill_job(id, &selection).await?;
    work.tx()
        .insert_audit(&AuditEntry {
            at: now,
            admin_id: by.admin_id,
            admin_email: by.admin_email.to_string(),
            action: AUDIT_JOB_STARTED,
            customer_id: None,
            client_ip: by.client_ip.to_string(),
            detail: format!("job {id}: {} of {total} ({described})", action.code()),
        })
        .await?;
    work.commit().await?;
    metrics::counter!("shop_bulk_jobs_started_total", "action" => action.code()).increment(1);
    tracing::info!(
        job_id = id,
        action = action.code(),
        total,
        "bulk job queued"
    );
    state
        .db
        .job(id)
        .await?
        .ok_or_else(|| crate::store::StoreError::Other {
            query: "read a new job",
            source: sqlx::Error::RowNotFound,
        })
}

/// Stops a queued or running job at its next batch (the batch in hand is rolled
/// back); false if it had already ended. Audited.
pub async fn cancel(state: &AppState, job: &JobRow, audit: AuditEntry) -> StoreResult<bool> {
    let mut work = Work::begin(state).await?;
    if !work.tx().cancel_job(job.id, state.now()).await? {
        return Ok(false);
    }
    work.tx().insert_audit(&audit).await?;
    work.commit().await?;
    tracing::info!(job_id = job.id, "bulk job cancelled");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_only_force_sign_in_needs_an_administrator() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.code()), Some(action));
        }
        assert_eq!(Action::parse("delete"), None);
        use crate::accounts::admins::Role;
        assert!(Role::Support.allows(Action::ResetPassword.permission()));
        assert!(Role::Support.allows(Action::Unlock.permission()));
        assert!(!Role::Support.allows(Action::ForceSignIn.permission()));
    }
}
