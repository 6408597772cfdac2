use super::{CustomerRow, Db, StoreResult, Tx, on_pool, on_tx};

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
            "SELECT c.id, c.email, c.firstname, c.lastname, c.security_stamp, c.locale, \
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

    /// Revokes one token; the customer's token count follows.
    pub async fn revoke_api_token(&self, token_hash: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let sql = "UPDATE api_tokens SET revoked_at = $2 \
                   WHERE token_hash = $1 AND revoked_at IS NULL RETURNING customer_id";
        let customer_id: Option<i64> = on_tx!(&mut tx, |conn| sqlx::query_scalar(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(conn)
            .await)
        .map_err(|e| super::context(e, "revoke an API token"))?;
        if let Some(id) = customer_id {
            let sql = "UPDATE customers SET api_token_count = \
                       CASE WHEN api_token_count > 0 THEN api_token_count - 1 ELSE 0 END WHERE id = $1";
            on_tx!(&mut tx, |conn| sqlx::query(sql)
                .bind(id)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))
            .map_err(|e| super::context(e, "count a revoked API token"))?;
        }
        tx.commit().await
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

impl Tx {
    /// Revokes every live API token of the customer; returns how many.
    pub async fn revoke_api_tokens(&mut self, customer_id: i64, now: i64) -> StoreResult<u64> {
        let sql =
            "UPDATE api_tokens SET revoked_at = $2 WHERE customer_id = $1 AND revoked_at IS NULL";
        let revoked = on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer_id)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "revoke API tokens"))?;
        let sql = "UPDATE customers SET api_token_count = 0 WHERE id = $1";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer_id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "reset the API token count"))?;
        Ok(revoked)
    }
}
