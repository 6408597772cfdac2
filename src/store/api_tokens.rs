use super::{CustomerRow, Db, StoreResult, on_pool};

/// The SQL condition for a token that still works: not revoked, not expired at
/// `now` (a placeholder), and issued under its customer's current security
/// stamp. Expects the aliases `t` (api_tokens) and `c` (customers).
pub(super) fn live_token(now: &str) -> String {
    format!("t.revoked_at IS NULL AND t.expires_at > {now} AND t.security_stamp = c.security_stamp")
}

impl Db {
    /// Stores a new API token (its hash) bound to the customer's current stamp.
    pub async fn insert_api_token(
        &self,
        customer: &CustomerRow,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let sql = "INSERT INTO api_tokens (token_hash, customer_id, security_stamp, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        super::on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(token_hash)
            .bind(customer.id)
            .bind(&customer.security_stamp)
            .bind(now)
            .bind(expires_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        let sql = "UPDATE customers SET api_token_count = api_token_count + 1 WHERE id = $1";
        super::on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(customer.id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await
    }

    /// The customer owning a live token.
    pub async fn customer_by_api_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<CustomerRow>> {
        let sql = format!(
            "SELECT c.id, c.email, c.firstname, c.lastname, c.password_hash, c.security_stamp, c.locale, \
             c.created_at, c.last_sign_in_at, c.failed_sign_ins, c.locked_until, c.api_token_count \
             FROM api_tokens t JOIN customers c ON c.id = t.customer_id \
             WHERE t.token_hash = $1 AND {}",
            live_token("$2")
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)?)
    }

    /// How many of the customer's tokens are live (what the customer view shows).
    pub async fn active_api_token_count(&self, customer_id: i64, now: i64) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM api_tokens t JOIN customers c ON c.id = t.customer_id \
             WHERE t.customer_id = $1 AND {}",
            live_token("$2")
        );
        Ok(on_pool!(self, |pool| sqlx::query_scalar(&sql)
            .bind(customer_id)
            .bind(now)
            .fetch_one(pool)
            .await)?)
    }
}
