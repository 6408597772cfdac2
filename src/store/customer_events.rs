//! The customer's security timeline: events written in the transaction of the
//! change they record, and the customer's mail read beside them.

use super::{Db, StoreResult, Tx, on_pool, on_tx};

/// One timeline entry. `detail` names how or where (never a token or link).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerEventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub detail: String,
    pub ip: Option<String>,
}

/// One mail sent to the customer, as the timeline shows it (never a body).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerMailRow {
    pub id: i64,
    pub created_at: i64,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

/// One event to write among several.
#[derive(Debug, Clone, Copy)]
pub struct NewCustomerEvent<'a> {
    pub customer_id: i64,
    pub at: i64,
    pub kind: &'a str,
    pub detail: &'a str,
    pub ip: Option<&'a str>,
}

impl Tx {
    pub async fn insert_customer_event(
        &mut self,
        customer_id: i64,
        at: i64,
        kind: &str,
        detail: &str,
        ip: Option<&str>,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO customer_events (customer_id, at, kind, detail, ip) \
                   VALUES ($1, $2, $3, $4, $5)";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer_id)
            .bind(at)
            .bind(kind)
            .bind(detail)
            .bind(ip)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "record a customer event"))?;
        Ok(())
    }

    /// Several events, a multi-row INSERT per chunk (a bulk job's stretch).
    pub async fn insert_customer_events(
        &mut self,
        events: &[NewCustomerEvent<'_>],
    ) -> StoreResult<()> {
        for chunk in events.chunks(super::SET_CHUNK) {
            let sql = format!(
                "INSERT INTO customer_events (customer_id, at, kind, detail, ip) VALUES {}",
                super::value_rows(chunk.len(), 5, &[])
            );
            on_tx!(self, |conn| {
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q
                        .bind(e.customer_id)
                        .bind(e.at)
                        .bind(e.kind)
                        .bind(e.detail)
                        .bind(e.ip);
                }
                q.execute(conn).await.map(|r| r.rows_affected())
            })
            .map_err(|e| super::context(e, "record customer events"))?;
        }
        Ok(())
    }
}

impl Db {
    /// The newest `limit` events from `offset` on.
    pub async fn customer_events(
        &self,
        customer_id: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<CustomerEventRow>> {
        let sql = "SELECT id, at, kind, detail, ip FROM customer_events WHERE customer_id = $1 \
                   ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3";
        on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(customer_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)
        .map_err(|e| super::context(e, "read customer events"))
    }

    /// The newest `limit` mails to `recipient` from `offset` on.
    pub async fn customer_mail(
        &self,
        recipient: &str,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<CustomerMailRow>> {
        let sql = "SELECT id, created_at, kind, status, attempts, last_error, sent_at \
                   FROM mail_outbox WHERE recipient = $1 AND kind <> 'admin_activation' \
                   ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3";
        on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(recipient)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)
        .map_err(|e| super::context(e, "read a customer's mail"))
    }
}
