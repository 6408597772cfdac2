//! tower-sessions' own sqlx stores, one per backend, behind one type. It also
//! keeps the listable session rows (`customer_sessions`) in step: when a
//! signed-in session gets a new id (sign-in, a reset link opened, a password
//! change), its row learns the id, so ending the session deletes both.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::Db;

#[derive(Debug, Clone)]
pub struct SessionStore {
    backend: Backend,
    db: Db,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// A second-precision UTC time in the text form the SQLite session store
/// keeps expiries in.
const EXPIRY_BOUND: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// The session value holding the key of a signed-in session's row.
pub const CUSTOMER_SESSION_KEY: &str = "customer_session";

macro_rules! on_store {
    ($store:expr, |$s:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($s) => $body,
            Backend::Postgres($s) => $body,
        }
    };
}

impl SessionStore {
    pub fn new(db: Db) -> Self {
        let backend = match &db {
            Db::Sqlite(pool) => Backend::Sqlite(SqliteStore::new(pool.clone())),
            Db::Postgres(pool) => Backend::Postgres(PostgresStore::new(pool.clone())),
        };
        SessionStore { backend, db }
    }

    /// Deletes the records with these ids (sessions ended from elsewhere).
    pub async fn delete_records(&self, ids: &[String]) {
        for id in ids {
            if let Ok(id) = id.parse::<Id>()
                && let Err(e) = session_store::SessionStore::delete(self, &id).await
            {
                tracing::warn!(error = %e, "cannot delete an ended session's record");
            }
        }
    }

    pub async fn migrate(&self) -> sqlx::Result<()> {
        on_store!(self, |s| s.migrate().await)?;
        // The store's table has no index on expiry, so the janitor's purge of
        // expired sessions (at start and hourly) read the whole table, and every
        // visitor who ever saw a form has a row (290,000 rows and 145 MB read at
        // every start of a benchmarked SQLite store).
        let index = match &self.db {
            Db::Sqlite(_) => {
                "CREATE INDEX IF NOT EXISTS tower_sessions_expiry ON tower_sessions (expiry_date)"
            }
            Db::Postgres(_) => {
                "CREATE INDEX IF NOT EXISTS session_expiry ON tower_sessions.session (expiry_date)"
            }
        };
        super::on_pool!(&self.db, |pool| sqlx::query(index)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

#[async_trait]
impl session_store::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // The store's `create` is a transaction: run whole, in a task of its own
        // (see `begin_whole`), even if the visitor has gone.
        let store = self.clone();
        let mut created = record.clone();
        *record = tokio::spawn(async move {
            on_store!(store, |s| s.create(&mut created).await).map(|()| created)
        })
        .await
        .map_err(|e| session_store::Error::Backend(e.to_string()))??;
        if let Some(serde_json::Value::String(key)) = record.data.get(CUSTOMER_SESSION_KEY) {
            self.db
                .set_customer_session_id(&crate::secrets::token_hash(key), &record.id.to_string())
                .await
                .map_err(|e| session_store::Error::Backend(e.to_string()))?;
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        on_store!(self, |s| s.save(record).await)
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        on_store!(self, |s| s.load(session_id).await)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        on_store!(self, |s| s.delete(session_id).await)
    }
}

#[async_trait]
impl ExpiredDeletion for SessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let Db::Sqlite(pool) = &self.db else {
            return on_store!(self, |s| s.delete_expired().await);
        };
        // The SQLite store's own purge wraps the column in datetime(), which no
        // index serves. Its expiries are RFC 3339 text in UTC ("…T18:03:39.17Z"),
        // so comparing the text with a second-precision bound is comparing the
        // times, up to the bound's second: the bound is a second in the past.
        let bound = (time::OffsetDateTime::now_utc() - time::Duration::SECOND)
            .format(EXPIRY_BOUND)
            .map_err(|e| session_store::Error::Backend(e.to_string()))?;
        sqlx::query("DELETE FROM tower_sessions WHERE expiry_date < $1")
            .bind(bound)
            .execute(pool)
            .await
            .map_err(|e| session_store::Error::Backend(e.to_string()))?;
        Ok(())
    }
}
