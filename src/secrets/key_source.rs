//! Where the sealing key comes from: `SECRET_KEY` when set; else a key file
//! beside a SQLite database, created on first start; else (PostgreSQL) nowhere,
//! and the server warns that dumps then hold pending links.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::random_token;
use super::sealing::{SealingKeys, SecretKey};
use crate::store::Db;

/// The key file's name, in the folder of the SQLite database.
pub const KEY_FILE_NAME: &str = "secret.key";

/// The sealing keys of this instance, from `secret` (SECRET_KEY) or the key
/// file beside a SQLite database. Logs once which source it used.
pub fn load_sealing_keys(secret: Option<&SecretKey>, db: &Db) -> anyhow::Result<SealingKeys> {
    if let Some(secret) = secret {
        tracing::info!("stored secrets are sealed under SECRET_KEY");
        return Ok(SealingKeys::from_secret(secret));
    }
    match db {
        Db::Sqlite(pool) => {
            let options = pool.connect_options();
            let database = options.get_filename();
            if !database.exists() {
                // An in-memory database: its pending mail dies with the process,
                // and so may its key.
                return Ok(SealingKeys::from_secret(&SecretKey::random()));
            }
            let path = key_file_beside(database);
            let secret = load_or_create(&path)?;
            tracing::info!(
                key_file = %path.display(),
                "stored secrets are sealed under the key file beside the database; keep it out of database backups, and do not lose it"
            );
            Ok(SealingKeys::from_secret(&secret))
        }
        Db::Postgres(_) => {
            tracing::warn!(
                "SECRET_KEY is not set: mail waiting in the outbox (which may hold a reset link) is stored in clear, so a database dump taken meanwhile holds working links; set SECRET_KEY, the same on every instance"
            );
            Ok(SealingKeys::none())
        }
    }
}

fn key_file_beside(database: &Path) -> PathBuf {
    database.with_file_name(KEY_FILE_NAME)
}

/// Reads the key file, or creates it (32 random bytes, mode 0600). Several
/// instances starting at once agree on one key: the new file is written
/// aside and hard-linked into place, which fails when another got there first.
fn load_or_create(path: &Path) -> anyhow::Result<SecretKey> {
    match std::fs::read(path) {
        Ok(bytes) => from_file(path, bytes),
        Err(e) if e.kind() == ErrorKind::NotFound => create(path),
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the sealing key file {}", path.display()))
        }
    }
}

fn from_file(path: &Path, bytes: Vec<u8>) -> anyhow::Result<SecretKey> {
    warn_if_others_can_read(path);
    SecretKey::from_bytes(bytes).with_context(|| {
        format!(
            "the sealing key file {} is not 32 bytes long; restore it from your backup (mail sealed under another key cannot be sent)",
            path.display()
        )
    })
}

fn create(path: &Path) -> anyhow::Result<SecretKey> {
    let secret = SecretKey::random();
    let aside = path.with_file_name(format!(".{KEY_FILE_NAME}.{}", random_token()));
    write_private(&aside, secret.bytes())
        .with_context(|| format!("cannot write the sealing key file {}", aside.display()))?;
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => {
            tracing::info!(key_file = %path.display(), "created the sealing key file");
            Ok(secret)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the sealing key file {}", path.display()))?;
            from_file(path, bytes)
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the sealing key file {}", path.display()))
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(key_file = %path.display(), "the sealing key file is readable by other users; chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shop-accounts-keyfile-{}", random_token()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_key_file_is_created_once_private_and_reused() {
        let dir = scratch_dir();
        let path = dir.join(KEY_FILE_NAME);
        let first = load_or_create(&path).unwrap();
        let second = load_or_create(&path).unwrap();
        assert_eq!(first.bytes(), second.bytes());
        assert_eq!(std::fs::read(&path).unwrap(), first.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Nothing else is left in the folder.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn racing_starts_agree_on_one_key() {
        let dir = scratch_dir();
        let path = dir.join(KEY_FILE_NAME);
        let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&path).unwrap().bytes().to_vec()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| k == &keys[0]));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_damaged_key_file_is_refused_with_a_reason() {
        let dir = scratch_dir();
        let path = dir.join(KEY_FILE_NAME);
        std::fs::write(&path, b"short").unwrap();
        let error = format!("{:#}", load_or_create(&path).unwrap_err());
        assert!(error.contains("not 32 bytes"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
