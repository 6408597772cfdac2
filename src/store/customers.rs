use super::{Db, StoreResult, Tx, on_pool, on_tx};

/// A customer as every page and use case sees it. The password hash is not
/// here: only sign-in reads it (`Db::credentials_by_email_key`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerRow {
    pub id: i64,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    pub security_stamp: String,
    pub locale: String,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<i64>,
    pub api_token_count: i64,
}

pub(super) const COLUMNS: &str = "id, email, firstname, lastname, security_stamp, locale, \
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
}

impl Tx {
    pub async fn set_password_hash(&mut self, id: i64, password_hash: &str) -> StoreResult<()> {
        let sql = "UPDATE customers SET password_hash = $2 WHERE id = $1";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(password_hash)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "set a password hash"))?;
        Ok(())
    }

    /// A new security stamp for each of a set of customers, `(id, stamp)`:
    /// one UPDATE per chunk, joined to the list of new stamps.
    pub async fn rotate_security_stamps(&mut self, stamps: &[(i64, String)]) -> StoreResult<()> {
        for chunk in stamps.chunks(super::SET_CHUNK) {
            let casts: &[&str] = match self {
                // In VALUES a bare parameter is text; the id must meet a BIGINT.
                Tx::Postgres(_) => &["::BIGINT", "::TEXT"],
                Tx::Sqlite(_) => &[],
            };
            let sql = format!(
                "UPDATE customers SET security_stamp = v.column2 \
                 FROM (VALUES {}) AS v WHERE customers.id = v.column1",
                super::value_rows(chunk.len(), 2, casts)
            );
            on_tx!(self, |conn| {
                let mut q = sqlx::query(&sql);
                for (id, stamp) in chunk {
                    q = q.bind(id).bind(stamp);
                }
                q.execute(conn).await.map(|r| r.rows_affected())
            })
            .map_err(|e| super::context(e, "rotate security stamps"))?;
        }
        Ok(())
    }
}
