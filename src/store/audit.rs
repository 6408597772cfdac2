use super::{Db, StoreResult, Tx, on_pool, on_tx};

/// One admin action, written in the same transaction as the action itself.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: i64,
    pub admin_id: Option<i64>,
    pub admin_email: String,
    pub action: &'static str,
    pub customer_id: Option<i64>,
    pub client_ip: String,
    pub detail: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub created_at: i64,
    pub admin_email: String,
    pub action: String,
    pub customer_id: Option<i64>,
    pub client_ip: String,
    pub detail: String,
}

impl Tx {
    pub async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        insert(self, entry).await
    }
}

pub(super) async fn insert(tx: &mut Tx, e: &AuditEntry) -> StoreResult<()> {
    let sql = "INSERT INTO audit_log (created_at, admin_id, admin_email, action, customer_id, client_ip, detail) \
               VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(e.at)
        .bind(e.admin_id)
        .bind(&e.admin_email)
        .bind(e.action)
        .bind(e.customer_id)
        .bind(&e.client_ip)
        .bind(&e.detail)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

impl Db {
    pub async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert(&mut tx, entry).await?;
        tx.commit().await
    }

    /// Newest first; `before_id` pages backwards without OFFSET.
    pub async fn audit_page(
        &self,
        customer_id: Option<i64>,
        before_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let filter = if customer_id.is_some() {
            "AND customer_id = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id, created_at, admin_email, action, customer_id, client_ip, detail FROM audit_log \
             WHERE id < $1 {filter} ORDER BY id DESC LIMIT $2"
        );
        Ok(on_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql)
                .bind(before_id.unwrap_or(i64::MAX))
                .bind(limit);
            if let Some(id) = customer_id {
                query = query.bind(id);
            }
            query.fetch_all(pool).await
        })?)
    }
}
