//! The lockout columns of the tables whose rows can sign in. Every change is one
//! atomic statement, so concurrent attempts on one or many instances cannot lose
//! a count (the count is never read, computed and written back).

use super::{Db, StoreResult, Tx, on_pool, on_tx};

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

/// The lockout rule as the statements need it.
#[derive(Debug, Clone, Copy)]
pub struct LockoutRule {
    /// Failures that lock the account (`i64::MAX` when lockout is off).
    pub failures: i64,
    /// When a lock taken now ends.
    pub locked_until: i64,
}

/// The SQL condition for "not locked at `$2`".
const OPEN: &str = "(locked_until IS NULL OR locked_until <= $2)";

impl Db {
    /// Reserves one attempt before the password is checked: the count goes up
    /// now, so a burst cannot get more checks in than the limit allows. An
    /// attempt that finds the count already at the limit (others still being
    /// checked, or a count left by an attempt that never finished) locks the
    /// account instead. True when this attempt may check the password.
    pub async fn reserve_sign_in_attempt(
        &self,
        table: AccountTable,
        id: i64,
        now: i64,
        rule: LockoutRule,
    ) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE {} SET \
               locked_until = CASE WHEN failed_sign_ins >= $3 THEN $4 ELSE locked_until END, \
               failed_sign_ins = CASE WHEN failed_sign_ins >= $3 THEN 0 ELSE failed_sign_ins + 1 END \
             WHERE id = $1 AND {OPEN} RETURNING locked_until",
            table.name()
        );
        let locked_until: Option<Option<i64>> = on_pool!(self, |pool| sqlx::query_scalar(&sql)
            .bind(id)
            .bind(now)
            .bind(rule.failures)
            .bind(rule.locked_until)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "reserve a sign-in attempt"))?;
        Ok(matches!(locked_until, Some(until) if until.is_none_or(|u| u <= now)))
    }

    /// A reserved attempt failed: its count stays, and reaching the limit
    /// locks the account. True when this failure locked it.
    pub async fn settle_failed_sign_in(
        &self,
        table: AccountTable,
        id: i64,
        now: i64,
        rule: LockoutRule,
    ) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE {} SET failed_sign_ins = 0, locked_until = $4 \
             WHERE id = $1 AND {OPEN} AND failed_sign_ins >= $3",
            table.name()
        );
        let locked = on_pool!(self, |pool| sqlx::query(&sql)
            .bind(id)
            .bind(now)
            .bind(rule.failures)
            .bind(rule.locked_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "settle a failed sign-in"))?;
        Ok(locked == 1)
    }

    /// A reserved attempt had the right password: it counts only while the
    /// account is not locked (a lock taken meanwhile wins). The count starts
    /// afresh; a sign-in (not a re-entered current password) keeps its time.
    /// True when the attempt stands.
    pub async fn settle_correct_password(
        &self,
        table: AccountTable,
        id: i64,
        now: i64,
        is_sign_in: bool,
    ) -> StoreResult<bool> {
        let signed_in_at = if is_sign_in {
            ", last_sign_in_at = $2"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE {} SET failed_sign_ins = 0, locked_until = NULL{signed_in_at} \
             WHERE id = $1 AND {OPEN}",
            table.name()
        );
        let done = on_pool!(self, |pool| sqlx::query(&sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "settle a successful sign-in"))?;
        Ok(done == 1)
    }
}

impl Db {
    /// A known device's right password while the account is locked: the
    /// sign-in time is kept, the lock and its count are left as they are.
    pub async fn record_sign_in_time(
        &self,
        table: AccountTable,
        id: i64,
        now: i64,
    ) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET last_sign_in_at = $2 WHERE id = $1",
            table.name()
        );
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "record a sign-in time"))?;
        Ok(())
    }

    /// A known device's wrong password while the account is locked: it counts
    /// (toward the next lock once this one ends). Returns the new count.
    pub async fn count_failed_sign_in(&self, table: AccountTable, id: i64) -> StoreResult<i64> {
        let sql = format!(
            "UPDATE {} SET failed_sign_ins = failed_sign_ins + 1 WHERE id = $1 \
             RETURNING failed_sign_ins",
            table.name()
        );
        on_pool!(self, |pool| sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_one(pool)
            .await)
        .map_err(|e| super::context(e, "count a failed sign-in"))
    }

    /// A reserved attempt had the right first factor: its reservation is given
    /// back, the rest of the count stays until the second factor settles it.
    /// True when the attempt stands (the account is not locked).
    pub async fn settle_first_factor(
        &self,
        table: AccountTable,
        id: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE {} SET failed_sign_ins = CASE WHEN failed_sign_ins > 0 \
               THEN failed_sign_ins - 1 ELSE 0 END \
             WHERE id = $1 AND {OPEN}",
            table.name()
        );
        let done = on_pool!(self, |pool| sqlx::query(&sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "settle a first factor"))?;
        Ok(done == 1)
    }
}

impl Tx {
    /// Clears the lockout (Unlock, a successful reset).
    pub async fn clear_lockout(&mut self, table: AccountTable, id: i64) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1",
            table.name()
        );
        on_tx!(self, |conn| sqlx::query(&sql)
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "clear a lockout"))?;
        Ok(())
    }

    /// Clears the lockouts of a set of accounts (a bulk Unlock's stretch).
    pub async fn clear_lockouts(&mut self, table: AccountTable, ids: &[i64]) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET failed_sign_ins = 0, locked_until = NULL WHERE id IN ({{ids}})",
            table.name()
        );
        self.execute_for_ids(&sql, ids, "clear lockouts").await?;
        Ok(())
    }
}

/// What sign-in reads of an account: its id and stored password hash. The only
/// statements that read the hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
}

impl Db {
    pub async fn credentials_by_email_key(
        &self,
        table: AccountTable,
        email_key: &str,
    ) -> StoreResult<Option<Credentials>> {
        let sql = format!(
            "SELECT id, password_hash FROM {} WHERE email_key = $1",
            table.name()
        );
        on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(email_key)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "read credentials by email"))
    }

    pub async fn credentials_by_id(
        &self,
        table: AccountTable,
        id: i64,
    ) -> StoreResult<Option<Credentials>> {
        let sql = format!(
            "SELECT id, password_hash FROM {} WHERE id = $1",
            table.name()
        );
        on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "read credentials by id"))
    }
}
