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

/// Lower-cased search keys kept beside the names, so grid search and sort use plain indexes.
pub fn name_keys(firstname: &str, lastname: &str) -> (String, String) {
    (
        format!("{} {}", firstname, lastname).to_lowercase(),
        lastname.to_lowercase(),
    )
}

impl Db {
    /// Inserts a customer; `StoreError::Duplicate` when the email key is taken.
    pub async fn insert_customer(&self, c: &NewCustomer<'_>) -> StoreResult<i64> {
        let (name_key, lastname_key) = name_keys(c.firstname, c.lastname);
        let sql = "INSERT INTO customers (email, email_key, firstname, lastname, name_key, lastname_key, \
                   password_hash, security_stamp, locale, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
        let id: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(c.email)
            .bind(c.email_key)
            .bind(c.firstname)
            .bind(c.lastname)
            .bind(&name_key)
            .bind(&lastname_key)
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

    /// Stores the failure count and, when the limit was reached, the lock.
    pub async fn record_customer_failed_sign_in(
        &self,
        id: i64,
        failed_sign_ins: i64,
        locked_until: Option<i64>,
    ) -> StoreResult<()> {
        let sql = "UPDATE customers SET failed_sign_ins = $2, locked_until = $3 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(failed_sign_ins)
            .bind(locked_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn record_customer_sign_in(&self, id: i64, now: i64) -> StoreResult<()> {
        let sql = "UPDATE customers SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = $2 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
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

    /// Sets the customer's preferred language for emails.
    pub async fn set_customer_locale(&self, id: i64, locale: &str) -> StoreResult<()> {
        let sql = "UPDATE customers SET locale = $2 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(locale)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
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

/// Sortable grid columns; each is served by an index ending in `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridSort {
    Id,
    Name,
    Email,
    CreatedAt,
    LastSignIn,
    Locked,
    ApiTokens,
}

impl GridSort {
    fn column(self) -> &'static str {
        match self {
            GridSort::Id => "id",
            GridSort::Name => "name_key",
            GridSort::Email => "email_key",
            GridSort::CreatedAt => "created_at",
            GridSort::LastSignIn => "last_sign_in_at",
            GridSort::Locked => "locked_until",
            GridSort::ApiTokens => "api_token_count",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CustomerGridQuery {
    /// Lower-cased keyword: a prefix of the email, the full name or the last name.
    pub keyword: Option<String>,
    pub sort: GridSort,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    pub now: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerGridRow {
    pub id: i64,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub locked_until: Option<i64>,
    pub active_api_tokens: i64,
}

/// The upper bound of a prefix range: "abc" → "abd", so `key >= 'abc' AND key < 'abd'`
/// uses the index on both backends without LIKE and its collation rules.
fn prefix_upper_bound(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only reachable for a prefix made of char::MAX; nothing sorts after it.
    String::from(char::MAX)
}

impl Db {
    /// One page of the All Customers grid. Keyword search is a prefix match on
    /// email, full name or last name, each range served by its own index. The page
    /// is cut first, then the token counts are taken for its rows only.
    pub async fn customer_grid(&self, q: &CustomerGridQuery) -> StoreResult<Vec<CustomerGridRow>> {
        let dir = if q.descending { "DESC" } else { "ASC" };
        let col = q.sort.column();
        let filter = if q.keyword.is_some() {
            KEYWORD_FILTER
        } else {
            ""
        };
        let sql = format!(
            "SELECT c.id, c.email, c.firstname, c.lastname, c.created_at, c.last_sign_in_at, c.locked_until, \
             (SELECT COUNT(*) FROM api_tokens t WHERE t.customer_id = c.id AND t.revoked_at IS NULL \
              AND t.expires_at > $1 AND t.security_stamp = c.security_stamp) AS active_api_tokens \
             FROM (SELECT * FROM customers {filter} ORDER BY {col} {dir}, id {dir} LIMIT $2 OFFSET $3) c \
             ORDER BY c.{col} {dir}, c.id {dir}"
        );
        Ok(on_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql)
                .bind(q.now)
                .bind(q.limit)
                .bind(q.offset);
            if let Some(keyword) = &q.keyword {
                query = query
                    .bind(keyword.clone())
                    .bind(prefix_upper_bound(keyword));
            }
            query.fetch_all(pool).await
        })?)
    }

    /// The number of customers matching the keyword; with no keyword on a large
    /// PostgreSQL table, the planner's estimate (flagged as such) instead of a scan.
    pub async fn customer_count(&self, keyword: Option<&str>) -> StoreResult<(i64, bool)> {
        if keyword.is_none()
            && let Db::Postgres(pool) = self
        {
            let estimate: Option<f32> = sqlx::query_scalar(
                "SELECT reltuples FROM pg_class WHERE oid = 'customers'::regclass",
            )
            .fetch_optional(pool)
            .await?;
            if let Some(estimate) = estimate.filter(|e| *e >= 100_000.0) {
                return Ok((estimate as i64, true));
            }
        }
        let filter = if keyword.is_some() {
            KEYWORD_FILTER
        } else {
            ""
        };
        let sql = format!("SELECT COUNT(*) FROM customers {filter}");
        let count: i64 = on_pool!(self, |pool| {
            let mut query = sqlx::query_scalar(&sql);
            if let Some(keyword) = keyword {
                // $1..$3 are the grid's own parameters; counting reuses the same filter text.
                query = query
                    .bind(0_i64)
                    .bind(0_i64)
                    .bind(0_i64)
                    .bind(keyword.to_string())
                    .bind(prefix_upper_bound(keyword));
            }
            query.fetch_one(pool).await
        })?;
        Ok((count, false))
    }
}

const KEYWORD_FILTER: &str = "WHERE (email_key >= $4 AND email_key < $5) \
     OR (name_key >= $4 AND name_key < $5) \
     OR (lastname_key >= $4 AND lastname_key < $5)";

/// A generated customer for `demo-data`.
pub struct DemoCustomer {
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub locked_until: Option<i64>,
    pub locale: &'static str,
    pub api_tokens: i64,
}

impl Db {
    /// Inserts one batch of demo customers (and their API tokens) in one transaction.
    pub async fn insert_demo_customers(
        &self,
        batch: &[DemoCustomer],
        password_hash: &str,
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO customers (email, email_key, firstname, lastname, name_key, lastname_key, \
                 password_hash, security_stamp, locale, created_at, last_sign_in_at, locked_until, api_token_count) ",
            );
            insert.push_values(batch, |mut row, c| {
                let (name_key, lastname_key) = name_keys(&c.firstname, &c.lastname);
                row.push_bind(c.email.clone())
                    .push_bind(c.email.to_ascii_lowercase())
                    .push_bind(c.firstname.clone())
                    .push_bind(c.lastname.clone())
                    .push_bind(name_key)
                    .push_bind(lastname_key)
                    .push_bind(password_hash.to_string())
                    .push_bind(crate::secrets::random_token())
                    .push_bind(c.locale)
                    .push_bind(c.created_at)
                    .push_bind(c.last_sign_in_at)
                    .push_bind(c.locked_until)
                    .push_bind(c.api_tokens);
            });
            insert.push(" RETURNING id, security_stamp");
            let ids: Vec<(i64, String)> = insert.build_query_as().fetch_all(&mut *conn).await?;
            let tokens: Vec<(i64, String)> = ids
                .into_iter()
                .zip(batch)
                .flat_map(|((id, stamp), c)| {
                    std::iter::repeat_n((id, stamp), c.api_tokens as usize)
                })
                .collect();
            if !tokens.is_empty() {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO api_tokens (token_hash, customer_id, security_stamp, created_at, expires_at) ",
                );
                insert.push_values(&tokens, |mut row, (id, stamp)| {
                    row.push_bind(crate::secrets::token_hash(&crate::secrets::random_token()))
                        .push_bind(*id)
                        .push_bind(stamp.clone())
                        .push_bind(now)
                        .push_bind(now + 30 * 24 * 3600);
                });
                insert.build().execute(&mut *conn).await?;
            }
            Ok::<(), sqlx::Error>(())
        })?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn prefix_bound_is_the_next_string() {
        assert_eq!(prefix_upper_bound("abc"), "abd");
        assert_eq!(prefix_upper_bound("a"), "b");
        assert!(prefix_upper_bound("jan").as_str() > "jan zzz");
    }
}
