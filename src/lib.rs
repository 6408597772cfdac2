//! shop-accounts: the customer-account side of a web shop.
//!
//! http (storefront | admin | api) → domain (accounts, recovery, api_tokens,
//! settings) → store (SQL) + mail (outbox).

pub mod accounts;
pub mod api_tokens;
pub mod app;
pub mod clock;
pub mod config;
pub mod demo;
pub mod http;
pub mod i18n;
pub mod mail;
pub mod recovery;
pub mod secrets;
pub mod settings;
pub mod state;
pub mod store;
pub mod work;

pub use app::Application;
pub use config::Config;
