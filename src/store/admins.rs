use super::{Db, StoreResult, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub security_stamp: String,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<i64>,
}

const COLUMNS: &str = "id, email, name, role, password_hash, security_stamp, created_at, \
     last_sign_in_at, failed_sign_ins, locked_until";

impl Db {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_admin(
        &self,
        email: &str,
        email_key: &str,
        name: &str,
        role: &str,
        password_hash: &str,
        security_stamp: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let sql = "INSERT INTO admins (email, email_key, name, role, password_hash, security_stamp, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(email)
            .bind(email_key)
            .bind(name)
            .bind(role)
            .bind(password_hash)
            .bind(security_stamp)
            .bind(now)
            .fetch_one(pool)
            .await)?)
    }

    /// Inserts the first administrator if the setup token (`setting` = `token_hash`)
    /// is still there and no administrator exists; the token is deleted in the
    /// same transaction. `None` when either condition failed.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_first_admin(
        &self,
        setting: &str,
        token_hash: &str,
        email: &str,
        email_key: &str,
        name: &str,
        role: &str,
        password_hash: &str,
        security_stamp: &str,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.begin().await?;
        let sql = "DELETE FROM settings WHERE name = $1 AND value = $2";
        let used = on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(setting)
            .bind(token_hash)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        let existing: i64 = on_tx!(&mut tx, |conn| sqlx::query_scalar(
            "SELECT COUNT(*) FROM admins"
        )
        .fetch_one(conn)
        .await)?;
        if used != 1 || existing > 0 {
            return Ok(None); // rolled back
        }
        let sql = "INSERT INTO admins (email, email_key, name, role, password_hash, security_stamp, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
        let id: i64 = on_tx!(&mut tx, |conn| sqlx::query_scalar(sql)
            .bind(email)
            .bind(email_key)
            .bind(name)
            .bind(role)
            .bind(password_hash)
            .bind(security_stamp)
            .bind(now)
            .fetch_one(conn)
            .await)?;
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn admin_count(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM admins"
        )
        .fetch_one(pool)
        .await)?)
    }

    pub async fn admin_by_email_key(&self, email_key: &str) -> StoreResult<Option<AdminRow>> {
        let sql = format!("SELECT {COLUMNS} FROM admins WHERE email_key = $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(email_key)
            .fetch_optional(pool)
            .await)?)
    }

    pub async fn admin_by_id(&self, id: i64) -> StoreResult<Option<AdminRow>> {
        let sql = format!("SELECT {COLUMNS} FROM admins WHERE id = $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    pub async fn record_admin_failed_sign_in(
        &self,
        id: i64,
        failed_sign_ins: i64,
        locked_until: Option<i64>,
    ) -> StoreResult<()> {
        let sql = "UPDATE admins SET failed_sign_ins = $2, locked_until = $3 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(failed_sign_ins)
            .bind(locked_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn record_admin_sign_in(&self, id: i64, now: i64) -> StoreResult<()> {
        let sql = "UPDATE admins SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = $2 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
