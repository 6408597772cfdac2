//! tower-sessions' own sqlx stores, one per backend, behind one type.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::Db;

#[derive(Debug, Clone)]
pub enum SessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

macro_rules! on_store {
    ($store:expr, |$s:ident| $body:expr) => {
        match $store {
            SessionStore::Sqlite($s) => $body,
            SessionStore::Postgres($s) => $body,
        }
    };
}

impl SessionStore {
    pub fn new(db: Db) -> Self {
        match db {
            Db::Sqlite(pool) => SessionStore::Sqlite(SqliteStore::new(pool)),
            Db::Postgres(pool) => SessionStore::Postgres(PostgresStore::new(pool)),
        }
    }

    pub async fn migrate(&self) -> sqlx::Result<()> {
        on_store!(self, |s| s.migrate().await)
    }
}

#[async_trait]
impl session_store::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        on_store!(self, |s| s.create(record).await)
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
        on_store!(self, |s| s.delete_expired().await)
    }
}
