//! One clap struct: every setting is a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use url::Url;

use crate::cli::logging::LogFormat;
use crate::i18n::Locale;
use crate::secrets::SecretKey;

#[derive(Debug, Parser)]
#[command(
    name = "shop-accounts",
    version,
    about = "Customer accounts for a web shop: sign-in, password recovery and the admin customer grid"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the storefront, admin and REST API (the default).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Read or change a setting (the Password Options, `admin_two_factor`,
    /// `new_device_email`); a change is checked like the form and audited as `cli`.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Act on customers in bulk.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Fill the store with realistic fake customers, for demos and benchmarks.
    DemoData {
        /// How many customers to add.
        #[arg(long, default_value_t = 1000)]
        customers: u64,
    },
    /// Check the configuration before a deploy: database reachable and migrated,
    /// SMTP answering, BASE_URL sane, listen addresses free. Exit 1 on a problem.
    Check {
        /// Only ask the running server's /readyz on LISTEN (for container health checks).
        #[arg(long)]
        ready: bool,
    },
    /// Write an online, consistent copy of a SQLite database to FILE (PostgreSQL: use pg_dump).
    Backup {
        /// Where the copy goes; must not exist yet.
        file: PathBuf,
    },
    /// Move customers in from another shop.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import Magento 2's Customers Main File export (CSV) with its password hashes.
    ///
    /// Exit status: 0 all rows imported or already present, 1 some rows rejected
    /// (the others are in), 2 the file could not be read or imported.
    Magento {
        /// The CSV from System › Data Transfer › Export, entity "Customers Main File".
        file: PathBuf,
        /// Check the whole file and report what would happen, writing nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows per transaction.
        #[arg(long, default_value_t = crate::import::DEFAULT_BATCH, hide = true)]
        batch_size: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Start a bulk job (Reset Password, Unlock or Force Sign In) for the ticked
    /// ids or every customer the grid's filters match; prints the count and asks first.
    Bulk(BulkArgs),
}

#[derive(Debug, Clone, Args)]
pub struct BulkArgs {
    /// `reset_password`, `unlock` or `force_sign_in`.
    #[arg(long)]
    pub action: String,
    /// These customers (comma-separated ids) instead of the grid's filters.
    #[arg(long, value_delimiter = ',')]
    pub ids: Vec<i64>,
    /// The grid's keyword (`q`): every customer the grid finds with it.
    #[arg(long)]
    pub q: Option<String>,
    /// The grid's Locked filter: `yes` or `no`.
    #[arg(long, value_name = "yes|no")]
    pub locked: Option<String>,
    /// The grid's Active API tokens filter: `yes` or `no`.
    #[arg(long, value_name = "yes|no")]
    pub has_tokens: Option<String>,
    /// The grid's Signed in filter: `ever` or `never`.
    #[arg(long, value_name = "ever|never")]
    pub signed_in: Option<String>,
    /// Customer since, from this UTC day on (`YYYY-MM-DD`, inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub created_from: Option<String>,
    /// Customer since, up to this UTC day (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub created_to: Option<String>,
    /// Last sign-in, from this UTC day on (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub last_sign_in_from: Option<String>,
    /// Last sign-in, up to this UTC day (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub last_sign_in_to: Option<String>,
    /// Any grid parameter, as NAME=VALUE (repeatable), e.g. `--filter locked=yes`.
    #[arg(long = "filter", value_name = "NAME=VALUE")]
    pub filters: Vec<String>,
    /// Start without asking.
    #[arg(long)]
    pub yes: bool,
    /// Work on the job in this process and report progress until it ends
    /// (otherwise a running server instance works on it).
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator; the password is read from a prompt or from stdin.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// `administrator` (everything) or `support` (view, Reset Password, Unlock).
        #[arg(long, default_value = "administrator")]
        role: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove an administrator's second factor (a lost phone): they set it up
    /// again at their next sign-in. Audited as `cli`.
    ResetTwoFactor {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting, or the one named, as `key=value`.
    Get { key: Option<String> },
    /// Change one setting.
    Set { key: String, value: String },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://var/shop.db",
        global = true
    )]
    pub database_url: String,

    /// Address to bind.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:3000", global = true)]
    pub listen: SocketAddr,

    /// Where `GET /metrics` is served, apart from the public listener; empty: nowhere.
    #[arg(
        long,
        env = "METRICS_LISTEN",
        default_value = "127.0.0.1:9464",
        global = true
    )]
    pub metrics_listen: MetricsListen,

    /// Seconds a client has to send a request's headers (also the longest wait
    /// for the next request on a kept-alive connection).
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "10", value_parser = seconds, global = true, hide = true)]
    pub header_read_timeout: Duration,

    /// Seconds a connection may pass without a byte moving either way before it is closed.
    #[arg(long, env = "IDLE_TIMEOUT", default_value = "60", value_parser = seconds, global = true, hide = true)]
    pub idle_timeout: Duration,

    /// Seconds a request may take, body included, before it is answered 408
    /// (a body trickling in slower than that is cut off).
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30", value_parser = seconds, global = true, hide = true)]
    pub request_timeout: Duration,

    /// Open connections served at once; further ones wait to be accepted.
    #[arg(long, env = "MAX_CONNECTIONS", default_value = "1024", value_parser = clap::value_parser!(u32).range(1..), global = true, hide = true)]
    pub max_connections: u32,

    /// The only origin used to build links in emails (never the request's Host header).
    #[arg(
        long,
        env = "BASE_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub base_url: Url,

    /// SMTP server, e.g. smtp://127.0.0.1:2525 or smtps://user:pass@mail:465; unset: .eml files in var/mail/.
    #[arg(long, env = "SMTP_URL", global = true)]
    pub smtp_url: Option<String>,

    /// Sender of every email.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Shop <no-reply@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<IpNet>,

    /// The contact address named in the reset-limit message.
    #[arg(
        long,
        env = "SUPPORT_EMAIL",
        default_value = "support@localhost",
        global = true
    )]
    pub support_email: String,

    /// The shop's language when the browser states no supported one: en or nl.
    #[arg(long, env = "DEFAULT_LOCALE", default_value = "en", global = true)]
    pub default_locale: Locale,

    /// Log filter, e.g. info or shop_accounts=debug.
    #[arg(
        long = "log",
        visible_alias = "rust-log",
        env = "RUST_LOG",
        default_value = "info",
        global = true
    )]
    pub rust_log: String,

    /// Log lines as `text` (colours only on a terminal) or `json` (one object a line).
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Where .eml files are written when SMTP_URL is unset.
    #[arg(long, env = "MAIL_DIR", default_value = "var/mail", global = true)]
    pub mail_dir: PathBuf,

    /// Seals stored secrets a database dump must not reveal (pending reset links);
    /// at least 32 characters, the same on every instance. Unset: a key file beside
    /// a SQLite database; on PostgreSQL those secrets are then stored in clear.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<SecretKey>,

    /// Mail of bulk jobs (a bulk Reset Password) leaves each instance at most this
    /// fast, behind single requests' mail, so the SMTP relay is not flooded.
    #[arg(long, env = "BULK_MAIL_PER_MINUTE", default_value = "300", value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub bulk_mail_per_minute: u32,

    /// How long one SMTP delivery attempt may take in all (connect, TLS, the
    /// whole exchange); a relay that stalls longer is given up on and retried.
    #[arg(long, env = "SMTP_TIMEOUT_SECONDS", default_value = "10", value_parser = clap::value_parser!(u32).range(1..=300), global = true)]
    pub smtp_timeout_seconds: u32,

    /// How long a worker's claim on a message lasts unless renewed (it is renewed
    /// every third of it while the send runs): a killed instance's message is
    /// taken over by another within this time.
    #[arg(long, env = "MAIL_LEASE_SECONDS", default_value = "15", value_parser = clap::value_parser!(u32).range(3..=600), global = true, hide = true)]
    pub mail_lease_seconds: u32,

    /// Whether this instance works on bulk jobs (`false` keeps it to serving pages).
    #[arg(long, env = "RUN_JOBS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub run_jobs: bool,

    /// How long an instance's claim on a bulk job lasts unless renewed (it is
    /// renewed every third of it while a batch runs): a killed instance's job is
    /// taken over by another, or by the restarted one, within this time.
    #[arg(long, env = "JOB_LEASE_SECONDS", default_value = "10", value_parser = clap::value_parser!(u32).range(3..=600), global = true, hide = true)]
    pub job_lease_seconds: u32,

    /// Customers a bulk job handles per transaction.
    #[arg(long, env = "JOB_BATCH_SIZE", default_value = "500", value_parser = clap::value_parser!(u32).range(1..=10_000), global = true, hide = true)]
    pub job_batch_size: u32,
}

/// `METRICS_LISTEN`: an address, or nothing (an empty value turns metrics off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsListen(pub Option<SocketAddr>);

impl FromStr for MetricsListen {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(MetricsListen(None));
        }
        s.parse().map(|addr| MetricsListen(Some(addr)))
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
        _ => Err("a whole number of seconds, at least 1".to_string()),
    }
}

impl Config {
    /// Cookies get the Secure flag when the shop is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// BASE_URL without a trailing slash, for building links.
    pub fn base(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// A configuration for tests and tools: every default, this database.
    pub fn with_database(database_url: &str) -> Config {
        let cli = Cli::parse_from(["shop-accounts", "--database-url", database_url]);
        cli.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        Cli::parse_from([&["shop-accounts"], args].concat()).config
    }

    #[test]
    fn metrics_listen_defaults_to_loopback_and_empty_turns_it_off() {
        let default = parse(&[]).metrics_listen;
        assert_eq!(default.0, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(parse(&["--metrics-listen", ""]).metrics_listen.0, None);
        assert_eq!(
            parse(&["--metrics-listen", "0.0.0.0:9000"])
                .metrics_listen
                .0,
            Some("0.0.0.0:9000".parse().unwrap())
        );
    }

    #[test]
    fn connection_limits_have_safe_defaults() {
        let config = parse(&[]);
        assert_eq!(config.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.idle_timeout, Duration::from_secs(60));
        assert_eq!(config.max_connections, 1024);
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert!(Cli::try_parse_from(["shop-accounts", "--idle-timeout", "0"]).is_err());
    }
}
