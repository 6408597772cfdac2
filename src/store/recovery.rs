use sha2::{Digest, Sha256};

use super::{Db, StoreResult, Tx, on_patient, on_pool, on_tx};

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

impl Tx {
    /// Serialises requests that share a key, so two racing at the limit cannot
    /// both pass. SQLite needs nothing: its single write lock is taken by the
    /// request's INSERT. PostgreSQL takes transaction-scoped advisory locks, in
    /// one order everywhere so two requests never deadlock.
    pub async fn lock_reset_request_keys(&mut self, keys: &RequestKeys) -> StoreResult<()> {
        let Tx::Postgres(pg) = self else {
            return Ok(());
        };
        let mut locks: Vec<i64> = Vec::new();
        if let Some(ip) = &keys.client_ip {
            locks.push(advisory_key("ip", ip));
        }
        if let Some(email) = &keys.email_key {
            locks.push(advisory_key("email", email));
        }
        locks.sort_unstable();
        for key in locks {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut **pg)
                .await
                .map_err(|e| super::context(e, "lock reset request keys"))?;
        }
        Ok(())
    }

    /// Records a request; returns its id.
    pub async fn insert_reset_request(&mut self, keys: &RequestKeys, now: i64) -> StoreResult<i64> {
        let sql = "INSERT INTO password_reset_requests (created_at, client_ip, email_key) \
                   VALUES ($1, $2, $3) RETURNING id";
        on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(now)
            .bind(&keys.client_ip)
            .bind(&keys.email_key)
            .fetch_one(conn)
            .await)
        .map_err(|e| super::context(e, "record a reset request"))
    }

    /// Forgets a request the limits refused, so that it leaves no trace even
    /// inside a larger unit of work (a bulk job's batch).
    pub async fn delete_reset_request(&mut self, id: i64) -> StoreResult<()> {
        let sql = "DELETE FROM password_reset_requests WHERE id = $1";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "forget a refused reset request"))?;
        Ok(())
    }

    /// Requests since `since` under each key, not counting `own_id`.
    pub async fn reset_request_stats(
        &mut self,
        keys: &RequestKeys,
        since: i64,
        own_id: i64,
    ) -> StoreResult<RequestStats> {
        let mut stats = RequestStats::default();
        if let Some(ip) = &keys.client_ip {
            (stats.ip_count, stats.ip_latest) =
                count_since(self, "client_ip", ip, since, own_id).await?;
        }
        if let Some(email) = &keys.email_key {
            (stats.email_count, stats.email_latest) =
                count_since(self, "email_key", email, since, own_id).await?;
        }
        Ok(stats)
    }

    /// Stores a customer's reset link (its hash), replacing any older one.
    pub async fn replace_reset_link(
        &mut self,
        customer_id: i64,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO password_reset_tokens (customer_id, token_hash, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO UPDATE \
                   SET token_hash = excluded.token_hash, created_at = excluded.created_at, \
                       expires_at = excluded.expires_at";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer_id)
            .bind(token_hash)
            .bind(now)
            .bind(expires_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "store a reset link"))?;
        Ok(())
    }

    /// The same for several customers at once (a bulk job's stretch): one
    /// multi-row upsert per chunk. `links` are (customer id, token hash).
    pub async fn replace_reset_links(
        &mut self,
        links: &[(i64, &str)],
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        for chunk in links.chunks(super::SET_CHUNK) {
            let sql = format!(
                "INSERT INTO password_reset_tokens (customer_id, token_hash, created_at, expires_at) \
                 VALUES {} ON CONFLICT (customer_id) DO UPDATE \
                 SET token_hash = excluded.token_hash, created_at = excluded.created_at, \
                     expires_at = excluded.expires_at",
                super::value_rows(chunk.len(), 4, &[])
            );
            on_tx!(self, |conn| {
                let mut q = sqlx::query(&sql);
                for (customer_id, token_hash) in chunk {
                    q = q
                        .bind(*customer_id)
                        .bind(*token_hash)
                        .bind(now)
                        .bind(expires_at);
                }
                q.execute(conn).await.map(|r| r.rows_affected())
            })
            .map_err(|e| super::context(e, "store reset links"))?;
        }
        Ok(())
    }

    /// Uses up a live link of the customer's. False when it was used, replaced
    /// or expired meanwhile.
    pub async fn use_reset_link(
        &mut self,
        token_hash: &str,
        customer_id: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "DELETE FROM password_reset_tokens \
                   WHERE token_hash = $1 AND customer_id = $2 AND expires_at > $3";
        let used = on_tx!(self, |conn| sqlx::query(sql)
            .bind(token_hash)
            .bind(customer_id)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "use a reset link"))?;
        Ok(used == 1)
    }

    /// Every outstanding link of a set of customers dies.
    pub async fn delete_reset_links_of(&mut self, customer_ids: &[i64]) -> StoreResult<()> {
        self.execute_for_ids(
            "DELETE FROM password_reset_tokens WHERE customer_id IN ({ids})",
            customer_ids,
            "delete reset links",
        )
        .await?;
        Ok(())
    }
}

impl Db {
    /// The customer a live reset link belongs to.
    pub async fn reset_token_owner(&self, token_hash: &str, now: i64) -> StoreResult<Option<i64>> {
        let sql = "SELECT customer_id FROM password_reset_tokens WHERE token_hash = $1 AND expires_at > $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)?)
    }

    /// Forgets request records and links that can no longer matter.
    pub async fn purge_recovery(&self, requests_before: i64, now: i64) -> StoreResult<()> {
        // The janitor's purges may delete many rows after a busy day: not cut
        // by the serving statement timeout.
        on_patient!(self, |pool| sqlx::query(
            "DELETE FROM password_reset_requests WHERE created_at < $1"
        )
        .bind(requests_before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        on_patient!(self, |pool| sqlx::query(
            "DELETE FROM password_reset_tokens WHERE expires_at <= $1"
        )
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
