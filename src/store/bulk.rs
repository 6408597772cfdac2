//! Bulk loading for `demo-data`, and fresh planner statistics after it.
//!
//! A million customers must load in well under a minute on both backends, so the
//! load holds one connection tuned for it and sends thousands of rows per
//! statement: multi-row VALUES on SQLite (within its parameter limit), one
//! UNNEST of arrays per batch on PostgreSQL.

use sqlx::{Connection, PgConnection, SqliteConnection};

use super::customers::name_keys;
use super::{Db, StoreResult};

/// A generated customer for `demo-data`, with everything random already drawn.
pub struct DemoCustomer {
    pub email: String,
    pub email_key: String,
    pub firstname: String,
    pub lastname: String,
    pub security_stamp: String,
    pub locale: &'static str,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub locked_until: Option<i64>,
    /// Hashes of the customer's live API tokens.
    pub api_token_hashes: Vec<String>,
}

/// One connection of its own for the whole load, detached from the pool, with
/// settings that only suit a bulk load; dropping it closes it, and an
/// uncommitted window with it.
pub struct DemoLoader {
    conn: LoaderConnection,
    /// Rows inserted since the open transaction began.
    uncommitted: usize,
}

enum LoaderConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Rows per transaction. Every commit writes each index page it touched, and
/// keys arrive in random order, so few large commits write far less than many
/// small ones; a window still bounds how long other writers wait.
const ROWS_PER_COMMIT: usize = 250_000;

/// 14 parameters a row: 2,000 rows stay under SQLite's 32,766 bound parameters.
const SQLITE_ROWS_PER_STATEMENT: usize = 2000;
const SQLITE_COLUMNS_PER_ROW: usize = 14;

const CUSTOMER_COLUMNS: &str = "email, email_key, firstname, lastname, name_key, lastname_key, surname_key, \
     password_hash, security_stamp, locale, created_at, last_sign_in_at, locked_until, api_token_count";

impl Db {
    pub async fn demo_loader(&self) -> StoreResult<DemoLoader> {
        let conn = match self {
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?.detach();
                // A page cache that holds the whole growing table and its indexes:
                // keys arrive in random order, and a small cache would re-read and
                // re-write index pages all the time.
                sqlx::query("PRAGMA cache_size = -1048576")
                    .execute(&mut conn)
                    .await?;
                LoaderConnection::Sqlite(conn)
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?.detach();
                // Commits need not wait for the WAL flush: a crash may lose the last
                // window of demo data, never consistency.
                sqlx::query("SET synchronous_commit = off")
                    .execute(&mut conn)
                    .await?;
                // A window of 250,000 rows (and its search words) takes longer
                // than a serving pool's statement timeout allows; this
                // connection is the loader's alone.
                sqlx::query("SET statement_timeout = 0")
                    .execute(&mut conn)
                    .await?;
                LoaderConnection::Postgres(conn)
            }
        };
        Ok(DemoLoader {
            conn,
            uncommitted: 0,
        })
    }

    /// Refreshes the planner statistics after a bulk load, so index choices and
    /// PostgreSQL's row estimate (the grid's unfiltered count) are right.
    pub async fn analyze(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                // Sampling bounds the time ANALYZE takes on a large table.
                sqlx::raw_sql("PRAGMA analysis_limit = 10000; ANALYZE;")
                    .execute(&mut *conn)
                    .await?;
            }
            Db::Postgres(pool) => {
                // ANALYZE samples; the VACUUM after it reads every page it has not
                // seen, which leaves the exact row count as the estimate and marks
                // pages all-visible, so counts and deep pages read indexes alone.
                // Two statements: VACUUM refuses to run inside a multi-statement string.
                // On a connection of their own, without a serving pool's statement
                // timeout (VACUUM cannot run in a transaction to lift it locally).
                let mut conn = pool.acquire().await?.detach();
                sqlx::query("SET statement_timeout = 0")
                    .execute(&mut conn)
                    .await?;
                sqlx::query("ANALYZE customers, api_tokens, customer_search_words")
                    .execute(&mut conn)
                    .await?;
                sqlx::query("VACUUM customers, api_tokens, customer_search_words")
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
            }
        }
        Ok(())
    }
}

impl DemoLoader {
    /// Inserts customers and their API tokens; commits once a window is full.
    pub async fn insert(
        &mut self,
        batch: &[DemoCustomer],
        password_hash: &str,
        token_created_at: i64,
        token_expires_at: i64,
    ) -> StoreResult<()> {
        let tokens: Vec<(&str, &str)> = batch
            .iter()
            .flat_map(|c| {
                c.api_token_hashes
                    .iter()
                    .map(|hash| (hash.as_str(), c.email_key.as_str()))
            })
            .collect();
        if self.uncommitted == 0 {
            self.execute("BEGIN").await?;
        }
        match &mut self.conn {
            LoaderConnection::Sqlite(conn) => {
                for chunk in batch.chunks(SQLITE_ROWS_PER_STATEMENT) {
                    sqlite_insert_customers(conn, chunk, password_hash).await?;
                }
                for chunk in tokens.chunks(SQLITE_ROWS_PER_STATEMENT) {
                    sqlite_insert_tokens(conn, chunk, token_created_at, token_expires_at).await?;
                }
            }
            LoaderConnection::Postgres(conn) => {
                pg_insert_customers(conn, batch, password_hash).await?;
                if !tokens.is_empty() {
                    pg_insert_tokens(conn, &tokens, token_created_at, token_expires_at).await?;
                }
            }
        }
        self.uncommitted += batch.len();
        if self.uncommitted >= ROWS_PER_COMMIT {
            self.commit().await?;
        }
        Ok(())
    }

    /// Commits what is left and closes the connection.
    pub async fn finish(mut self) -> StoreResult<()> {
        self.commit().await?;
        if let LoaderConnection::Sqlite(conn) = &mut self.conn {
            // Moves the load from the write-ahead log into the database file and
            // empties the log, rather than leaving hundreds of MB in it.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *conn)
                .await?;
        }
        match self.conn {
            LoaderConnection::Sqlite(conn) => conn.close().await?,
            LoaderConnection::Postgres(conn) => conn.close().await?,
        }
        Ok(())
    }

    async fn commit(&mut self) -> StoreResult<()> {
        if self.uncommitted > 0 {
            self.execute("COMMIT").await?;
            self.uncommitted = 0;
        }
        Ok(())
    }

    async fn execute(&mut self, sql: &str) -> StoreResult<()> {
        match &mut self.conn {
            LoaderConnection::Sqlite(conn) => sqlx::raw_sql(sql).execute(conn).await.map(drop)?,
            LoaderConnection::Postgres(conn) => sqlx::raw_sql(sql).execute(conn).await.map(drop)?,
        }
        Ok(())
    }
}

/// `(?, ?, …), (?, ?, …)`. Anonymous placeholders on purpose: SQLite resolves a
/// named or numbered one (`$7`) with a linear search, which makes binding a
/// statement with thousands of them quadratic.
fn sqlite_values(rows: usize, per_row: usize) -> String {
    let tuple = format!("({})", vec!["?"; per_row].join(", "));
    vec![tuple; rows].join(", ")
}

async fn sqlite_insert_customers(
    conn: &mut sqlx::SqliteConnection,
    chunk: &[DemoCustomer],
    password_hash: &str,
) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO customers ({CUSTOMER_COLUMNS}) VALUES {}",
        sqlite_values(chunk.len(), SQLITE_COLUMNS_PER_ROW)
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
            .bind(password_hash)
            .bind(&c.security_stamp)
            .bind(c.locale)
            .bind(c.created_at)
            .bind(c.last_sign_in_at)
            .bind(c.locked_until)
            .bind(c.api_token_hashes.len() as i64);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Tokens find their customer by email key, so no ids travel back and forth.
async fn sqlite_insert_tokens(
    conn: &mut sqlx::SqliteConnection,
    tokens: &[(&str, &str)],
    created_at: i64,
    expires_at: i64,
) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO api_tokens (token_hash, customer_id, security_stamp, created_at, expires_at) \
         SELECT v.column1, c.id, c.security_stamp, v.column3, v.column4 \
         FROM (VALUES {}) AS v JOIN customers c ON c.email_key = v.column2",
        sqlite_values(tokens.len(), 4)
    );
    let mut query = sqlx::query(&sql);
    for (hash, email_key) in tokens {
        query = query
            .bind(*hash)
            .bind(*email_key)
            .bind(created_at)
            .bind(expires_at);
    }
    query.execute(conn).await?;
    Ok(())
}

async fn pg_insert_customers(
    conn: &mut sqlx::PgConnection,
    batch: &[DemoCustomer],
    password_hash: &str,
) -> StoreResult<()> {
    let column = |f: fn(&DemoCustomer) -> String| batch.iter().map(f).collect::<Vec<String>>();
    let keys: Vec<_> = batch
        .iter()
        .map(|c| name_keys(&c.firstname, &c.lastname))
        .collect();
    let key_column = |f: fn(&super::customers::NameKeys) -> &String| {
        keys.iter().map(|k| f(k).clone()).collect::<Vec<String>>()
    };
    let sql = format!(
        "INSERT INTO customers ({CUSTOMER_COLUMNS}) \
         SELECT email, email_key, firstname, lastname, name_key, lastname_key, surname_key, $1, \
         security_stamp, locale, created_at, last_sign_in_at, locked_until, api_token_count \
         FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
         $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[]) \
         AS t(email, email_key, firstname, lastname, name_key, lastname_key, surname_key, \
         security_stamp, locale, created_at, last_sign_in_at, locked_until, api_token_count)"
    );
    sqlx::query(&sql)
        .bind(password_hash)
        .bind(column(|c| c.email.clone()))
        .bind(column(|c| c.email_key.clone()))
        .bind(column(|c| c.firstname.clone()))
        .bind(column(|c| c.lastname.clone()))
        .bind(key_column(|k| &k.name))
        .bind(key_column(|k| &k.lastname))
        .bind(key_column(|k| &k.surname))
        .bind(column(|c| c.security_stamp.clone()))
        .bind(column(|c| c.locale.to_string()))
        .bind(batch.iter().map(|c| c.created_at).collect::<Vec<i64>>())
        .bind(
            batch
                .iter()
                .map(|c| c.last_sign_in_at)
                .collect::<Vec<Option<i64>>>(),
        )
        .bind(
            batch
                .iter()
                .map(|c| c.locked_until)
                .collect::<Vec<Option<i64>>>(),
        )
        .bind(
            batch
                .iter()
                .map(|c| c.api_token_hashes.len() as i64)
                .collect::<Vec<i64>>(),
        )
        .execute(conn)
        .await?;
    Ok(())
}

async fn pg_insert_tokens(
    conn: &mut sqlx::PgConnection,
    tokens: &[(&str, &str)],
    created_at: i64,
    expires_at: i64,
) -> StoreResult<()> {
    let sql = "INSERT INTO api_tokens (token_hash, customer_id, security_stamp, created_at, expires_at) \
               SELECT t.token_hash, c.id, c.security_stamp, $3, $4 \
               FROM UNNEST($1::text[], $2::text[]) AS t(token_hash, email_key) \
               JOIN customers c ON c.email_key = t.email_key";
    let (hashes, email_keys): (Vec<&str>, Vec<&str>) = tokens.iter().copied().unzip();
    sqlx::query(sql)
        .bind(hashes)
        .bind(email_keys)
        .bind(created_at)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}
