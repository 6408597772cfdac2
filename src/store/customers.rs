use super::{AuditEntry, Db, NewMail, StoreResult, Tx, audit, on_pool, on_tx, outbox};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerRow {
    pub id: i64,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    pub password_hash: String,
    pub security_stamp: String,
    pub locale: String,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<i64>,
    pub api_token_count: i64,
}

const COLUMNS: &str = "id, email, firstname, lastname, password_hash, security_stamp, locale, \
     created_at, last_sign_in_at, failed_sign_ins, locked_until, api_token_count";

pub struct NewCustomer<'a> {
    pub email: &'a str,
    pub email_key: &'a str,
    pub firstname: &'a str,
    pub lastname: &'a str,
    pub password_hash: &'a str,
    pub security_stamp: &'a str,
    pub locale: &'a str,
    pub created_at: i64,
}

/// Lower-cased search keys kept beside the names, so grid search and sort use
/// plain indexes: "Jan de Vries" is found by "jan d…", "de vr…" and "vries".
pub struct NameKeys {
    /// "jan de vries"
    pub name: String,
    /// "de vries"
    pub lastname: String,
    /// "vries": the last word of the last name, past particles like "de" or "van den".
    pub surname: String,
}

pub fn name_keys(firstname: &str, lastname: &str) -> NameKeys {
    let lastname = lastname.to_lowercase();
    NameKeys {
        name: format!("{} {}", firstname.to_lowercase(), lastname),
        surname: lastname.split_whitespace().last().unwrap_or("").to_string(),
        lastname,
    }
}

impl Db {
    /// Inserts a customer; `StoreError::Duplicate` when the email key is taken.
    pub async fn insert_customer(&self, c: &NewCustomer<'_>) -> StoreResult<i64> {
        let keys = name_keys(c.firstname, c.lastname);
        let sql = "INSERT INTO customers (email, email_key, firstname, lastname, name_key, lastname_key, \
                   surname_key, password_hash, security_stamp, locale, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id";
        let id: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(c.email)
            .bind(c.email_key)
            .bind(c.firstname)
            .bind(c.lastname)
            .bind(&keys.name)
            .bind(&keys.lastname)
            .bind(&keys.surname)
            .bind(c.password_hash)
            .bind(c.security_stamp)
            .bind(c.locale)
            .bind(c.created_at)
            .fetch_one(pool)
            .await)?;
        Ok(id)
    }

    pub async fn customer_by_email_key(&self, email_key: &str) -> StoreResult<Option<CustomerRow>> {
        let sql = format!("SELECT {COLUMNS} FROM customers WHERE email_key = $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(email_key)
            .fetch_optional(pool)
            .await)?)
    }

    pub async fn customer_by_id(&self, id: i64) -> StoreResult<Option<CustomerRow>> {
        let sql = format!("SELECT {COLUMNS} FROM customers WHERE id = $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Sets a new password and rotates the security stamp, which ends every session
    /// and API token; outstanding reset links die with it. With `unlock` the lockout
    /// is cleared too (a successful reset). The notice mail is queued in the same
    /// transaction.
    pub async fn set_customer_password(
        &self,
        id: i64,
        password_hash: &str,
        security_stamp: &str,
        now: i64,
        unlock: bool,
        mail: &NewMail,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        set_password_in(&mut tx, id, password_hash, security_stamp, now, unlock).await?;
        outbox::enqueue(&mut tx, mail, now).await?;
        tx.commit().await
    }

    pub async fn unlock_customer(&self, id: i64, audit_entry: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let sql = "UPDATE customers SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1";
        on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        audit::insert(&mut tx, audit_entry).await?;
        tx.commit().await
    }

    /// Force Sign In: revokes every API token and rotates the stamp, which ends
    /// every storefront session. Idempotent.
    pub async fn force_customer_sign_out(
        &self,
        id: i64,
        security_stamp: &str,
        now: i64,
        audit_entry: &AuditEntry,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let revoked = revoke_tokens_and_rotate(&mut tx, id, security_stamp, now).await?;
        audit::insert(&mut tx, audit_entry).await?;
        tx.commit().await?;
        Ok(revoked)
    }
}

pub(super) async fn set_password_in(
    tx: &mut Tx,
    id: i64,
    password_hash: &str,
    security_stamp: &str,
    now: i64,
    unlock: bool,
) -> StoreResult<()> {
    let sql = if unlock {
        "UPDATE customers SET password_hash = $2, failed_sign_ins = 0, locked_until = NULL WHERE id = $1"
    } else {
        "UPDATE customers SET password_hash = $2 WHERE id = $1"
    };
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(id)
        .bind(password_hash)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    let sql = "DELETE FROM password_reset_tokens WHERE customer_id = $1";
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    revoke_tokens_and_rotate(tx, id, security_stamp, now).await?;
    Ok(())
}

async fn revoke_tokens_and_rotate(
    tx: &mut Tx,
    id: i64,
    security_stamp: &str,
    now: i64,
) -> StoreResult<u64> {
    let sql = "UPDATE api_tokens SET revoked_at = $2 WHERE customer_id = $1 AND revoked_at IS NULL";
    let revoked = on_tx!(tx, |conn| sqlx::query(sql)
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    let sql = "UPDATE customers SET security_stamp = $2, api_token_count = 0 WHERE id = $1";
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(id)
        .bind(security_stamp)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(revoked)
}
