//! Reads the admin pages need beyond the grid itself.

use super::{Db, StoreResult, on_pool};

impl Db {
    /// The customer's API tokens that still work: not revoked, not expired, and
    /// issued under the customer's current security stamp (the same test as
    /// `customer_by_api_token`, so the customer view never overstates).
    pub async fn active_api_token_count(&self, customer_id: i64, now: i64) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM api_tokens t JOIN customers c ON c.id = t.customer_id \
                   WHERE t.customer_id = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 \
                   AND t.security_stamp = c.security_stamp";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(customer_id)
            .bind(now)
            .fetch_one(pool)
            .await)?)
    }
}
