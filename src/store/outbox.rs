use super::{Db, StoreResult, Tx, on_patient, on_pool, on_tx};

/// A rendered email for the outbox. The bodies are as they are stored: sealed
/// by `mail::compose` when the instance has a sealing key (they may hold a live
/// reset link), opened by the mail worker at send time.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub recipient: String,
    pub kind: &'static str,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
}

/// A message claimed by one worker for one delivery attempt (bodies as stored).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedMail {
    pub id: i64,
    pub recipient: String,
    pub kind: String,
    pub subject: String,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attempts: i64,
    pub permanent_failures: i64,
    /// `MailPriority` as stored.
    pub priority: i64,
    /// The end of this worker's lease: the claim's token (renewals and the outcome
    /// name it, so a worker whose lease ran out cannot overwrite its successor's).
    pub lease_until: i64,
}

/// What the admin mail queue shows: never a body.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailQueueRow {
    pub id: i64,
    pub recipient: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// Which mail the worker takes first: a shopper waiting for one message goes
/// before the mail of a bulk job, which also leaves at a limited rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailPriority {
    Single = 0,
    Bulk = 1,
}

impl Tx {
    /// Queues a rendered mail; it goes out once this transaction commits.
    pub async fn enqueue_mail(
        &mut self,
        mail: &NewMail,
        priority: MailPriority,
        now: i64,
    ) -> StoreResult<()> {
        enqueue(self, mail, priority, now).await
    }
}

impl Tx {
    /// Several messages at once (a bulk job's stretch): one multi-row INSERT
    /// per chunk.
    pub async fn enqueue_mails(
        &mut self,
        mails: &[&NewMail],
        priority: MailPriority,
        now: i64,
    ) -> StoreResult<()> {
        for chunk in mails.chunks(super::SET_CHUNK) {
            let sql = format!(
                "INSERT INTO mail_outbox (recipient, kind, subject, body_text, body_html, next_attempt_at, created_at, priority) \
                 VALUES {}",
                super::value_rows(chunk.len(), 8, &[])
            );
            on_tx!(self, |conn| {
                let mut q = sqlx::query(&sql);
                for mail in chunk {
                    q = q
                        .bind(&mail.recipient)
                        .bind(mail.kind)
                        .bind(&mail.subject)
                        .bind(&mail.body_text)
                        .bind(&mail.body_html)
                        .bind(now)
                        .bind(now)
                        .bind(priority as i64);
                }
                q.execute(conn).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }
}

pub(super) async fn enqueue(
    tx: &mut Tx,
    mail: &NewMail,
    priority: MailPriority,
    now: i64,
) -> StoreResult<()> {
    let sql = "INSERT INTO mail_outbox (recipient, kind, subject, body_text, body_html, next_attempt_at, created_at, priority) \
               VALUES ($1, $2, $3, $4, $5, $6, $6, $7)";
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(&mail.recipient)
        .bind(mail.kind)
        .bind(&mail.subject)
        .bind(&mail.body_text)
        .bind(&mail.body_html)
        .bind(now)
        .bind(priority as i64)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

impl Db {
    /// Claims the next due message for `lease` seconds, single requests before
    /// bulk mail (and bulk mail only when `bulk_allowed`). A message whose worker died
    /// mid-send becomes due again when its lease runs out. On PostgreSQL, SKIP LOCKED
    /// keeps two instances from claiming the same row; SQLite has one writer.
    pub async fn claim_mail(
        &self,
        now: i64,
        lease: i64,
        bulk_allowed: bool,
    ) -> StoreResult<Option<ClaimedMail>> {
        self.claim_mail_due_by(now, now, lease, bulk_allowed).await
    }

    /// Like `claim_mail`, but takes waiting mail due by `due_by` (a probe of a relay
    /// that was unavailable takes the next waiting message even if it is backed off).
    pub async fn claim_mail_due_by(
        &self,
        now: i64,
        due_by: i64,
        lease: i64,
        bulk_allowed: bool,
    ) -> StoreResult<Option<ClaimedMail>> {
        let max_priority = if bulk_allowed {
            MailPriority::Bulk
        } else {
            MailPriority::Single
        } as i64;
        let pick = format!(
            "SELECT id FROM mail_outbox \
             WHERE status IN ('pending', 'sending') AND priority <= {max_priority} \
               AND ((status = 'pending' AND next_attempt_at <= $3) \
                 OR (status = 'sending' AND lease_until < $1)) \
             ORDER BY priority, next_attempt_at, id LIMIT 1"
        );
        let lock = match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE mail_outbox SET status = 'sending', lease_until = $2, attempts = attempts + 1 \
             WHERE id = ({pick}{lock}) \
             RETURNING id, recipient, kind, subject, body_text, body_html, attempts, permanent_failures, priority, lease_until"
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(now)
            .bind(now + lease)
            .bind(due_by)
            .fetch_optional(pool)
            .await)?)
    }

    /// Extends a lease its worker still holds (`held_until` is the lease it has);
    /// false when the message is no longer that worker's.
    pub async fn renew_mail_lease(
        &self,
        id: i64,
        held_until: i64,
        new_until: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE mail_outbox SET lease_until = $3 \
                   WHERE id = $1 AND status = 'sending' AND lease_until = $2";
        let changed = on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(held_until)
            .bind(new_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(changed == 1)
    }

    /// The relay answers again: waiting messages whose last attempt failed for
    /// the relay's reasons are due now instead of after their own backoff.
    pub async fn release_transient_retries(&self, now: i64) -> StoreResult<u64> {
        let sql = "UPDATE mail_outbox SET next_attempt_at = $1 \
                   WHERE status = 'pending' AND transient_failure = 1 AND next_attempt_at > $1";
        Ok(on_pool!(self, |pool| sqlx::query(sql)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Delivered: the body, which holds the link, is erased.
    pub async fn mark_mail_sent(&self, id: i64, now: i64) -> StoreResult<()> {
        let sql = "UPDATE mail_outbox SET status = 'sent', sent_at = $2, lease_until = NULL, \
                   body_text = NULL, body_html = NULL, last_error = NULL, transient_failure = 0 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Back to the queue for another attempt at `next_attempt_at`, by the worker
    /// holding the lease `held_until` (a worker that lost its lease changes nothing).
    pub async fn mark_mail_retry(
        &self,
        id: i64,
        held_until: i64,
        next_attempt_at: i64,
        error: &str,
        permanent: bool,
    ) -> StoreResult<()> {
        let sql = "UPDATE mail_outbox SET status = 'pending', lease_until = NULL, next_attempt_at = $2, \
                   last_error = $3, permanent_failures = permanent_failures + $4, transient_failure = $5 \
                   WHERE id = $1 AND status = 'sending' AND lease_until = $6";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(next_attempt_at)
            .bind(error)
            .bind(i64::from(permanent))
            .bind(i64::from(!permanent))
            .bind(held_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Given up after repeated permanent refusals; the body is erased like a sent one.
    pub async fn mark_mail_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        let sql = "UPDATE mail_outbox SET status = 'failed', lease_until = NULL, last_error = $2, transient_failure = 0, \
                   permanent_failures = permanent_failures + 1, body_text = NULL, body_html = NULL WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(error)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The newest messages first, for the admin queue page.
    pub async fn mail_queue(
        &self,
        before_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<MailQueueRow>> {
        let sql = "SELECT id, recipient, kind, status, attempts, last_error, created_at, sent_at \
                   FROM mail_outbox WHERE id < $1 ORDER BY id DESC LIMIT $2";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Counts by status, for metrics and tests.
    pub async fn mail_status_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT status, COUNT(*) FROM mail_outbox GROUP BY status"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Drops delivered or failed messages older than `before` (bodies are already gone).
    pub async fn purge_mail(&self, before: i64) -> StoreResult<u64> {
        let sql = "DELETE FROM mail_outbox WHERE status IN ('sent', 'failed') AND created_at < $1";
        // A month after a million-customer bulk reset this is a million rows:
        // not cut by the serving statement timeout.
        Ok(on_patient!(self, |pool| sqlx::query(sql)
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }
}
