//! Bulk jobs: the job rows, their frozen selection (`job_customers`), the lease
//! that lets one instance at a time work on a job, and the cursor that says how
//! far it got.

use super::customers::COLUMNS;
use super::grid::{Arg, GridFilter, MatchingIds, bind_args};
use super::{CustomerRow, Db, StoreResult, Tx, on_patient, on_pool, on_tx};

/// Which customers a job acts on; either way only those with an id up to the
/// largest id when the selection was shown, so later customers are never swept in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionFilter {
    /// Customers ticked on the grid (ids that do not exist are left out).
    Ids(Vec<i64>),
    /// Every customer the grid shows with this filter (keyword and filters).
    Matching(GridFilter),
}

/// A selection pinned to the largest customer id and the moment it was
/// counted (the locked and live-token filters depend on the time), ready to be
/// counted or frozen into a job.
pub struct PinnedSelection {
    ids: MatchingIds,
}

pub struct NewJob<'a> {
    pub action: &'static str,
    /// How the customers were chosen, in words, for the record.
    pub selection: &'a str,
    pub admin_id: Option<i64>,
    pub admin_email: &'a str,
    pub client_ip: &'a str,
    /// The grid's filter as query parameters (`q=jan&locked=yes`); empty for ticked ids.
    pub grid_filter: &'a str,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub action: String,
    pub selection: String,
    pub admin_id: Option<i64>,
    pub admin_email: String,
    pub client_ip: String,
    pub grid_filter: String,
    pub state: String,
    pub total: i64,
    pub cursor_id: i64,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

const JOB_COLUMNS: &str = "id, action, selection, admin_id, admin_email, client_ip, grid_filter, state, total, \
     cursor_id, done, skipped, failed, created_at, finished_at";

/// What one batch did, added to the job's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
}

impl Db {
    /// The largest customer id so far (0 with no customers).
    pub async fn max_customer_id(&self) -> StoreResult<i64> {
        let max: Option<i64> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT MAX(id) FROM customers"
        )
        .fetch_one(pool)
        .await)?;
        Ok(max.unwrap_or(0))
    }

    /// The selection's customers with ids up to `upto`, as the grid matches
    /// them at `now`.
    pub async fn pin_selection(
        &self,
        filter: &SelectionFilter,
        upto: i64,
        now: i64,
    ) -> StoreResult<PinnedSelection> {
        let ids = match filter {
            SelectionFilter::Matching(filter) => self.matching_ids(filter, now, upto, &[]).await?,
            SelectionFilter::Ids(ids) => {
                let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
                MatchingIds {
                    text: format!(
                        "SELECT c.id FROM customers c WHERE c.id <= $1 AND c.id IN ({})",
                        list.join(", ")
                    ),
                    args: std::iter::once(upto)
                        .chain(ids.iter().copied())
                        .map(Arg::Int)
                        .collect(),
                }
            }
        };
        Ok(PinnedSelection { ids })
    }

    /// How many customers the selection holds, exactly (up to every customer:
    /// not cut by the serving statement timeout).
    pub async fn count_selection(&self, selection: &PinnedSelection) -> StoreResult<i64> {
        let sql = format!("SELECT COUNT(*) FROM ({}) s", selection.ids.text);
        Ok(on_patient!(self, |pool| bind_args!(
            sqlx::query_scalar(&sql),
            &selection.ids.args
        )
        .fetch_one(pool)
        .await)?)
    }

    /// Claims the oldest job that is queued, or running under a lease that ran
    /// out (its instance died), for `owner` until `lease_until`. On PostgreSQL,
    /// SKIP LOCKED keeps two instances from claiming the same job; SQLite has one writer.
    pub async fn claim_job(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<JobRow>> {
        let lock = match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $3 \
             WHERE id = (SELECT id FROM jobs \
                         WHERE state = 'queued' OR (state = 'running' AND lease_until < $2) \
                         ORDER BY id LIMIT 1{lock}) \
             RETURNING {JOB_COLUMNS}"
        );
        on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(owner)
            .bind(now)
            .bind(lease_until)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "claim a job"))
    }

    /// The next `limit` customer ids of a job past `after` not yet handled, in id order.
    pub async fn job_batch(&self, job_id: i64, after: i64, limit: i64) -> StoreResult<Vec<i64>> {
        let sql = "SELECT customer_id FROM job_customers WHERE job_id = $1 AND customer_id > $2 \
                   AND handled = 0 ORDER BY customer_id LIMIT $3";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(job_id)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// The customers of a job with ids in `after`..=`last` not yet handled, in id order.
    pub async fn job_batch_customers(
        &self,
        job_id: i64,
        after: i64,
        last: i64,
    ) -> StoreResult<Vec<CustomerRow>> {
        let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect();
        let sql = format!(
            "SELECT {} FROM job_customers j JOIN customers c ON c.id = j.customer_id \
             WHERE j.job_id = $1 AND j.customer_id > $2 AND j.customer_id <= $3 AND j.handled = 0 \
             ORDER BY c.id",
            columns.join(", ")
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(job_id)
            .bind(after)
            .bind(last)
            .fetch_all(pool)
            .await)?)
    }

    /// Done: every customer was handled. False if the job is no longer this
    /// owner's (cancelled, or the lease was lost).
    pub async fn finish_job(&self, job_id: i64, owner: &str, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET state = 'done', finished_at = $3, lease_owner = NULL, lease_until = NULL \
                   WHERE id = $1 AND state = 'running' AND lease_owner = $2";
        let updated = on_pool!(self, |pool| sqlx::query(sql)
            .bind(job_id)
            .bind(owner)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Moves the cursor past a batch whose every customer is handled (each
    /// stretch of it committed with its own mark). False when the job is no
    /// longer this owner's.
    pub async fn move_job_cursor(
        &self,
        job_id: i64,
        owner: &str,
        cursor_id: i64,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET cursor_id = $3, lease_until = $4 \
                   WHERE id = $1 AND state = 'running' AND lease_owner = $2";
        let updated = on_pool!(self, |pool| sqlx::query(sql)
            .bind(job_id)
            .bind(owner)
            .bind(cursor_id)
            .bind(lease_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Extends the lease of a job its runner still holds (the heartbeat while a
    /// batch runs). False when the job is no longer `owner`'s: cancelled, done,
    /// or claimed by another instance after the lease ran out.
    pub async fn renew_job_lease(
        &self,
        job_id: i64,
        owner: &str,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET lease_until = $3 \
                   WHERE id = $1 AND state = 'running' AND lease_owner = $2";
        let updated = on_pool!(self, |pool| sqlx::query(sql)
            .bind(job_id)
            .bind(owner)
            .bind(lease_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "renew a job's lease"))?;
        Ok(updated == 1)
    }

    /// Hands a job back to the queue (this instance is stopping): another
    /// instance, or this one restarted, resumes it at its cursor at once.
    pub async fn release_job(&self, job_id: i64, owner: &str) -> StoreResult<()> {
        let sql = "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL \
                   WHERE id = $1 AND state = 'running' AND lease_owner = $2";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(job_id)
            .bind(owner)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn job(&self, id: i64) -> StoreResult<Option<JobRow>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// The newest jobs first.
    pub async fn jobs_page(&self, limit: i64) -> StoreResult<Vec<JobRow>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }
}

impl Tx {
    /// A new queued job with no customers yet; returns its id.
    pub async fn insert_job(&mut self, job: &NewJob<'_>) -> StoreResult<i64> {
        let sql = "INSERT INTO jobs (action, selection, admin_id, admin_email, client_ip, grid_filter, total, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id";
        on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(job.action)
            .bind(job.selection)
            .bind(job.admin_id)
            .bind(job.admin_email)
            .bind(job.client_ip)
            .bind(job.grid_filter)
            .bind(job.created_at)
            .fetch_one(conn)
            .await)
        .map_err(|e| super::context(e, "create a job"))
    }

    /// Freezes the job's selection and records its size; returns the size. A
    /// million-customer selection takes seconds: the rest of this transaction
    /// is not cut by the serving statement timeout.
    pub async fn fill_job(&mut self, job_id: i64, selection: &PinnedSelection) -> StoreResult<i64> {
        if let Tx::Postgres(tx) = self {
            sqlx::query(super::LIFT_STATEMENT_TIMEOUT)
                .execute(&mut **tx)
                .await?;
        }
        // The job id is an integer of ours, written into the statement.
        let sql = format!(
            "INSERT INTO job_customers (job_id, customer_id) SELECT CAST({job_id} AS BIGINT), s.id FROM ({}) s",
            selection.ids.text
        );
        let total = on_tx!(self, |conn| bind_args!(
            sqlx::query(&sql),
            &selection.ids.args
        )
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "freeze a job's customers"))?;
        let total = i64::try_from(total).unwrap_or(i64::MAX);
        on_tx!(self, |conn| sqlx::query(
            "UPDATE jobs SET total = $2 WHERE id = $1"
        )
        .bind(job_id)
        .bind(total)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(total)
    }

    /// Marks the job's not yet handled customers with ids in `first..=last`
    /// handled, in the transaction that acted on them; returns how many.
    pub async fn mark_job_customers_handled(
        &mut self,
        job_id: i64,
        first: i64,
        last: i64,
    ) -> StoreResult<u64> {
        let sql = "UPDATE job_customers SET handled = 1 \
                   WHERE job_id = $1 AND customer_id >= $2 AND customer_id <= $3 AND handled = 0";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(job_id)
            .bind(first)
            .bind(last)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "mark a job's customers handled"))
    }

    /// Moves the cursor past a batch, adds its counts and renews the lease, in
    /// the batch's transaction. False when the job is no longer this owner's
    /// (cancelled, or its lease lost): the caller rolls the batch back.
    pub async fn advance_job(
        &mut self,
        job_id: i64,
        owner: &str,
        cursor_id: i64,
        counts: JobCounts,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET cursor_id = $3, done = done + $4, skipped = skipped + $5, \
                   failed = failed + $6, lease_until = $7 \
                   WHERE id = $1 AND state = 'running' AND lease_owner = $2";
        let updated = on_tx!(self, |conn| sqlx::query(sql)
            .bind(job_id)
            .bind(owner)
            .bind(cursor_id)
            .bind(counts.done)
            .bind(counts.skipped)
            .bind(counts.failed)
            .bind(lease_until)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "advance a job"))?;
        Ok(updated == 1)
    }

    /// Stops a queued or running job; false if it had already ended.
    pub async fn cancel_job(&mut self, job_id: i64, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_owner = NULL, lease_until = NULL \
                   WHERE id = $1 AND state IN ('queued', 'running')";
        let updated = on_tx!(self, |conn| sqlx::query(sql)
            .bind(job_id)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }
}
