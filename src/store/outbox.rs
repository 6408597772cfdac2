use super::{Db, StoreResult, Tx, on_pool, on_tx};

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

impl Tx {
    /// Queues a rendered mail; it goes out once this transaction commits.
    pub async fn enqueue_mail(&mut self, mail: &NewMail, now: i64) -> StoreResult<()> {
        enqueue(self, mail, now).await
    }
}

pub(super) async fn enqueue(tx: &mut Tx, mail: &NewMail, now: i64) -> StoreResult<()> {
    let sql = "INSERT INTO mail_outbox (recipient, kind, subject, body_text, body_html, next_attempt_at, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $6)";
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(&mail.recipient)
        .bind(mail.kind)
        .bind(&mail.subject)
        .bind(&mail.body_text)
        .bind(&mail.body_html)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

impl Db {
    /// Claims the next due message for `lease` seconds. A message whose worker died
    /// mid-send becomes due again when its lease runs out. On PostgreSQL, SKIP LOCKED
    /// keeps two instances from claiming the same row; SQLite has one writer.
    pub async fn claim_mail(&self, now: i64, lease: i64) -> StoreResult<Option<ClaimedMail>> {
        let pick = "SELECT id FROM mail_outbox \
                    WHERE (status = 'pending' AND next_attempt_at <= $1) \
                       OR (status = 'sending' AND lease_until < $1) \
                    ORDER BY next_attempt_at, id LIMIT 1";
        let lock = match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE mail_outbox SET status = 'sending', lease_until = $2, attempts = attempts + 1 \
             WHERE id = ({pick}{lock}) \
             RETURNING id, recipient, kind, subject, body_text, body_html, attempts, permanent_failures"
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(now)
            .bind(now + lease)
            .fetch_optional(pool)
            .await)?)
    }

    /// Delivered: the body, which holds the link, is erased.
    pub async fn mark_mail_sent(&self, id: i64, now: i64) -> StoreResult<()> {
        let sql = "UPDATE mail_outbox SET status = 'sent', sent_at = $2, lease_until = NULL, \
                   body_text = NULL, body_html = NULL, last_error = NULL WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn mark_mail_retry(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: &str,
        permanent: bool,
    ) -> StoreResult<()> {
        let sql = "UPDATE mail_outbox SET status = 'pending', lease_until = NULL, next_attempt_at = $2, \
                   last_error = $3, permanent_failures = permanent_failures + $4 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(next_attempt_at)
            .bind(error)
            .bind(i64::from(permanent))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Given up after repeated permanent refusals; the body is erased like a sent one.
    pub async fn mark_mail_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        let sql = "UPDATE mail_outbox SET status = 'failed', lease_until = NULL, last_error = $2, \
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
        Ok(on_pool!(self, |pool| sqlx::query(sql)
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }
}
