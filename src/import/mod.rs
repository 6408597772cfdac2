//! `shop-accounts import magento FILE [--dry-run]`: customers from Magento 2's
//! Customers Main File export, with their password hashes as Magento wrote them
//! (upgraded to argon2id at each customer's first sign-in).
//!
//! The file streams through in batches, each written in one transaction; email
//! keys already present are skipped, so running the same import again completes an
//! interrupted one and otherwise adds nothing.

mod guard;
pub mod magento_row;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

pub use magento_row::{MAX_CELL_BYTES, Reason};

use crate::http::admin::audit;
use crate::state::AppState;
use crate::store::{AuditEntry, ImportWriter, ImportedCustomer};

/// Rows a transaction writes: an interruption loses at most this much work.
pub const DEFAULT_BATCH: usize = 5_000;

pub struct Options {
    pub dry_run: bool,
    pub batch_size: usize,
}

/// A rejected row: its line in the file (the header is line 1) and why.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub line: u64,
    pub reasons: Vec<Reason>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: ", self.line)?;
        for (i, reason) in self.reasons.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{reason}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct Summary {
    pub imported: u64,
    pub skipped: u64,
    pub rejected: Vec<Rejection>,
}

impl Summary {
    /// `imported N, skipped M already present, rejected K`
    pub fn line(&self) -> String {
        format!(
            "imported {}, skipped {} already present, rejected {}",
            self.imported,
            self.skipped,
            self.rejected.len()
        )
    }

    /// 0 when every row is in or already was, 1 when rows were rejected.
    pub fn exit_code(&self) -> i32 {
        if self.rejected.is_empty() { 0 } else { 1 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} has no email column: is it Magento's Customers Main File export (System › Data Transfer › Export)?"
    )]
    NoEmailColumn { path: PathBuf },
    /// The file or the database failed part-way: every row up to `after_line` is
    /// handled (and written, unless a dry run); none after it is.
    #[error("stopped after line {after_line}: {source:#} (so far: {summary})")]
    Stopped {
        after_line: u64,
        summary: String,
        source: anyhow::Error,
    },
}

impl ImportError {
    /// 2: the file could not be read or imported (see the message).
    pub fn exit_code(&self) -> i32 {
        2
    }
}

/// Imports (or with `dry_run` only checks) a Magento Customers Main File.
pub async fn magento(
    state: &AppState,
    path: &Path,
    options: &Options,
) -> Result<Summary, ImportError> {
    let unreadable = |source| ImportError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let (file, guard) = guard::RowSizeGuard::new(file);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file);
    let mut record = ByteRecord::new();
    let has_header = reader
        .read_byte_record(&mut record)
        .map_err(|e| unreadable(e.into()))?;
    let columns = has_header
        .then(|| magento_row::Columns::from_header(&record))
        .flatten()
        .ok_or_else(|| ImportError::NoEmailColumn {
            path: path.to_path_buf(),
        })?;

    let mut run = Run {
        writer: state
            .db
            .import_writer()
            .await
            .map_err(|e| ImportError::Stopped {
                after_line: 1,
                summary: Summary::default().line(),
                source: e.into(),
            })?,
        dry_run: options.dry_run,
        summary: Summary::default(),
        batch: Vec::with_capacity(options.batch_size),
        first_lines: HashMap::new(),
        done_through: 1,
    };
    let progress = progress_bar(size);
    let now = state.now();
    let locale = state.config.default_locale.code();
    let mut line = 1;
    loop {
        guard.next_row();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(run.stopped(state, path, e.into()).await),
        }
        line = record.position().map_or(line + 1, |p| p.line());
        match magento_row::read(&columns, &record, now, locale) {
            Ok(customer) => run.accept(line, customer),
            Err(reasons) => run.summary.rejected.push(Rejection { line, reasons }),
        }
        if run.batch.len() >= options.batch_size {
            if let Err(e) = run.flush(line).await {
                return Err(run.stopped(state, path, e).await);
            }
            progress.set_position(record.position().map_or(0, |p| p.byte()));
            progress.set_message(format!("{} imported", run.summary.imported));
        }
    }
    if let Err(e) = run.flush(line).await {
        return Err(run.stopped(state, path, e).await);
    }
    progress.finish_and_clear();
    let Run {
        writer, summary, ..
    } = run;
    let finished = writer.finish().await;
    if !options.dry_run {
        record_in_audit(state, path, &summary, None).await;
    }
    finished.map_err(|e| ImportError::Stopped {
        after_line: line,
        summary: summary.line(),
        source: e.into(),
    })?;
    Ok(summary)
}

/// The state of one import between batches.
struct Run {
    writer: ImportWriter,
    dry_run: bool,
    summary: Summary,
    batch: Vec<ImportedCustomer>,
    /// The line of each email key accepted so far, by a 128-bit fingerprint: a
    /// million addresses take tens of MB rather than hundreds.
    first_lines: HashMap<u128, u64>,
    /// Every row up to this line is handled and its batch written.
    done_through: u64,
}

impl Run {
    /// The first row with an email wins; a later one is rejected naming it.
    fn accept(&mut self, line: u64, customer: ImportedCustomer) {
        let digest = Sha256::digest(customer.email_key.as_bytes());
        let fingerprint = u128::from_le_bytes(digest[..16].try_into().expect("16 bytes"));
        match self.first_lines.get(&fingerprint) {
            Some(&first_line) => self.summary.rejected.push(Rejection {
                line,
                reasons: vec![Reason::Duplicate { first_line }],
            }),
            None => {
                self.first_lines.insert(fingerprint, line);
                self.batch.push(customer);
            }
        }
    }

    /// Writes the batch in one transaction (a dry run only counts what is present);
    /// then every row up to `line` is done.
    async fn flush(&mut self, line: u64) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            self.done_through = line;
            return Ok(());
        }
        let total = self.batch.len() as u64;
        let imported = if self.dry_run {
            let keys: Vec<&str> = self.batch.iter().map(|c| c.email_key.as_str()).collect();
            total - self.writer.count_existing(&keys).await?
        } else {
            self.writer.insert_batch(&self.batch).await?
        };
        self.summary.imported += imported;
        self.summary.skipped += total - imported;
        self.batch.clear();
        self.done_through = line;
        Ok(())
    }

    /// What stopped the import part-way; the batches before it are in, and audited.
    async fn stopped(self, state: &AppState, path: &Path, source: anyhow::Error) -> ImportError {
        if !self.dry_run {
            record_in_audit(state, path, &self.summary, Some(self.done_through)).await;
        }
        ImportError::Stopped {
            after_line: self.done_through,
            summary: self.summary.line(),
            source,
        }
    }
}

/// The audit log's record of an import: who (`cli`), the file and the counts.
async fn record_in_audit(state: &AppState, path: &Path, summary: &Summary, stopped: Option<u64>) {
    let mut detail = format!("file {}: {}", path.display(), summary.line());
    if let Some(line) = stopped {
        detail.push_str(&format!("; stopped after line {line}"));
    }
    let entry = AuditEntry {
        at: state.now(),
        admin_id: None,
        admin_email: "cli".to_string(),
        action: audit::MAGENTO_IMPORT,
        customer_id: None,
        client_ip: String::new(),
        detail,
    };
    if let Err(e) = state.db.insert_audit(&entry).await {
        tracing::warn!("the import is not in the audit log: {e}");
    }
}

/// A bar on a terminal (bytes read of the file); nothing otherwise.
fn progress_bar(file_size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(file_size);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {msg} ({elapsed}, about {eta} left)",
    ) {
        bar.set_style(style);
    }
    bar
}
