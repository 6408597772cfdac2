//! Failed sign-ins per client address, across every account (issue 14,
//! credential stuffing). Like the lockout columns, every change is one atomic
//! statement: an attempt reserves its place before the password is checked,
//! so a burst from one address on one or many instances gets no more checks
//! than the limit allows.

use super::{Db, StoreResult, on_patient, on_pool};

/// The per-address limit as the statements need it.
#[derive(Debug, Clone, Copy)]
pub struct IpFailureRule {
    /// Failures one address may have in a window (at least 1).
    pub failures: i64,
    /// How long a window lasts, from its first counted failure.
    pub window_seconds: i64,
}

/// A place in an address's failure count, reserved by one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpReservation {
    /// The window the attempt was counted in (its give-back must match it).
    pub window_start: i64,
    /// The count with this attempt; equal to the limit when it filled it.
    pub failures: i64,
}

impl Db {
    /// Counts one attempt from `ip_key` before its password is checked. A
    /// window that has ended starts afresh with this attempt. `None`: the
    /// address's window is full, and the attempt must be refused unchecked
    /// (and is not counted).
    pub async fn reserve_ip_sign_in(
        &self,
        ip_key: &str,
        now: i64,
        rule: IpFailureRule,
    ) -> StoreResult<Option<IpReservation>> {
        // `$3`: a window that started at or before it has ended.
        let sql = "INSERT INTO sign_in_ip_failures (ip_key, window_start, failures) \
                   VALUES ($1, $2, 1) \
                   ON CONFLICT (ip_key) DO UPDATE SET \
                     failures = CASE WHEN sign_in_ip_failures.window_start <= $3 THEN 1 \
                                ELSE sign_in_ip_failures.failures + 1 END, \
                     window_start = CASE WHEN sign_in_ip_failures.window_start <= $3 THEN $2 \
                                    ELSE sign_in_ip_failures.window_start END \
                   WHERE sign_in_ip_failures.window_start <= $3 \
                      OR sign_in_ip_failures.failures < $4 \
                   RETURNING window_start, failures";
        let row: Option<(i64, i64)> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(ip_key)
            .bind(now)
            .bind(now - rule.window_seconds)
            .bind(rule.failures)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "reserve a sign-in from an address"))?;
        Ok(row.map(|(window_start, failures)| IpReservation {
            window_start,
            failures,
        }))
    }

    /// A reserved attempt had the right password: its place is given back,
    /// unless its window has ended meanwhile (a new one is not touched).
    pub async fn give_back_ip_sign_in(
        &self,
        ip_key: &str,
        reservation: IpReservation,
    ) -> StoreResult<()> {
        let sql = "UPDATE sign_in_ip_failures SET failures = failures - 1 \
                   WHERE ip_key = $1 AND window_start = $2 AND failures > 0";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(ip_key)
            .bind(reservation.window_start)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "give back a sign-in from an address"))?;
        Ok(())
    }

    /// Failures counted for `ip_key` in its current window (0 once it ended).
    pub async fn ip_sign_in_failures(
        &self,
        ip_key: &str,
        now: i64,
        window_seconds: i64,
    ) -> StoreResult<i64> {
        let sql = "SELECT failures FROM sign_in_ip_failures \
                   WHERE ip_key = $1 AND window_start > $2";
        let count: Option<i64> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(ip_key)
            .bind(now - window_seconds)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "count sign-in failures of an address"))?;
        Ok(count.unwrap_or(0))
    }

    /// Forgets the windows that started before `before` (the janitor).
    pub async fn purge_ip_sign_in_failures(&self, before: i64) -> StoreResult<()> {
        let sql = "DELETE FROM sign_in_ip_failures WHERE window_start < $1";
        // A day of a botnet's addresses: not cut by the serving statement timeout.
        on_patient!(self, |pool| sqlx::query(sql)
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "purge sign-in failures of addresses"))?;
        Ok(())
    }
}
