//! The only place that knows SQL. One SQL text with `$1…` placeholders serves
//! both backends where the dialects agree; a per-backend arm only where they differ.

mod admins;
mod api_tokens;
mod audit;
mod bulk;
mod customer_devices;
mod customer_events;
mod customer_sessions;
mod customers;
mod grid;
mod import;
mod jobs;
mod outbox;
mod recovery;
mod schema;
pub mod sessions;
mod settings;
mod sign_ins;
mod token_failures;

pub use admins::{AdminRow, NewAdmin};
pub use api_tokens::{ApiTokenRow, TokenOwner};
pub use audit::{AuditEntry, AuditFilter, AuditRow};
pub use bulk::{DemoCustomer, DemoLoader};
pub use customer_events::{CustomerEventRow, CustomerMailRow};
pub use customer_sessions::{CustomerSessionRow, NewCustomerSession, SessionOwner};
pub use customers::{CustomerRow, NewCustomer};
pub use grid::{
    CustomerGridQuery, CustomerGridRow, GridCount, GridExport, GridFilter, GridSort, TimeRange,
    WORD_SEPARATORS,
};
pub use import::{ImportWriter, ImportedCustomer};
pub use jobs::{JobCounts, JobRow, NewJob, PinnedSelection, SelectionFilter};
pub use outbox::{ClaimedMail, MailPriority, MailQueueRow, NewMail};
pub use recovery::{RequestKeys, RequestStats};
pub use schema::{MigrationState, reach};
pub use sign_ins::{AccountTable, Credentials, LockoutRule};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// The database, chosen at run time from the `DATABASE_URL` scheme.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on either backend.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs the same query code on whichever pool or transaction we hold. The body is
/// written once and compiled once per backend.
macro_rules! on_pool {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($conn) => $body,
            $crate::store::Db::Postgres($conn) => $body,
        }
    };
}
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}
pub(crate) use {on_pool, on_tx};

/// Errors the domain needs to tell apart; everything else is `Other`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with this unique value already exists")]
    Duplicate,
    /// Anything else, with the statement it came from, so a log line names it.
    #[error("cannot {query}: {source}")]
    Other {
        query: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        context(err, "run a query")
    }
}

/// A database error named after the statement that failed ("cannot reserve a
/// sign-in attempt: …").
pub(crate) fn context(err: sqlx::Error, query: &'static str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate,
        _ => StoreError::Other { query, source: err },
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

impl Db {
    /// Connects to `sqlite://path` (folder and file created when missing) or `postgres://…`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let file = path.split('?').next().unwrap_or(path);
            if file != ":memory:"
                && let Some(dir) = Path::new(file)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the database folder {}", dir.display())
                })?;
            }
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Reads through a memory map instead of a read() per page: at a
                // million customers this takes the grid's deep pages and wide
                // searches from ~130 ms to ~15 ms (benches/grid.rs). Address space
                // only; the OS pages it in as needed.
                .pragma("mmap_size", "1073741824");
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open the SQLite database {file}"))?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .context("cannot connect to PostgreSQL")?;
            Ok(Db::Postgres(pool))
        } else {
            bail!("DATABASE_URL must start with sqlite:// or postgres:// (got {url:?})")
        }
    }

    /// Applies the embedded migrations of this backend, and the session store's table.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        sessions::SessionStore::new(self.clone()).migrate().await?;
        Ok(())
    }

    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// `SELECT 1`, for `/readyz`.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}

impl Tx {
    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}
