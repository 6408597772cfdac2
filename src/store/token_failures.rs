use super::{Db, StoreResult, on_patient, on_pool};

impl Db {
    pub async fn record_reset_token_failure(&self, client_ip: &str, now: i64) -> StoreResult<()> {
        let sql = "INSERT INTO reset_token_failures (created_at, client_ip) VALUES ($1, $2)";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(now)
            .bind(client_ip)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn reset_token_failures_since(
        &self,
        client_ip: &str,
        since: i64,
    ) -> StoreResult<i64> {
        let sql =
            "SELECT COUNT(*) FROM reset_token_failures WHERE client_ip = $1 AND created_at > $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(client_ip)
            .bind(since)
            .fetch_one(pool)
            .await)?)
    }

    pub async fn purge_reset_token_failures(&self, before: i64) -> StoreResult<()> {
        let sql = "DELETE FROM reset_token_failures WHERE created_at < $1";
        // Not cut by the serving statement timeout (see `on_patient!`).
        on_patient!(self, |pool| sqlx::query(sql)
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
