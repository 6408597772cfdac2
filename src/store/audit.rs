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

    /// Several entries, a multi-row INSERT per chunk (a bulk job's stretch).
    pub async fn insert_audits(&mut self, entries: &[&AuditEntry]) -> StoreResult<()> {
        for chunk in entries.chunks(super::SET_CHUNK) {
            let sql = format!(
                "INSERT INTO audit_log (created_at, admin_id, admin_email, action, customer_id, client_ip, detail) \
                 VALUES {}",
                super::value_rows(chunk.len(), 7, &[])
            );
            on_tx!(self, |conn| {
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q
                        .bind(e.at)
                        .bind(e.admin_id)
                        .bind(&e.admin_email)
                        .bind(e.action)
                        .bind(e.customer_id)
                        .bind(&e.client_ip)
                        .bind(&e.detail);
                }
                q.execute(conn).await.map(|r| r.rows_affected())
            })
            .map_err(|e| super::context(e, "write audit entries"))?;
        }
        Ok(())
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
        let filter = AuditFilter {
            customer_id,
            ..AuditFilter::default()
        };
        self.audit_search(&filter, before_id, limit).await
    }

    /// The entries that match `filter`, newest first, older than `before_id`.
    pub async fn audit_search(
        &self,
        filter: &AuditFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let mut conditions = vec!["id < $1".to_string()];
        let mut next = 3;
        let mut placeholder = || {
            next += 1;
            format!("${}", next - 1)
        };
        if filter.admin_email.is_some() {
            conditions.push(format!("LOWER(admin_email) = LOWER({})", placeholder()));
        }
        if filter.action.is_some() {
            conditions.push(format!("action = {}", placeholder()));
        }
        if filter.customer_id.is_some() {
            conditions.push(format!("customer_id = {}", placeholder()));
        }
        if filter.from.is_some() {
            conditions.push(format!("created_at >= {}", placeholder()));
        }
        if filter.to.is_some() {
            conditions.push(format!("created_at < {}", placeholder()));
        }
        let sql = format!(
            "SELECT id, created_at, admin_email, action, customer_id, client_ip, detail FROM audit_log \
             WHERE {} ORDER BY id DESC LIMIT $2",
            conditions.join(" AND ")
        );
        on_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql)
                .bind(before_id.unwrap_or(i64::MAX))
                .bind(limit);
            if let Some(email) = &filter.admin_email {
                query = query.bind(email.clone());
            }
            if let Some(action) = &filter.action {
                query = query.bind(action.clone());
            }
            if let Some(id) = filter.customer_id {
                query = query.bind(id);
            }
            if let Some(from) = filter.from {
                query = query.bind(from);
            }
            if let Some(to) = filter.to {
                query = query.bind(to);
            }
            query.fetch_all(pool).await
        })
        .map_err(|e| super::context(e, "search the audit log"))
    }
}

/// What the audit page and its export are filtered by; `None` is "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub admin_email: Option<String>,
    pub action: Option<String>,
    pub customer_id: Option<i64>,
    /// From this unix time on…
    pub from: Option<i64>,
    /// …until before this one.
    pub to: Option<i64>,
}
