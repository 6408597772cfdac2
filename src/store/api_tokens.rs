use super::{CustomerRow, Db, StoreResult, Tx, on_pool, on_tx};

/// A live token's customer, and when the token was last used.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenOwner {
    #[sqlx(flatten)]
    pub customer: CustomerRow,
    pub token_last_used_at: Option<i64>,
}

/// A live token as the security page lists it (never its value or hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiTokenRow {
    pub id: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: i64,
}

/// The SQL condition for a token that still works: not revoked, not expired at
/// `now` (a placeholder), and issued under its customer's current security
/// stamp. Expects the aliases `t` (api_tokens) and `c` (customers).
pub(super) fn live_token(now: &str) -> String {
    format!("t.revoked_at IS NULL AND t.expires_at > {now} AND t.security_stamp = c.security_stamp")
}

impl Db {
    /// The customer owning a live token, and when the token was last used.
    pub async fn customer_by_api_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<TokenOwner>> {
        let sql = format!(
            "SELECT c.id, c.email, c.firstname, c.lastname, c.security_stamp, c.locale, \
             c.created_at, c.last_sign_in_at, c.failed_sign_ins, c.locked_until, c.api_token_count, \
             t.last_used_at AS token_last_used_at \
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

impl Db {
    /// Marks a token used, at most once per `every` seconds.
    pub async fn touch_api_token(&self, token_hash: &str, now: i64, every: i64) -> StoreResult<()> {
        let sql = "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 \
                   AND (last_used_at IS NULL OR last_used_at <= $3)";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(token_hash)
            .bind(now)
            .bind(now - every)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "touch an API token"))?;
        Ok(())
    }

    /// The customer's live tokens, newest first.
    pub async fn live_api_tokens(
        &self,
        customer_id: i64,
        now: i64,
    ) -> StoreResult<Vec<ApiTokenRow>> {
        let sql = format!(
            "SELECT t.id, t.created_at, t.last_used_at, t.expires_at \
             FROM api_tokens t JOIN customers c ON c.id = t.customer_id \
             WHERE t.customer_id = $1 AND {} ORDER BY t.created_at DESC, t.id DESC",
            live_token("$2")
        );
        on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(customer_id)
            .bind(now)
            .fetch_all(pool)
            .await)
        .map_err(|e| super::context(e, "list a customer's API tokens"))
    }
}

impl Tx {
    /// Stores a new API token (its hash) bound to the customer's current stamp.
    pub async fn insert_api_token(
        &mut self,
        customer: &CustomerRow,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO api_tokens (token_hash, customer_id, security_stamp, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(token_hash)
            .bind(customer.id)
            .bind(&customer.security_stamp)
            .bind(now)
            .bind(expires_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        let sql = "UPDATE customers SET api_token_count = api_token_count + 1 WHERE id = $1";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer.id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Revokes one of the customer's tokens by its row id; false when there
    /// was no such live token of theirs.
    pub async fn revoke_customer_api_token(
        &mut self,
        customer_id: i64,
        token_id: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE api_tokens SET revoked_at = $3 \
                   WHERE id = $2 AND customer_id = $1 AND revoked_at IS NULL";
        let revoked = on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer_id)
            .bind(token_id)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "revoke one API token"))?;
        if revoked == 1 {
            let sql = "UPDATE customers SET api_token_count = \
                       CASE WHEN api_token_count > 0 THEN api_token_count - 1 ELSE 0 END WHERE id = $1";
            on_tx!(self, |conn| sqlx::query(sql)
                .bind(customer_id)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))
            .map_err(|e| super::context(e, "count a revoked API token"))?;
        }
        Ok(revoked == 1)
    }

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

    /// Revokes every live API token of a set of customers; returns the owner
    /// of each token revoked (one entry per token), so each customer's count
    /// can be told.
    pub async fn revoke_api_tokens_of(
        &mut self,
        customer_ids: &[i64],
        now: i64,
    ) -> StoreResult<Vec<i64>> {
        let mut owners = Vec::new();
        for chunk in customer_ids.chunks(super::SET_CHUNK) {
            let ids = super::param_list(2, chunk.len());
            let sql = format!(
                "UPDATE api_tokens SET revoked_at = $1 WHERE customer_id IN ({ids}) \
                 AND revoked_at IS NULL RETURNING customer_id"
            );
            let revoked: Vec<i64> = on_tx!(self, |conn| {
                let mut q = sqlx::query_scalar(&sql).bind(now);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(conn).await
            })
            .map_err(|e| super::context(e, "revoke API tokens"))?;
            owners.extend(revoked);
        }
        self.execute_for_ids(
            "UPDATE customers SET api_token_count = 0 WHERE id IN ({ids})",
            customer_ids,
            "reset the API token count",
        )
        .await?;
        Ok(owners)
    }
}
