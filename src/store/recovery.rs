use sha2::{Digest, Sha256};

use super::{AuditEntry, Db, NewMail, StoreResult, Tx, audit, customers, on_pool, on_tx, outbox};

/// The keys a reset request is counted under; `None` where the protection type
/// does not count that key.
#[derive(Debug, Clone, Default)]
pub struct RequestKeys {
    pub client_ip: Option<String>,
    pub email_key: Option<String>,
}

/// Earlier accepted requests within the window, per key.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestStats {
    pub ip_count: i64,
    pub ip_latest: Option<i64>,
    pub email_count: i64,
    pub email_latest: Option<i64>,
}

/// A reset link to store with an accepted request.
pub struct IssueToken<'a> {
    pub customer_id: i64,
    pub token_hash: &'a str,
    pub expires_at: i64,
    pub mail: &'a NewMail,
}

fn advisory_key(kind: &str, value: &str) -> i64 {
    let digest = Sha256::digest(format!("reset-limit:{kind}:{value}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

async fn count_since(
    tx: &mut Tx,
    column: &str,
    value: &str,
    since: i64,
    own_id: i64,
) -> StoreResult<(i64, Option<i64>)> {
    let sql = format!(
        "SELECT COUNT(*), MAX(created_at) FROM password_reset_requests \
         WHERE {column} = $1 AND created_at > $2 AND id <> $3"
    );
    Ok(on_tx!(tx, |conn| sqlx::query_as(&sql)
        .bind(value)
        .bind(since)
        .bind(own_id)
        .fetch_one(conn)
        .await)?)
}

impl Db {
    /// Records a reset request if `allow` accepts the counts of earlier ones, and
    /// with it (same transaction) the new link, its mail and the audit entry.
    /// Returns whether it was accepted; a refused request leaves no trace.
    ///
    /// Two requests racing at the limit cannot both pass: SQLite takes its single
    /// write lock with the first INSERT, PostgreSQL serialises per key with
    /// transaction-scoped advisory locks.
    pub async fn record_reset_request(
        &self,
        keys: &RequestKeys,
        now: i64,
        window_start: i64,
        allow: impl FnOnce(&RequestStats) -> bool,
        issue: Option<IssueToken<'_>>,
        audit_entry: Option<&AuditEntry>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(pg) = &mut tx {
            let mut locks: Vec<i64> = Vec::new();
            if let Some(ip) = &keys.client_ip {
                locks.push(advisory_key("ip", ip));
            }
            if let Some(email) = &keys.email_key {
                locks.push(advisory_key("email", email));
            }
            locks.sort_unstable(); // one order everywhere, so two requests never deadlock
            for key in locks {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(key)
                    .execute(&mut **pg)
                    .await?;
            }
        }
        let sql = "INSERT INTO password_reset_requests (created_at, client_ip, email_key) VALUES ($1, $2, $3) RETURNING id";
        let own_id: i64 = on_tx!(&mut tx, |conn| sqlx::query_scalar(sql)
            .bind(now)
            .bind(&keys.client_ip)
            .bind(&keys.email_key)
            .fetch_one(conn)
            .await)?;
        let mut stats = RequestStats::default();
        if let Some(ip) = &keys.client_ip {
            (stats.ip_count, stats.ip_latest) =
                count_since(&mut tx, "client_ip", ip, window_start, own_id).await?;
        }
        if let Some(email) = &keys.email_key {
            (stats.email_count, stats.email_latest) =
                count_since(&mut tx, "email_key", email, window_start, own_id).await?;
        }
        if !allow(&stats) {
            return Ok(false); // dropping the transaction rolls it back
        }
        if let Some(issue) = issue {
            let sql = "INSERT INTO password_reset_tokens (customer_id, token_hash, created_at, expires_at) \
                       VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO UPDATE \
                       SET token_hash = excluded.token_hash, created_at = excluded.created_at, \
                           expires_at = excluded.expires_at";
            on_tx!(&mut tx, |conn| sqlx::query(sql)
                .bind(issue.customer_id)
                .bind(issue.token_hash)
                .bind(now)
                .bind(issue.expires_at)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
            outbox::enqueue(&mut tx, issue.mail, now).await?;
        }
        if let Some(entry) = audit_entry {
            audit::insert(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The customer a live reset link belongs to.
    pub async fn reset_token_owner(&self, token_hash: &str, now: i64) -> StoreResult<Option<i64>> {
        let sql = "SELECT customer_id FROM password_reset_tokens WHERE token_hash = $1 AND expires_at > $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)?)
    }

    /// Uses up the link and sets the password in one transaction. Returns false
    /// when the link was used, replaced or expired meanwhile, changing nothing.
    pub async fn complete_reset(
        &self,
        token_hash: &str,
        customer_id: i64,
        now: i64,
        password_hash: &str,
        security_stamp: &str,
        mail: &NewMail,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let sql = "DELETE FROM password_reset_tokens WHERE token_hash = $1 AND customer_id = $2 AND expires_at > $3";
        let used = on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(token_hash)
            .bind(customer_id)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if used != 1 {
            return Ok(false);
        }
        customers::set_password_in(
            &mut tx,
            customer_id,
            password_hash,
            security_stamp,
            now,
            true,
        )
        .await?;
        outbox::enqueue(&mut tx, mail, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Forgets request records and links that can no longer matter.
    pub async fn purge_recovery(&self, requests_before: i64, now: i64) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "DELETE FROM password_reset_requests WHERE created_at < $1"
        )
        .bind(requests_before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        on_pool!(self, |pool| sqlx::query(
            "DELETE FROM password_reset_tokens WHERE expires_at <= $1"
        )
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
