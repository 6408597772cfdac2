//! The admin: its own sign-in and session (cookie `admin_session`), the All
//! Customers grid, the customer actions, Password Options and the two logs.
//! Who may do what is decided by `Role::allows`; handlers only ask.

mod actions;
mod audit;
mod auth;
mod config;
mod customers;
mod export;
mod grid;
mod guard;
mod logs;
mod setup;

use std::collections::HashMap;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(auth::home))
        .route("/admin/", get(auth::home))
        .route("/admin/login", get(auth::login_page).post(auth::login))
        .route("/admin/logout", post(auth::logout))
        .route("/admin/setup", get(setup::page).post(setup::create))
        .route("/admin/customers", get(customers::grid))
        .route("/admin/customers/export.csv", get(export::csv))
        .route("/admin/customers/{id}", get(customers::view))
        .route(
            "/admin/customers/{id}/reset-password",
            post(actions::reset_password),
        )
        .route("/admin/customers/{id}/unlock", post(actions::unlock))
        .route(
            "/admin/customers/{id}/force-sign-in",
            get(actions::confirm_force_sign_in).post(actions::force_sign_in),
        )
        .route(
            "/admin/config/customer",
            get(config::page).post(config::save),
        )
        .route("/admin/audit", get(logs::audit))
        .route("/admin/mail", get(logs::mail))
}

/// The query string as name → value. Parsing never fails (a repeated name keeps
/// its last value, bad escapes are decoded lossily), so odd input falls back to
/// defaults instead of a 400.
fn query_params(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A positive database id from a path or query value, or nothing.
fn parse_id(raw: &str) -> Option<i64> {
    raw.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_query_strings_parse_without_failing() {
        let params = query_params(Some("q=a%ZZ&page=2&page=3&&=x"));
        assert_eq!(params.get("page").map(String::as_str), Some("3"));
        assert!(params.contains_key("q"));
        assert!(query_params(None).is_empty());
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(parse_id("42"), Some(42));
        assert_eq!(parse_id("0"), None);
        assert_eq!(parse_id("-3"), None);
        assert_eq!(parse_id("4e2"), None);
        assert_eq!(parse_id("99999999999999999999"), None);
    }
}
