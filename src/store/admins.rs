use super::{Db, StoreResult, Tx, on_pool, on_tx};

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

pub struct NewAdmin<'a> {
    pub email: &'a str,
    pub email_key: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub security_stamp: &'a str,
    pub created_at: i64,
}

async fn insert_admin_in(tx: &mut Tx, a: &NewAdmin<'_>) -> StoreResult<i64> {
    let sql = "INSERT INTO admins (email, email_key, name, role, password_hash, security_stamp, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    Ok(on_tx!(tx, |conn| sqlx::query_scalar(sql)
        .bind(a.email)
        .bind(a.email_key)
        .bind(a.name)
        .bind(a.role)
        .bind(a.password_hash)
        .bind(a.security_stamp)
        .bind(a.created_at)
        .fetch_one(conn)
        .await)?)
}

impl Db {
    /// Inserts an administrator; `StoreError::Duplicate` when the email key is taken.
    pub async fn insert_admin(&self, admin: &NewAdmin<'_>) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = insert_admin_in(&mut tx, admin).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Inserts the first administrator if the setup token (`setting` = `token_hash`)
    /// is still there and no administrator exists; the token is deleted in the
    /// same transaction, so of two racing submissions one wins. `None` otherwise.
    pub async fn insert_first_admin(
        &self,
        setting: &str,
        token_hash: &str,
        admin: &NewAdmin<'_>,
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
            return Ok(None); // dropping the transaction rolls it back
        }
        let id = insert_admin_in(&mut tx, admin).await?;
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
}
