//! One integration-test binary: the real app, a real database per test (SQLite,
//! and PostgreSQL when TEST_DATABASE_URL is set), a real SMTP server on loopback.

#![allow(dead_code)] // helpers serve several test modules; not each uses all

mod helpers;
mod smtp_sink;

mod admin;
mod api;
mod browser;
mod edge;
mod grid_filters;
mod grid_search;
mod lockout;
mod recovery;
mod seal;
mod sessions;
mod storefront;
