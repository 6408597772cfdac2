//! The listable side of storefront sessions: one row per signed-in session,
//! beside tower-sessions' opaque record (see migration 0060).

use super::customers::COLUMNS;
use super::{CustomerRow, Db, StoreResult, Tx, on_pool, on_tx};

/// A new signed-in session.
pub struct NewCustomerSession<'a> {
    pub key_hash: &'a str,
    pub customer_id: i64,
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub now: i64,
}

/// One session as the security page lists it (never its key or id).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerSessionRow {
    pub id: i64,
    pub key_hash: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// The customer a session row belongs to, and when the row was last touched.
#[derive(Debug, Clone)]
pub struct SessionOwner {
    pub customer: CustomerRow,
    pub last_seen_at: i64,
}

impl Db {
    /// The customer signed in by the session with this key, if its row is there.
    pub async fn customer_by_session_key(
        &self,
        key_hash: &str,
    ) -> StoreResult<Option<SessionOwner>> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("c.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns}, s.last_seen_at FROM customer_sessions s \
             JOIN customers c ON c.id = s.customer_id WHERE s.key_hash = $1"
        );
        let row: Option<(CustomerRow, i64)> = on_pool!(self, |pool| {
            use sqlx::Row;
            sqlx::query(&sql)
                .bind(key_hash)
                .fetch_optional(pool)
                .await
                .and_then(|row| {
                    row.map(|r| {
                        let customer = <CustomerRow as sqlx::FromRow<_>>::from_row(&r)?;
                        Ok((customer, r.try_get("last_seen_at")?))
                    })
                    .transpose()
                })
        })
        .map_err(|e| super::context(e, "read a session's customer"))?;
        Ok(row.map(|(customer, last_seen_at)| SessionOwner {
            customer,
            last_seen_at,
        }))
    }

    /// Marks the session seen, at most once per `every` seconds (the
    /// condition keeps concurrent requests from writing twice).
    pub async fn touch_customer_session(
        &self,
        key_hash: &str,
        ip: &str,
        now: i64,
        every: i64,
    ) -> StoreResult<()> {
        let sql = "UPDATE customer_sessions SET last_seen_at = $2, ip = $3 \
                   WHERE key_hash = $1 AND last_seen_at <= $4";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(key_hash)
            .bind(now)
            .bind(ip)
            .bind(now - every)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "touch a session"))?;
        Ok(())
    }

    /// Remembers tower-sessions' id for a session row (its id changes when
    /// it is cycled), so ending the session can delete that record too.
    pub async fn set_customer_session_id(
        &self,
        key_hash: &str,
        session_id: &str,
    ) -> StoreResult<()> {
        let sql = "UPDATE customer_sessions SET session_id = $2 WHERE key_hash = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(key_hash)
            .bind(session_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "record a session id"))?;
        Ok(())
    }

    /// The customer's sessions active since `since` (last seen), newest first.
    pub async fn customer_sessions(
        &self,
        customer_id: i64,
        signed_in_since: i64,
        seen_since: i64,
    ) -> StoreResult<Vec<CustomerSessionRow>> {
        let sql = "SELECT id, key_hash, user_agent, ip, created_at, last_seen_at \
                   FROM customer_sessions \
                   WHERE customer_id = $1 AND created_at > $2 AND last_seen_at > $3 \
                   ORDER BY last_seen_at DESC, id DESC";
        on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(customer_id)
            .bind(signed_in_since)
            .bind(seen_since)
            .fetch_all(pool)
            .await)
        .map_err(|e| super::context(e, "list a customer's sessions"))
    }
}

impl Tx {
    pub async fn insert_customer_session(&mut self, s: &NewCustomerSession<'_>) -> StoreResult<()> {
        let sql = "INSERT INTO customer_sessions \
                   (key_hash, customer_id, user_agent, ip, created_at, last_seen_at) \
                   VALUES ($1, $2, $3, $4, $5, $5)";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(s.key_hash)
            .bind(s.customer_id)
            .bind(s.user_agent)
            .bind(s.ip)
            .bind(s.now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "insert a session"))?;
        Ok(())
    }

    /// Deletes session rows of the customer: the one with row id `only`, or
    /// every one but the one with key `keep`. Returns the tower-sessions ids
    /// of the rows deleted (to delete their records too).
    pub async fn delete_customer_sessions(
        &mut self,
        customer_id: i64,
        only: Option<i64>,
        keep: Option<&str>,
    ) -> StoreResult<Vec<Option<String>>> {
        let sql = "DELETE FROM customer_sessions WHERE customer_id = $1 \
                   AND ($2 IS NULL OR id = $2) AND ($3 IS NULL OR key_hash <> $3) \
                   RETURNING session_id";
        let sql = match self {
            // PostgreSQL must know the parameters' types where they stand alone.
            Tx::Postgres(_) => sql
                .replace("$2 IS NULL", "$2::BIGINT IS NULL")
                .replace("$3 IS NULL", "$3::TEXT IS NULL"),
            Tx::Sqlite(_) => sql.to_string(),
        };
        on_tx!(self, |conn| sqlx::query_scalar(&sql)
            .bind(customer_id)
            .bind(only)
            .bind(keep)
            .fetch_all(conn)
            .await)
        .map_err(|e| super::context(e, "delete sessions"))
    }

    /// Deletes every session row of a set of customers but the one with key
    /// `keep` (Force Sign In over a bulk job's stretch, or of one customer).
    pub async fn delete_sessions_of(
        &mut self,
        customer_ids: &[i64],
        keep: Option<&str>,
    ) -> StoreResult<()> {
        for chunk in customer_ids.chunks(super::SET_CHUNK) {
            let keep_is_null = match self {
                // PostgreSQL must know the parameter's type where it stands alone.
                Tx::Postgres(_) => "$1::TEXT IS NULL",
                Tx::Sqlite(_) => "$1 IS NULL",
            };
            let sql = format!(
                "DELETE FROM customer_sessions WHERE customer_id IN ({}) \
                 AND ({keep_is_null} OR key_hash <> $1)",
                super::param_list(2, chunk.len())
            );
            on_tx!(self, |conn| {
                let mut q = sqlx::query(&sql).bind(keep);
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(conn).await.map(|r| r.rows_affected())
            })
            .map_err(|e| super::context(e, "delete sessions"))?;
        }
        Ok(())
    }

    /// Deletes the customer's rows of sessions that have ended by age (idle
    /// since `seen_before`, or signed in before `signed_in_before`).
    pub async fn delete_stale_customer_sessions(
        &mut self,
        customer_id: i64,
        signed_in_before: i64,
        seen_before: i64,
    ) -> StoreResult<()> {
        let sql = "DELETE FROM customer_sessions WHERE customer_id = $1 \
                   AND (created_at <= $2 OR last_seen_at <= $3)";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(customer_id)
            .bind(signed_in_before)
            .bind(seen_before)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "delete stale sessions"))?;
        Ok(())
    }

    /// Deletes the session row with this key (signing out), returning the
    /// customer it belonged to.
    pub async fn delete_customer_session_by_key(
        &mut self,
        key_hash: &str,
    ) -> StoreResult<Option<i64>> {
        let sql = "DELETE FROM customer_sessions WHERE key_hash = $1 RETURNING customer_id";
        on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(key_hash)
            .fetch_optional(conn)
            .await)
        .map_err(|e| super::context(e, "delete a session"))
    }
}
