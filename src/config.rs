//! One clap struct: every setting is a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use url::Url;

use crate::i18n::Locale;

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
    /// Fill the store with realistic fake customers, for demos and benchmarks.
    DemoData {
        /// How many customers to add.
        #[arg(long, default_value_t = 1000)]
        customers: u64,
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

    /// Where .eml files are written when SMTP_URL is unset.
    #[arg(long, env = "MAIL_DIR", default_value = "var/mail", global = true)]
    pub mail_dir: PathBuf,
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
