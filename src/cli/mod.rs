//! Command-line tools beside `serve`: log set-up, `check`, `backup`, and the
//! settings commands (`config get/set`, `admin reset-two-factor`).

pub mod backup;
pub mod check;
pub mod logging;
mod settings;

pub use settings::{config, reset_two_factor};

/// The file of a `sqlite://path?…` DATABASE_URL (None for PostgreSQL or `:memory:`).
pub(crate) fn sqlite_file(database_url: &str) -> Option<&str> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or(rest);
    (file != ":memory:" && !file.is_empty()).then_some(file)
}
