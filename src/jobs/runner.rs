//! Works through bulk jobs in the background. A job is claimed with a short
//! lease (`JOB_LEASE_SECONDS`, 10 s) that a heartbeat renews while a batch runs,
//! so one instance at a time works on it and a killed instance's job is taken
//! over within the lease. Each batch of customers is acted on and marked
//! handled in the same transaction, so a job stopped anywhere (kill -9
//! included) resumes at its cursor and no customer is handled twice.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use super::Action;
use crate::accounts::customers;
use crate::api_tokens;
use crate::recovery::{self, RequestError};
use crate::secrets::random_token;
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{AuditEntry, CustomerRow, Db, JobCounts, JobRow, StoreResult};
use crate::work::Work;

/// How often a batch in progress looks at its lease (renewing it every third
/// of the lease).
const LEASE_CHECK: Duration = Duration::from_millis(250);
/// How often the queue is looked at when there is nothing to do.
const POLL: Duration = Duration::from_secs(1);
/// Stretches of a batch worked on at once on PostgreSQL, each on a connection
/// of its own (the pool holds 16).
const PG_LANES: usize = 4;
/// A breath between batches, so single requests waiting for SQLite's write
/// lock get it between two batches.
const PAUSE: Duration = Duration::from_millis(2);

/// What one batch came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Customers up to this id are handled; there may be more.
    Advanced(i64),
    /// Every customer was handled; the job is done.
    Finished,
    /// The job is no longer ours (cancelled, or our lease ran out and another
    /// instance took it): the batch was rolled back.
    Stopped,
}

pub struct JobRunner {
    state: AppState,
    /// This instance's name on the leases it holds.
    owner: String,
    batch_size: i64,
    /// Seconds a claim lasts unless renewed (`JOB_LEASE_SECONDS`).
    lease: i64,
}

impl JobRunner {
    pub fn new(state: AppState) -> JobRunner {
        let owner = format!("instance-{}", &random_token()[..16]);
        JobRunner::with_owner(state, &owner)
    }

    /// A runner holding leases under a given name (tests play two instances).
    pub fn with_owner(state: AppState, owner: &str) -> JobRunner {
        let batch_size = state.config.job_batch_size;
        JobRunner::with_batch_size(state, owner, batch_size)
    }

    pub fn with_batch_size(state: AppState, owner: &str, batch_size: u32) -> JobRunner {
        let lease = i64::from(state.config.job_lease_seconds.max(3));
        JobRunner {
            state,
            owner: owner.to_string(),
            batch_size: i64::from(batch_size.max(1)),
            lease,
        }
    }

    /// Runs until `shutdown` turns true; a job in hand is handed back to the
    /// queue after its current batch.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(owner = %self.owner, lease_seconds = self.lease, "job runner started");
        while !*shutdown.borrow() {
            match self.claim().await {
                Ok(Some(job)) => self.work_on(job, &mut shutdown).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "job runner cannot read the queue"),
            }
            if !*shutdown.borrow() {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!("job runner stopped");
    }

    /// Claims the next job that is waiting, or whose instance died.
    pub async fn claim(&self) -> StoreResult<Option<JobRow>> {
        let now = self.state.now();
        let job = self
            .state
            .db
            .claim_job(&self.owner, now, now + self.lease)
            .await?;
        if let Some(job) = &job {
            tracing::info!(job_id = job.id, action = %job.action, cursor = job.cursor_id, "bulk job claimed");
        }
        Ok(job)
    }

    async fn work_on(&self, job: JobRow, shutdown: &mut watch::Receiver<bool>) {
        let mut cursor = job.cursor_id;
        loop {
            if *shutdown.borrow() {
                if let Err(e) = self.state.db.release_job(job.id, &self.owner).await {
                    // The lease runs out instead, and the job is taken over then.
                    tracing::warn!(job_id = job.id, error = %e, "cannot hand the job back");
                }
                return;
            }
            match self.holding_lease(&job, self.run_batch(&job, cursor)).await {
                Ok(Batch::Advanced(next)) => cursor = next,
                Ok(Batch::Finished) => {
                    tracing::info!(job_id = job.id, "bulk job done");
                    return;
                }
                Ok(Batch::Stopped) => {
                    tracing::info!(
                        job_id = job.id,
                        "bulk job stopped (cancelled or taken over)"
                    );
                    return;
                }
                Err(e) => {
                    // Nothing of the batch was kept; it is tried again.
                    tracing::warn!(job_id = job.id, error = %e, "bulk job batch failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(POLL) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// Runs `batch` while keeping the job's lease: renewed every third of it,
    /// and only while the job is still this runner's (`lease_owner`). When the
    /// job is no longer ours (cancelled, or taken over after a lease this runner
    /// could not renew in time), the batch is abandoned — its open transactions
    /// roll back — and `Stopped` is returned, so two live runners never work on
    /// one job.
    pub async fn holding_lease(
        &self,
        job: &JobRow,
        batch: impl Future<Output = anyhow::Result<Batch>>,
    ) -> anyhow::Result<Batch> {
        let state = &self.state;
        let renew_every = (self.lease / 3).max(1);
        let mut renewed_at = state.now();
        // The claim (or the last batch's cursor move) set the lease about now.
        let mut held = renewed_at + self.lease;
        tokio::pin!(batch);
        loop {
            tokio::select! {
                biased;
                result = &mut batch => return result,
                _ = tokio::time::sleep(LEASE_CHECK) => {}
            }
            let now = state.now();
            if now - renewed_at < renew_every && held - now > 1 {
                continue;
            }
            match state
                .db
                .renew_job_lease(job.id, &self.owner, now + self.lease)
                .await
            {
                Ok(true) => {
                    held = now + self.lease;
                    renewed_at = now;
                }
                Ok(false) => {
                    metrics::counter!("shop_bulk_job_lease_lost_total").increment(1);
                    tracing::warn!(
                        job_id = job.id,
                        "bulk job no longer ours (cancelled or taken over); batch abandoned"
                    );
                    return Ok(Batch::Stopped);
                }
                Err(e) if held - state.now() <= 1 => {
                    // Another instance may take the job over any moment now.
                    metrics::counter!("shop_bulk_job_lease_lost_total").increment(1);
                    anyhow::bail!("the job's lease cannot be renewed: {e}");
                }
                Err(e) => {
                    tracing::warn!(job_id = job.id, error = %e, "cannot renew the job lease yet")
                }
            }
        }
    }

    /// Acts on the job's next batch of customers after `after`, and moves the
    /// cursor past them. The batch is cut into `lanes` stretches of consecutive
    /// customers, each acted on, marked handled and counted in a transaction of
    /// its own; on PostgreSQL the stretches run at once on separate connections
    /// (each customer's statements are round trips, so one connection waits
    /// most of the time), on SQLite (one writer) there is one. A stretch that
    /// committed stays handled whatever happens to the others; the cursor moves
    /// only once the whole batch is handled.
    pub async fn run_batch(&self, job: &JobRow, after: i64) -> anyhow::Result<Batch> {
        let state = &self.state;
        let ids = state.db.job_batch(job.id, after, self.batch_size).await?;
        let Some(&last) = ids.last() else {
            let now = state.now();
            return Ok(if state.db.finish_job(job.id, &self.owner, now).await? {
                Batch::Finished
            } else {
                Batch::Stopped
            });
        };
        let action = Action::parse(&job.action).ok_or_else(|| {
            anyhow::anyhow!("job {} has an unknown action {:?}", job.id, job.action)
        })?;
        let customers = state.db.job_batch_customers(job.id, after, last).await?;
        let options = PasswordOptions::load(&state.db).await?;
        let lanes = match state.db {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => PG_LANES,
        };
        let per_lane = ids.len().div_ceil(lanes);
        let stretches = ids.chunks(per_lane).map(|stretch| {
            let (first, end) = (stretch[0], stretch[stretch.len() - 1]);
            let rows: Vec<&CustomerRow> = customers
                .iter()
                .filter(|c| c.id >= first && c.id <= end)
                .collect();
            self.run_stretch(job, action, &options, after, stretch, rows)
        });
        let outcomes = futures_util::future::join_all(stretches).await;
        let mut stopped = false;
        for outcome in outcomes {
            stopped |= !outcome?;
        }
        if stopped {
            return Ok(Batch::Stopped);
        }
        let lease_until = state.now() + self.lease;
        if !state
            .db
            .move_job_cursor(job.id, &self.owner, last, lease_until)
            .await?
        {
            return Ok(Batch::Stopped);
        }
        metrics::counter!("shop_bulk_job_customers_total", "action" => action.code())
            .increment(ids.len() as u64);
        Ok(Batch::Advanced(last))
    }

    /// One stretch of a batch in one transaction: each customer through the
    /// single action's domain function, then the stretch marked handled and
    /// counted on the job (renewing the lease). False, with everything rolled
    /// back, when the job is no longer ours or a customer was handled meanwhile.
    async fn run_stretch(
        &self,
        job: &JobRow,
        action: Action,
        options: &PasswordOptions,
        after: i64,
        ids: &[i64],
        customers: Vec<&CustomerRow>,
    ) -> anyhow::Result<bool> {
        let state = &self.state;
        let mut counts = JobCounts {
            // A customer gone since the job was confirmed cannot be acted on.
            failed: (ids.len() - customers.len()) as i64,
            ..JobCounts::default()
        };
        let mut work = Work::begin_bulk(state).await?;
        match action {
            Action::Unlock | Action::ForceSignIn => {
                // The single action's domain function, called once for the
                // whole stretch: one statement per step instead of one per
                // customer (per-statement overhead is what limits a job).
                let tag = format!("job {}", job.id);
                let set: Vec<(&CustomerRow, AuditEntry)> = customers
                    .iter()
                    .map(|&c| (c, self.audit(job, action.audit_action(), c, tag.clone())))
                    .collect();
                if action == Action::Unlock {
                    customers::unlock_in(&mut work, &set).await?;
                } else {
                    api_tokens::force_sign_in_in(&mut work, &set, state.now()).await?;
                }
                counts.done += set.len() as i64;
            }
            // The single action's domain function over the stretch: each
            // customer's own limit is checked, the links written together.
            Action::ResetPassword => {
                let tag = format!("job {}", job.id);
                let audits: Vec<AuditEntry> = customers
                    .iter()
                    .map(|&c| self.audit(job, action.audit_action(), c, tag.clone()))
                    .collect();
                let requests: Vec<(&CustomerRow, &AuditEntry)> =
                    customers.iter().copied().zip(&audits).collect();
                let outcomes =
                    recovery::admin_reset_in(state, &mut work, &requests, options).await?;
                let mut refused = Vec::new();
                for (&customer, outcome) in customers.iter().zip(outcomes) {
                    match outcome {
                        Ok(()) => counts.done += 1,
                        Err(RequestError::Limited) => {
                            counts.skipped += 1;
                            // As the single action records it: the admin's attempt, refused.
                            let detail = format!("{tag}; limit");
                            refused.push(self.audit(job, RESET_PASSWORD_REFUSED, customer, detail));
                        }
                        Err(RequestError::InvalidEmail(_)) => counts.failed += 1,
                        Err(RequestError::Internal(e)) => return Err(e),
                    }
                }
                let refused: Vec<&AuditEntry> = refused.iter().collect();
                work.tx().insert_audits(&refused).await?;
            }
        }
        let (first, last) = (ids[0], ids[ids.len() - 1]);
        let marked = work
            .tx()
            .mark_job_customers_handled(job.id, first, last)
            .await?;
        if marked != ids.len() as u64 {
            // Another instance handled some of them (it took the job over):
            // dropping the work rolls this stretch back.
            return Ok(false);
        }
        let lease_until = state.now() + self.lease;
        // The cursor stays where the batch began until every stretch is in.
        if !work
            .tx()
            .advance_job(job.id, &self.owner, after, counts, lease_until)
            .await?
        {
            return Ok(false);
        }
        work.commit().await?;
        Ok(true)
    }

    /// The audit entry of one customer's action in the job, as the single
    /// action writes it, tagged with the job.
    fn audit(
        &self,
        job: &JobRow,
        audit_action: &'static str,
        customer: &CustomerRow,
        detail: String,
    ) -> AuditEntry {
        AuditEntry {
            at: self.state.now(),
            admin_id: job.admin_id,
            admin_email: job.admin_email.clone(),
            action: audit_action,
            customer_id: Some(customer.id),
            client_ip: job.client_ip.clone(),
            detail,
        }
    }
}

/// The audit name of a Reset Password the limit refused (as `http::admin::audit`'s).
const RESET_PASSWORD_REFUSED: &str = "reset_password_refused";

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_job_lease_is_short() {
        let config = crate::Config::with_database("sqlite::memory:");
        // A killed instance's job waits at most this long for another instance.
        assert_eq!(config.job_lease_seconds, 10);
    }
}
