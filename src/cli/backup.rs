//! `shop-accounts backup FILE`: an online, consistent copy of a SQLite database.
//! PostgreSQL is dumped with its own tools (pg_dump), as the README says.

use std::path::Path;

use anyhow::{Context, bail};

use super::sqlite_file;
use crate::config::Config;
use crate::secrets::KEY_FILE_NAME;
use crate::store::Db;

pub async fn run(config: &Config, target: &Path) -> anyhow::Result<()> {
    let Some(source) = sqlite_file(&config.database_url) else {
        bail!(
            "backup copies SQLite databases; for PostgreSQL run `pg_dump --format=custom --file=FILE DATABASE` (see the README)"
        );
    };
    if !Path::new(source).exists() {
        bail!("the SQLite database {source} does not exist");
    }
    if target.exists() {
        bail!("{} already exists; give a new file name", target.display());
    }
    let db = Db::connect_tool(&config.database_url).await?;
    db.backup_sqlite_into(target)
        .await
        .with_context(|| format!("cannot write the backup to {}", target.display()))?;
    db.close().await;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup of {source} written to {} ({bytes} bytes)",
        target.display()
    );
    if config.secret_key.is_none() {
        // Pending reset mail is sealed under the key file, which is kept apart on purpose.
        println!(
            "the key file {KEY_FILE_NAME} beside the database is not in the backup: keep a copy of it elsewhere"
        );
    }
    Ok(())
}
