use super::{Db, StoreResult, Tx, on_pool, on_tx};

/// An administrator as the domain reads one: never the password hash or the
/// TOTP secret (sign-in and two-factor read those through their own statements).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub security_stamp: String,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<i64>,
    /// 0: disabled.
    pub active: i64,
    /// 1: a confirmed second factor.
    pub two_factor: i64,
    /// 0: invited, the activation link not used yet (no password).
    pub activated: i64,
}

const COLUMNS: &str = "id, email, name, role, security_stamp, created_at, \
     last_sign_in_at, failed_sign_ins, locked_until, active, \
     CAST(CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS two_factor, \
     CAST(CASE WHEN password_hash = '' THEN 0 ELSE 1 END AS BIGINT) AS activated";

/// The SQL condition for an administrator who can sign in with everything.
const ACTIVE_ADMINISTRATOR: &str = "role = 'administrator' AND active = 1 AND password_hash <> ''";

pub struct NewAdmin<'a> {
    pub email: &'a str,
    pub email_key: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub security_stamp: &'a str,
    pub created_at: i64,
}

pub(super) async fn insert_admin_in(tx: &mut Tx, a: &NewAdmin<'_>) -> StoreResult<i64> {
    let sql = "INSERT INTO admins (email, email_key, name, role, password_hash, security_stamp, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    Ok(on_tx!(tx, |conn| sqlx::query_scalar(sql)
        .bind(a.email)
        .bind(a.email_key)
        .bind(a.name)
        .bind(a.role)
        .bind(a.password_hash)
        .bind(a.security_stamp)
        .bind(a.created_at)
        .fetch_one(conn)
        .await)?)
}

impl Db {
    /// Inserts an administrator; `StoreError::Duplicate` when the email key is taken.
    pub async fn insert_admin(&self, admin: &NewAdmin<'_>) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = insert_admin_in(&mut tx, admin).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Inserts the first administrator if the setup token (`setting` = `token_hash`)
    /// is still there and no administrator exists; the token is deleted in the
    /// same transaction, so of two racing submissions one wins. `None` otherwise.
    pub async fn insert_first_admin(
        &self,
        setting: &str,
        token_hash: &str,
        admin: &NewAdmin<'_>,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.begin().await?;
        let sql = "DELETE FROM settings WHERE name = $1 AND value = $2";
        let used = on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(setting)
            .bind(token_hash)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        let existing: i64 = on_tx!(&mut tx, |conn| sqlx::query_scalar(
            "SELECT COUNT(*) FROM admins"
        )
        .fetch_one(conn)
        .await)?;
        if used != 1 || existing > 0 {
            return Ok(None); // dropping the transaction rolls it back
        }
        let id = insert_admin_in(&mut tx, admin).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn admin_count(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM admins"
        )
        .fetch_one(pool)
        .await)?)
    }

    pub async fn admin_by_email_key(&self, email_key: &str) -> StoreResult<Option<AdminRow>> {
        let sql = format!("SELECT {COLUMNS} FROM admins WHERE email_key = $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(email_key)
            .fetch_optional(pool)
            .await)?)
    }

    pub async fn admin_by_id(&self, id: i64) -> StoreResult<Option<AdminRow>> {
        let sql = format!("SELECT {COLUMNS} FROM admins WHERE id = $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Every administrator, by email.
    pub async fn all_admins(&self) -> StoreResult<Vec<AdminRow>> {
        let sql = format!("SELECT {COLUMNS} FROM admins ORDER BY email_key, id");
        on_pool!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
            .map_err(|e| super::context(e, "list administrators"))
    }

    /// The sealed TOTP secret (confirmed, or pending when `pending`).
    pub async fn admin_totp_secret(&self, id: i64, pending: bool) -> StoreResult<Option<String>> {
        let column = if pending {
            "totp_pending_secret"
        } else {
            "totp_secret"
        };
        let sql = format!("SELECT {column} FROM admins WHERE id = $1");
        let secret: Option<Option<String>> = on_pool!(self, |pool| sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "read a TOTP secret"))?;
        Ok(secret.flatten())
    }

    /// Keeps a secret shown on the enrolment page until a code confirms it.
    pub async fn put_admin_pending_secret(&self, id: i64, sealed: &str) -> StoreResult<()> {
        let sql = "UPDATE admins SET totp_pending_secret = $2 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(sealed)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "keep a pending TOTP secret"))?;
        Ok(())
    }

    /// Records `step` as the last accepted TOTP step if it is newer than the
    /// last one: of two uses of one code (on any instances) only one gets true.
    pub async fn use_totp_step(&self, id: i64, step: i64) -> StoreResult<bool> {
        let sql = "UPDATE admins SET totp_last_step = $2 \
                   WHERE id = $1 AND totp_secret IS NOT NULL \
                   AND (totp_last_step IS NULL OR totp_last_step < $2)";
        let used = on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(step)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "use a TOTP step"))?;
        Ok(used == 1)
    }
}

impl Tx {
    /// The pending secret becomes the second factor, its confirming code's
    /// step used; false when the pending secret changed meanwhile.
    pub async fn confirm_admin_totp(
        &mut self,
        id: i64,
        pending_sealed: &str,
        step: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE admins SET totp_secret = totp_pending_secret, \
                   totp_pending_secret = NULL, totp_last_step = $3 \
                   WHERE id = $1 AND totp_pending_secret = $2 AND totp_secret IS NULL";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(pending_sealed)
            .bind(step)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "confirm a TOTP secret"))?;
        Ok(done == 1)
    }

    /// Removes the second factor and its recovery codes; false when there was none.
    pub async fn remove_admin_two_factor(&mut self, id: i64) -> StoreResult<bool> {
        let sql = "UPDATE admins SET totp_secret = NULL, totp_pending_secret = NULL, \
                   totp_last_step = NULL WHERE id = $1 AND totp_secret IS NOT NULL";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "remove a second factor"))?;
        on_tx!(self, |conn| sqlx::query(
            "DELETE FROM admin_recovery_codes WHERE admin_id = $1"
        )
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "delete recovery codes"))?;
        Ok(done == 1)
    }

    /// Replaces the administrator's recovery codes (hashes only).
    pub async fn replace_recovery_codes(&mut self, id: i64, hashes: &[String]) -> StoreResult<()> {
        on_tx!(self, |conn| sqlx::query(
            "DELETE FROM admin_recovery_codes WHERE admin_id = $1"
        )
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "delete recovery codes"))?;
        let sql = "INSERT INTO admin_recovery_codes (admin_id, code_hash) VALUES ($1, $2)";
        for hash in hashes {
            on_tx!(self, |conn| sqlx::query(sql)
                .bind(id)
                .bind(hash)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))
            .map_err(|e| super::context(e, "store a recovery code"))?;
        }
        Ok(())
    }

    /// Changes role and active flag, and the security stamp (every session of
    /// the administrator ends) — unless that would leave no active
    /// Administrator, checked in the same statement. False when refused.
    pub async fn change_admin(
        &mut self,
        id: i64,
        role: &str,
        active: bool,
        stamp: &str,
    ) -> StoreResult<bool> {
        // Serializes changes of administrators on PostgreSQL, so two demotions
        // at once cannot both see the other Administrator still active.
        if let Tx::Postgres(tx) = self {
            sqlx::query("LOCK TABLE admins IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut **tx)
                .await
                .map_err(|e| super::context(e, "lock administrators"))?;
        }
        let sql = format!(
            "UPDATE admins SET role = $2, active = $3, security_stamp = $4 \
             WHERE id = $1 AND ( ($2 = 'administrator' AND $3 = 1) \
               OR NOT ({ACTIVE_ADMINISTRATOR}) \
               OR (SELECT COUNT(*) FROM admins a WHERE a.id <> $1 \
                   AND a.role = 'administrator' AND a.active = 1 AND a.password_hash <> '') > 0 )"
        );
        let done = on_tx!(self, |conn| sqlx::query(&sql)
            .bind(id)
            .bind(role)
            .bind(i64::from(active))
            .bind(stamp)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "change an administrator"))?;
        Ok(done == 1)
    }

    /// Inserts an invited administrator (no password yet) with the hash of
    /// their activation link.
    pub async fn insert_invited_admin(
        &mut self,
        admin: &NewAdmin<'_>,
        token_hash: &str,
        expires_at: i64,
    ) -> StoreResult<i64> {
        let id = insert_admin_in(self, admin).await?;
        let sql = "INSERT INTO admin_activation_tokens (admin_id, token_hash, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(token_hash)
            .bind(admin.created_at)
            .bind(expires_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "store an activation link"))?;
        Ok(id)
    }

    /// Uses up a live activation link: the invited administrator's id, once.
    pub async fn take_activation_token(
        &mut self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let sql = "DELETE FROM admin_activation_tokens WHERE token_hash = $1 AND expires_at > $2 \
                   RETURNING admin_id";
        on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(conn)
            .await)
        .map_err(|e| super::context(e, "use an activation link"))
    }

    /// Sets the first password of an invited administrator.
    pub async fn set_invited_admin_password(
        &mut self,
        id: i64,
        hash: &str,
        stamp: &str,
    ) -> StoreResult<bool> {
        let sql = "UPDATE admins SET password_hash = $2, security_stamp = $3 \
                   WHERE id = $1 AND password_hash = ''";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(hash)
            .bind(stamp)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "set an invited administrator's password"))?;
        Ok(done == 1)
    }

    /// Rotates an administrator's security stamp: their other sessions end.
    pub async fn rotate_admin_stamp(&mut self, id: i64, stamp: &str) -> StoreResult<()> {
        on_tx!(self, |conn| sqlx::query(
            "UPDATE admins SET security_stamp = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(stamp)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "rotate an administrator's stamp"))?;
        Ok(())
    }

    /// Uses one unused recovery code of the administrator; false when none matches.
    pub async fn use_recovery_code(
        &mut self,
        id: i64,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE admin_recovery_codes SET used_at = $3 \
                   WHERE admin_id = $1 AND code_hash = $2 AND used_at IS NULL";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(code_hash)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "use a recovery code"))?;
        Ok(done == 1)
    }
}

impl Db {
    pub async fn admin_by_activation_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<AdminRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM admins WHERE id = (SELECT admin_id FROM admin_activation_tokens \
             WHERE token_hash = $1 AND expires_at > $2)"
        );
        on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)
        .map_err(|e| super::context(e, "read an activation link"))
    }

    /// How many of the administrator's recovery codes are still unused.
    pub async fn unused_recovery_codes(&self, id: i64) -> StoreResult<i64> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM admin_recovery_codes WHERE admin_id = $1 AND used_at IS NULL"
        )
        .bind(id)
        .fetch_one(pool)
        .await)
        .map_err(|e| super::context(e, "count recovery codes"))
    }
}
