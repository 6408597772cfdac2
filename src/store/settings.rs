use super::{AuditEntry, Db, StoreResult, audit, on_pool, on_tx};

impl Db {
    pub async fn all_settings(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT name, value FROM settings"
        )
        .fetch_all(pool)
        .await)?)
    }

    pub async fn put_setting(&self, name: &str, value: &str) -> StoreResult<()> {
        let sql = "INSERT INTO settings (name, value) VALUES ($1, $2) \
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(name)
            .bind(value)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Stores several settings and the audit entry of the change at once.
    pub async fn put_settings(
        &self,
        values: &[(String, String)],
        entry: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let sql = "INSERT INTO settings (name, value) VALUES ($1, $2) \
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        for (name, value) in values {
            on_tx!(&mut tx, |conn| sqlx::query(sql)
                .bind(name)
                .bind(value)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        audit::insert(&mut tx, entry).await?;
        tx.commit().await
    }

    /// Stores `value` unless the setting exists, and returns whichever is stored: two
    /// instances starting together end up with the same secret.
    pub async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
        let sql =
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(name)
            .bind(value)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        let sql = "SELECT value FROM settings WHERE name = $1";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(name)
            .fetch_one(pool)
            .await)?)
    }
}
