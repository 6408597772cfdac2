//! What `shop-accounts check` asks the database about itself, and `backup`.

use std::collections::HashSet;
use std::path::Path;

use super::{Db, StoreResult, context};

/// How the database's schema compares with the migrations in this binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationState {
    /// Migrations of this binary not yet applied (`migrate` or a start applies them).
    pub pending: usize,
    /// Applied migrations this binary does not know (a newer version ran here).
    pub unknown: usize,
}

/// One connection attempt, without the pool's retries, so a refusal shows its cause.
pub async fn reach(database_url: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        sqlx::PgConnection::connect(database_url)
            .await?
            .close()
            .await
    } else {
        sqlx::SqliteConnection::connect(database_url)
            .await?
            .close()
            .await
    }
}

impl Db {
    pub async fn migration_state(&self) -> StoreResult<MigrationState> {
        let (migrator, exists_sql) = match self {
            Db::Sqlite(_) => (
                sqlx::migrate!("migrations/sqlite"),
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            ),
            Db::Postgres(_) => (
                sqlx::migrate!("migrations/postgres"),
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
            ),
        };
        let tables: i64 = super::on_pool!(self, |pool| sqlx::query_scalar(exists_sql)
            .fetch_one(pool)
            .await)
        .map_err(|e| context(e, "look for the migrations table"))?;
        let applied: HashSet<i64> = if tables == 0 {
            HashSet::new()
        } else {
            super::on_pool!(self, |pool| sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success"
            )
            .fetch_all(pool)
            .await)
            .map_err(|e| context(e, "read the applied migrations"))?
            .into_iter()
            .collect()
        };
        let known: HashSet<i64> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| m.version)
            .collect();
        Ok(MigrationState {
            pending: known.difference(&applied).count(),
            unknown: applied.difference(&known).count(),
        })
    }

    /// SQLite: an online, consistent copy of the whole database in a new file
    /// (`VACUUM INTO`: one read transaction, so writers go on meanwhile).
    pub async fn backup_sqlite_into(&self, file: &Path) -> StoreResult<()> {
        let Db::Sqlite(pool) = self else {
            return Ok(());
        };
        sqlx::query("VACUUM INTO $1")
            .bind(file.to_string_lossy().into_owned())
            .execute(pool)
            .await
            .map_err(|e| context(e, "copy the database"))?;
        Ok(())
    }
}
