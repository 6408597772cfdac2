//! One integration-test binary: the real app, a real database per test (SQLite,
//! and PostgreSQL when TEST_DATABASE_URL is set), a real SMTP server on loopback.

#![allow(dead_code)] // helpers serve several test modules; not each uses all

mod helpers;
mod smtp_sink;

mod abuse;
mod admin;
mod admin_users;
mod api;
mod browser;
mod bulk;
mod db_faults;
mod edge;
mod grid_filters;
mod grid_search;
mod import;
mod lockout;
mod mail_faults;
mod ops_kit;
mod recovery;
mod seal;
mod security_page;
mod sessions;
mod storefront;
mod stuffing;
mod two_factor;
mod two_instances;
