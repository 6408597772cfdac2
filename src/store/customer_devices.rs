//! Browsers known to have signed in to an account, and the single-use
//! "This wasn't me" links of the new-device notice.

use super::{Db, StoreResult, Tx, on_pool, on_tx};

impl Db {
    pub async fn is_known_device(&self, customer_id: i64, device_hash: &str) -> StoreResult<bool> {
        let sql =
            "SELECT COUNT(*) FROM customer_devices WHERE customer_id = $1 AND device_hash = $2";
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(customer_id)
            .bind(device_hash)
            .fetch_one(pool)
            .await)
        .map_err(|e| super::context(e, "look up a device"))?;
        Ok(n > 0)
    }

    /// The customer a live (unused, unexpired) "not me" link belongs to.
    pub async fn not_me_link_owner(&self, token_hash: &str, now: i64) -> StoreResult<Option<i64>> {
        let sql = "SELECT customer_id FROM not_me_links \
                   WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
        on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "read a not-me link"))
    }
}

impl Tx {
    /// Forgets a device: it is an unknown browser from now on.
    pub async fn forget_device(&mut self, customer_id: i64, device_hash: &str) -> StoreResult<()> {
        let sql = "DELETE FROM customer_devices WHERE customer_id = $1 AND device_hash = $2";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer_id)
            .bind(device_hash)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "forget a device"))?;
        Ok(())
    }

    /// Remembers a device for the customer (again is fine).
    pub async fn remember_device(
        &mut self,
        customer_id: i64,
        device_hash: &str,
        now: i64,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO customer_devices (customer_id, device_hash, created_at) \
                   VALUES ($1, $2, $3) ON CONFLICT (customer_id, device_hash) DO NOTHING";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer_id)
            .bind(device_hash)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "remember a device"))?;
        Ok(())
    }

    pub async fn insert_not_me_link(
        &mut self,
        customer_id: i64,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO not_me_links (token_hash, customer_id, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(token_hash)
            .bind(customer_id)
            .bind(now)
            .bind(expires_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "insert a not-me link"))?;
        Ok(())
    }

    /// Uses a live link up; the customer it belonged to, or `None` when it was
    /// not live (used, expired, unknown) — one statement, so it works once.
    pub async fn use_not_me_link(
        &mut self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let sql = "UPDATE not_me_links SET used_at = $2 \
                   WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING customer_id";
        on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(conn)
            .await)
        .map_err(|e| super::context(e, "use a not-me link"))
    }
}
