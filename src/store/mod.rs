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
mod sign_in_ip_failures;
mod sign_ins;
mod token_failures;

pub use admins::{AdminRow, NewAdmin};
pub use api_tokens::{ApiTokenRow, TokenOwner};
pub use audit::{AuditEntry, AuditFilter, AuditRow};
pub use bulk::{DemoCustomer, DemoLoader};
pub use customer_events::{CustomerEventRow, CustomerMailRow, NewCustomerEvent};
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
pub use sign_in_ip_failures::{IpFailureRule, IpReservation};
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
/// Like `on_pool!`, for a statement that is long by nature (a whole-table
/// export chunk, an exact count, freezing a million-customer selection, the
/// janitor's purges) run by a serving instance: on PostgreSQL it runs in a
/// transaction that lifts the serving pool's `statement_timeout` for itself
/// (`SET LOCAL`), so a hung statement is still cut everywhere else; the
/// `lock_timeout` stays. SQLite has no statement timeout: the pool as it is.
macro_rules! on_patient {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($conn) => $body,
            $crate::store::Db::Postgres(pool) => {
                async {
                    let mut tx = $crate::store::begin_whole(pool).await?;
                    sqlx::query($crate::store::LIFT_STATEMENT_TIMEOUT)
                        .execute(&mut *tx)
                        .await?;
                    let out = {
                        let $conn = &mut *tx;
                        $body
                    }?;
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(out)
                }
                .await
            }
        }
    };
}
pub(crate) use {on_patient, on_pool, on_tx};

/// Begins a transaction in a task of its own, so that it cannot be dropped
/// half-way. A visitor who closes the connection drops the request's future
/// wherever it waits; dropped after BEGIN went out and before its answer,
/// sqlx 0.8.6's `begin()` hands the connection back to the pool inside the
/// transaction (its rollback guard counts the transaction only once BEGIN has
/// answered), and every later "autocommit" statement on that connection stays
/// uncommitted, holding its locks: seen as connections "idle in transaction"
/// and a mail worker stuck on a row lock after a load test's clients hung up.
/// Run to its end here, a transaction nobody waits for any more is dropped
/// whole, which rolls it back.
pub(crate) async fn begin_whole<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> sqlx::Result<sqlx::Transaction<'static, DB>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await })
        .await
        .unwrap_or_else(|e| Err(sqlx::Error::Io(std::io::Error::other(e))))
}

/// Lifts the serving pool's statement timeout for the rest of a PostgreSQL
/// transaction (see `on_patient!`).
pub(crate) const LIFT_STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = 0";

/// Errors the domain needs to tell apart; everything else is `Other`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with this unique value already exists")]
    Duplicate,
    /// The database cannot be reached or cannot take the write just now (server
    /// down or restarting, pool exhausted, SQLite locked or read-only). The
    /// request may succeed later: HTTP answers 503 with Retry-After.
    #[error("the database is unavailable: cannot {query}: {source}")]
    Unavailable {
        query: &'static str,
        #[source]
        source: sqlx::Error,
    },
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
/// Rows per statement when a step runs over a set of customers (a bulk job's
/// stretch): one statement instead of one per customer, while the widest row
/// (7 columns) stays far below SQLite's 32,766 and PostgreSQL's 65,535 bind
/// parameters.
pub(crate) const SET_CHUNK: usize = 1000;

/// `$from, $from+1, …`: `n` parameters, for `IN (…)` over a set of ids.
pub(crate) fn param_list(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2), ($3, $4), …`: `rows` tuples of `width` parameters, for a
/// multi-row `VALUES`. `casts[c]`, when not empty, is appended to column
/// `c`'s parameter (PostgreSQL types a bare parameter in `VALUES` as text).
pub(crate) fn value_rows(rows: usize, width: usize, casts: &[&str]) -> String {
    (0..rows)
        .map(|r| {
            let row = (0..width)
                .map(|c| {
                    let cast = casts.get(c).copied().unwrap_or("");
                    format!("${}{cast}", r * width + c + 1)
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("({row})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn context(err: sqlx::Error, query: &'static str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate,
        _ if is_unavailable(&err) => StoreError::Unavailable { query, source: err },
        _ => StoreError::Other { query, source: err },
    }
}

/// Whether a database error means "not now" rather than "wrong": the server
/// is away, restarting or refusing connections, the pool could not hand out a
/// connection in time, or SQLite is locked by another writer or read-only.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|code| unavailable_code(&code))
                // 55000 at connect: the database is closed to connections
                // (`ALTER DATABASE … ALLOW_CONNECTIONS false`, maintenance):
                // "database … is not currently accepting connections".
                || (db.code().as_deref() == Some("55000")
                    && db.message().contains("accepting connections"))
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs and SQLite (extended) result codes of a database that
/// is away or cannot take a write now.
fn unavailable_code(code: &str) -> bool {
    // PostgreSQL: class 08 connection exceptions; 57P01 admin_shutdown,
    // 57P02 crash_shutdown, 57P03 cannot_connect_now; 53300 too_many_connections;
    // 25006 read_only_sql_transaction (a standby after a failover); 57014
    // query_canceled (the serving pool's statement_timeout cut a hung statement)
    // and 55P03 lock_not_available (its lock_timeout: another session holds a
    // lock we need, e.g. a migration's or an operator's LOCK TABLE).
    if code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "25006" | "57014" | "55P03"
        )
    {
        return true;
    }
    // SQLite: the primary code is the low byte of the extended one.
    // 5 SQLITE_BUSY, 6 SQLITE_LOCKED, 8 SQLITE_READONLY, 10 SQLITE_IOERR, 14 SQLITE_CANTOPEN.
    code.parse::<u32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 8 | 10 | 14))
}

/// Whether anything in an error's chain is an unavailable database. Domain
/// errors wrap store errors in `anyhow`; this finds them underneath.
pub fn chain_is_unavailable(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if matches!(
            e.downcast_ref::<StoreError>(),
            Some(StoreError::Unavailable { .. })
        ) || e.downcast_ref::<sqlx::Error>().is_some_and(is_unavailable)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether an error that reached us only as text (tower-sessions' stores turn
/// sqlx errors into strings) is an unavailable database.
pub fn message_is_unavailable(message: &str) -> bool {
    const MARKERS: &[&str] = &[
        "pool timed out",
        "attempted to acquire a connection on a closed pool",
        "database is locked",
        "database table is locked",
        "readonly database",
        "error communicating with database",
        "connection refused",
        "connection reset",
        "terminating connection due to administrator command",
        "not currently accepting connections",
        "the database system is",
        "unexpected end of file",
        "canceling statement due to statement timeout",
        "canceling statement due to lock timeout",
    ];
    let message = message.to_ascii_lowercase();
    MARKERS.iter().any(|m| message.contains(m))
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A pooled PostgreSQL connection idle this long is pinged before it is used.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// How long the database may keep a caller waiting.
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    /// Waiting for a pooled connection, including (re)connecting to the server.
    pub acquire: Duration,
    /// SQLite: waiting for another writer's lock (`busy_timeout`).
    pub busy: Duration,
    /// PostgreSQL: how long one statement may run (`statement_timeout`), and
    /// wait for a lock another session holds (`lock_timeout`); None: no limit.
    pub statement: Option<Duration>,
    pub lock: Option<Duration>,
}

impl Patience {
    /// For a serving instance: a visitor gets an answer (503 when the database
    /// is away or locked) in about 2 s, never a hang. The mail worker and the
    /// bulk job runner share the pool; they retry what failed, so the short
    /// wait costs them nothing. On PostgreSQL a statement that blocks on a lock
    /// gives up after 1.5 s, as SQLite's busy wait does, and any statement after
    /// 3 s (503 either way); the few statements that are long by nature lift
    /// the 3 s for themselves (`on_patient!`).
    pub const SERVING: Patience = Patience {
        acquire: Duration::from_millis(1500),
        busy: Duration::from_millis(1500),
        statement: Some(Duration::from_secs(3)),
        lock: Some(Duration::from_millis(1500)),
    };
    /// For command-line tools (migrate, import, backup, config): nobody is
    /// waiting on a page, and a long import should wait out a busy server.
    /// No statement or lock limit on PostgreSQL: a migration, import or
    /// demo-data load runs as long as it takes.
    pub const TOOL: Patience = Patience {
        acquire: Duration::from_secs(10),
        busy: Duration::from_secs(10),
        statement: None,
        lock: None,
    };
}

fn sqlite_pool(connections: u32, acquire: Duration) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(connections)
        // A file cannot go away like a server: no ping before each use
        // (sqlx still checks each connection when it comes back).
        .test_before_acquire(false)
        .acquire_timeout(acquire)
}

fn postgres_pool(connections: u32, acquire: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(connections)
        // Bounds the wait for a free connection and every (re)connect
        // attempt: while the server is away a request fails after this
        // with `PoolTimedOut` (503), and once it is back the next
        // acquire connects again.
        .acquire_timeout(acquire)
        // A connection that died with a server restart is found out
        // and replaced before it is handed to a request: sqlx pings every
        // connection as it comes back to the pool, and one that sat idle
        // for a while (where a restart could have happened unseen) is
        // pinged again before use. A ping before every use would be one
        // more round trip on every request (`customers/me` is one query).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl Db {
    /// Connects with the serving instance's short waits ([`Patience::SERVING`]).
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Self::connect_with(url, Patience::SERVING).await
    }

    /// Connects for a command-line tool ([`Patience::TOOL`]).
    pub async fn connect_tool(url: &str) -> anyhow::Result<Db> {
        Self::connect_with(url, Patience::TOOL).await
    }

    /// Connects to `sqlite://path` (folder and file created when missing) or `postgres://…`.
    pub async fn connect_with(url: &str, patience: Patience) -> anyhow::Result<Db> {
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
                .busy_timeout(patience.busy)
                // Reads through a memory map instead of a read() per page: at a
                // million customers this takes the grid's deep pages and wide
                // searches from ~130 ms to ~15 ms (benches/grid.rs). Address space
                // only; the OS pages it in as needed.
                .pragma("mmap_size", "1073741824");
            let pool = sqlite_pool(8, patience.acquire)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open the SQLite database {file}"))?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // A scan of a large table starts at block 0, not where another
            // scan is: a bounded count ("At least N records found") then reads
            // the same rows each time (with synchronized scans the label
            // changed on every reload, 5,077 to 5,196).
            let mut limits = vec![("synchronize_seqscans", "off".to_string())];
            if let Some(statement) = patience.statement {
                limits.push(("statement_timeout", format!("{}ms", statement.as_millis())));
            }
            if let Some(lock) = patience.lock {
                limits.push(("lock_timeout", format!("{}ms", lock.as_millis())));
            }
            // Set for each connection at its start, so no request can forget it.
            let options = PgConnectOptions::from_str(url)?.options(limits);
            let pool = postgres_pool(16, patience.acquire)
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

    /// A pool of `connections` of its own on the same PostgreSQL database,
    /// with the same settings and waits, connecting on first use: for a writer
    /// that must not queue behind the requests for a connection
    /// (src/recovery/group.rs). On SQLite the same pool: every write takes its
    /// turn on the file's one write lock anyway.
    pub fn dedicated(&self, connections: u32) -> Db {
        match self {
            Db::Sqlite(_) => self.clone(),
            Db::Postgres(pool) => Db::Postgres(
                postgres_pool(connections, pool.options().get_acquire_timeout())
                    .connect_lazy_with((*pool.connect_options()).clone()),
            ),
        }
    }

    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(begin_whole(pool).await?),
            Db::Postgres(pool) => Tx::Postgres(begin_whole(pool).await?),
        })
    }

    /// `SELECT 1`, for `/readyz`.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| context(e, "ping the database"))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    /// Whether the store takes one write at a time (SQLite's file lock), so
    /// that writers gain nothing by running side by side.
    pub fn one_writer_at_a_time(&self) -> bool {
        matches!(self, Db::Sqlite(_))
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

    /// Runs `statement` for a set of ids, `SET_CHUNK` at a time: `{ids}` in it
    /// stands for the chunk's id parameters (`$1, $2, …`). Returns the rows it
    /// touched; `what` names the step in an error.
    pub(crate) async fn execute_for_ids(
        &mut self,
        statement: &str,
        ids: &[i64],
        what: &'static str,
    ) -> StoreResult<u64> {
        let mut touched = 0;
        for chunk in ids.chunks(SET_CHUNK) {
            let sql = statement.replace("{ids}", &param_list(1, chunk.len()));
            touched += on_tx!(self, |conn| {
                let mut q = sqlx::query(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(conn).await.map(|r| r.rows_affected())
            })
            .map_err(|e| context(e, what))?;
        }
        Ok(touched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_statement_and_a_lock_not_granted_mean_not_now() {
        // The serving pool's statement_timeout and lock_timeout.
        assert!(unavailable_code("57014"));
        assert!(unavailable_code("55P03"));
        assert!(unavailable_code("57P01"));
        // Wrong, not "not now": a unique violation, a syntax error.
        assert!(!unavailable_code("23505"));
        assert!(!unavailable_code("42601"));
        assert!(message_is_unavailable(
            "error returned from database: canceling statement due to lock timeout"
        ));
        assert!(message_is_unavailable(
            "error returned from database: canceling statement due to statement timeout"
        ));
    }

    #[test]
    fn only_the_serving_pool_cuts_statements() {
        assert!(Patience::SERVING.statement.is_some() && Patience::SERVING.lock.is_some());
        assert!(Patience::TOOL.statement.is_none() && Patience::TOOL.lock.is_none());
    }
}
