use super::{Db, StoreResult, on_pool};

/// The tables whose rows can sign in; both carry the same lockout columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountTable {
    Customers,
    Admins,
}

impl AccountTable {
    fn name(self) -> &'static str {
        match self {
            AccountTable::Customers => "customers",
            AccountTable::Admins => "admins",
        }
    }
}

impl Db {
    /// Stores the failure count and, when the limit was reached, the lock.
    pub async fn record_failed_sign_in(
        &self,
        table: AccountTable,
        id: i64,
        failed_sign_ins: i64,
        locked_until: Option<i64>,
    ) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET failed_sign_ins = $2, locked_until = $3 WHERE id = $1",
            table.name()
        );
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(id)
            .bind(failed_sign_ins)
            .bind(locked_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// A successful sign-in: the count starts afresh and the time is kept.
    pub async fn record_sign_in(&self, table: AccountTable, id: i64, now: i64) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = $2 WHERE id = $1",
            table.name()
        );
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
