//! Customers moved in from another shop, and the upgrade of their imported
//! password hashes.
//!
//! The import holds one connection of its own and writes each batch in one
//! transaction with multi-row inserts that skip email keys already present, so an
//! interrupted import leaves whole batches and running it again completes it.

use sqlx::{Connection, PgConnection, SqliteConnection};

use super::customers::name_keys;
use super::{Db, StoreResult};

/// One imported customer, checked and ready to insert.
pub struct ImportedCustomer {
    pub email: String,
    pub email_key: String,
    pub firstname: String,
    pub lastname: String,
    /// As the other shop wrote it; empty for none.
    pub password_hash: String,
    pub security_stamp: String,
    pub locale: &'static str,
    pub created_at: i64,
}

const COLUMNS: &str = "email, email_key, firstname, lastname, name_key, lastname_key, surname_key, \
     password_hash, security_stamp, locale, created_at";
const COLUMNS_PER_ROW: usize = 11;
/// 11 parameters a row: 2,000 rows stay under SQLite's 32,766 bound parameters.
const SQLITE_ROWS_PER_STATEMENT: usize = 2000;

pub enum ImportWriter {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Db {
    /// Replaces an imported hash with a native one, only if it is still `old`.
    /// False when another sign-in (or a password change) got there first.
    pub async fn replace_password_hash(&self, id: i64, old: &str, new: &str) -> StoreResult<bool> {
        let sql = "UPDATE customers SET password_hash = $3 WHERE id = $1 AND password_hash = $2";
        let changed = super::on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(old)
            .bind(new)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(changed == 1)
    }

    /// A connection detached from the pool for one import.
    pub async fn import_writer(&self) -> StoreResult<ImportWriter> {
        Ok(match self {
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?.detach();
                // A page cache that holds the indexes being filled: email keys and
                // names arrive in no order, and a small cache would re-read and
                // re-write index pages all the time. Grows only as pages are used.
                sqlx::query("PRAGMA cache_size = -524288")
                    .execute(&mut conn)
                    .await?;
                ImportWriter::Sqlite(conn)
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?.detach();
                // Commits need not wait for the WAL flush: a crash may lose the last
                // batches, never part of one, and running the import again adds them.
                sqlx::query("SET synchronous_commit = off")
                    .execute(&mut conn)
                    .await?;
                ImportWriter::Postgres(conn)
            }
        })
    }
}

impl ImportWriter {
    /// Inserts a batch in one transaction, skipping email keys that already have an
    /// account; answers how many were inserted.
    pub async fn insert_batch(&mut self, batch: &[ImportedCustomer]) -> StoreResult<u64> {
        match self {
            ImportWriter::Sqlite(conn) => {
                let mut tx = conn.begin().await?;
                let mut inserted = 0;
                for chunk in batch.chunks(SQLITE_ROWS_PER_STATEMENT) {
                    inserted += sqlite_insert(&mut tx, chunk).await?;
                }
                tx.commit().await?;
                Ok(inserted)
            }
            ImportWriter::Postgres(conn) => {
                let mut tx = conn.begin().await?;
                let inserted = pg_insert(&mut tx, batch).await?;
                tx.commit().await?;
                Ok(inserted)
            }
        }
    }

    /// How many of `email_keys` already have an account (for a dry run).
    pub async fn count_existing(&mut self, email_keys: &[&str]) -> StoreResult<u64> {
        match self {
            ImportWriter::Sqlite(conn) => {
                let mut found = 0;
                for chunk in email_keys.chunks(SQLITE_ROWS_PER_STATEMENT) {
                    let sql = format!(
                        "SELECT COUNT(*) FROM customers WHERE email_key IN ({})",
                        vec!["?"; chunk.len()].join(", ")
                    );
                    let mut query = sqlx::query_scalar::<_, i64>(&sql);
                    for key in chunk {
                        query = query.bind(*key);
                    }
                    found += query.fetch_one(&mut *conn).await?;
                }
                Ok(found as u64)
            }
            ImportWriter::Postgres(conn) => {
                let found: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE email_key = ANY($1)")
                        .bind(email_keys)
                        .fetch_one(&mut *conn)
                        .await?;
                Ok(found as u64)
            }
        }
    }

    /// Closes the connection; on SQLite first moves the load out of the
    /// write-ahead log, rather than leaving hundreds of MB in it.
    pub async fn finish(self) -> StoreResult<()> {
        match self {
            ImportWriter::Sqlite(mut conn) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
            }
            ImportWriter::Postgres(conn) => conn.close().await?,
        }
        Ok(())
    }
}

async fn sqlite_insert(
    conn: &mut SqliteConnection,
    chunk: &[ImportedCustomer],
) -> StoreResult<u64> {
    // Anonymous placeholders: SQLite finds a numbered one (`$7`) by a linear
    // search, which makes binding thousands of them quadratic.
    let row = format!("({})", ["?"; COLUMNS_PER_ROW].join(", "));
    let sql = format!(
        "INSERT INTO customers ({COLUMNS}) VALUES {} ON CONFLICT (email_key) DO NOTHING",
        vec![row; chunk.len()].join(", ")
    );
    let mut query = sqlx::query(&sql);
    for c in chunk {
        let keys = name_keys(&c.firstname, &c.lastname);
        query = query
            .bind(&c.email)
            .bind(&c.email_key)
            .bind(&c.firstname)
            .bind(&c.lastname)
            .bind(keys.name)
            .bind(keys.lastname)
            .bind(keys.surname)
            .bind(&c.password_hash)
            .bind(&c.security_stamp)
            .bind(c.locale)
            .bind(c.created_at);
    }
    Ok(query.execute(conn).await?.rows_affected())
}

/// One statement per batch: the columns travel as arrays and UNNEST makes rows.
async fn pg_insert(conn: &mut PgConnection, batch: &[ImportedCustomer]) -> StoreResult<u64> {
    let text = |f: fn(&ImportedCustomer) -> &str| batch.iter().map(f).collect::<Vec<&str>>();
    let keys: Vec<_> = batch
        .iter()
        .map(|c| name_keys(&c.firstname, &c.lastname))
        .collect();
    let sql = format!(
        "INSERT INTO customers ({COLUMNS}) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[]) \
         ON CONFLICT (email_key) DO NOTHING"
    );
    let result = sqlx::query(&sql)
        .bind(text(|c| &c.email))
        .bind(text(|c| &c.email_key))
        .bind(text(|c| &c.firstname))
        .bind(text(|c| &c.lastname))
        .bind(keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.lastname.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.surname.as_str()).collect::<Vec<_>>())
        .bind(text(|c| &c.password_hash))
        .bind(text(|c| &c.security_stamp))
        .bind(text(|c| c.locale))
        .bind(batch.iter().map(|c| c.created_at).collect::<Vec<i64>>())
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}
