//! The admin: its own sign-in and session (cookie `admin_session`), the All
//! Customers grid, the customer actions, Password Options and the two logs.
//! Who may do what is decided by `Role::allows`; handlers only ask.

mod actions;
mod activate;
pub(crate) mod audit;
mod auth;
mod bulk;
mod config;
mod customers;
mod export;
pub mod grid;
mod guard;
mod jobs;
mod logs;
mod pending;
mod security;
mod setup;
mod two_factor;
mod users;

use std::collections::HashMap;

use axum::Router;
use axum::routing::{MethodRouter, get, post};

use crate::state::AppState;

/// Who may reach a route: the table test of two-factor sign-in
/// (tests/app/two_factor.rs) walks this list, so a route added here is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: sign-in, sign-out, first-run setup, activation links.
    Open,
    /// A half-signed-in administrator: the two-factor pages.
    SecondFactor,
    /// A signed-in administrator (both factors).
    SignedIn,
}

/// Every admin route: path, who may reach it, handlers. The one list.
fn routes() -> Vec<(&'static str, Access, MethodRouter<AppState>)> {
    use Access::*;
    vec![
        ("/admin", Open, get(auth::home)),
        ("/admin/", Open, get(auth::home)),
        (
            "/admin/login",
            Open,
            get(auth::login_page).post(auth::login),
        ),
        ("/admin/logout", Open, post(auth::logout)),
        ("/admin/setup", Open, get(setup::page).post(setup::create)),
        (
            activate::PATH,
            Open,
            get(activate::page).post(activate::activate),
        ),
        (
            two_factor::LOGIN_CODE,
            SecondFactor,
            get(two_factor::code_page).post(two_factor::check_code),
        ),
        (
            two_factor::ENROL,
            SecondFactor,
            get(two_factor::enrol_page).post(two_factor::enrol),
        ),
        ("/admin/customers", SignedIn, get(customers::grid)),
        ("/admin/customers/export.csv", SignedIn, get(export::csv)),
        ("/admin/customers/{id}", SignedIn, get(customers::view)),
        (
            "/admin/customers/{id}/reset-password",
            SignedIn,
            post(actions::reset_password),
        ),
        (
            "/admin/customers/{id}/unlock",
            SignedIn,
            post(actions::unlock),
        ),
        (
            "/admin/customers/{id}/force-sign-in",
            SignedIn,
            get(actions::confirm_force_sign_in).post(actions::force_sign_in),
        ),
        (
            "/admin/config/customer",
            SignedIn,
            get(config::page).post(config::save),
        ),
        (
            security::PATH,
            SignedIn,
            get(security::page).post(security::save),
        ),
        ("/admin/audit", SignedIn, get(logs::audit)),
        ("/admin/audit/export.csv", SignedIn, get(logs::export)),
        ("/admin/mail", SignedIn, get(logs::mail)),
        (users::PATH, SignedIn, get(users::list).post(users::create)),
        ("/admin/users/{id}", SignedIn, post(users::change)),
        ("/admin/customers/bulk", SignedIn, post(bulk::start)),
        ("/admin/jobs", SignedIn, get(jobs::list)),
        ("/admin/jobs/{id}", SignedIn, get(jobs::show)),
        ("/admin/jobs/{id}/cancel", SignedIn, post(jobs::cancel)),
    ]
}

pub fn router() -> Router<AppState> {
    routes()
        .into_iter()
        .fold(Router::new(), |router, (path, _, handlers)| {
            router.route(path, handlers)
        })
}

/// Every admin route's path and who may reach it.
pub fn route_list() -> Vec<(&'static str, Access)> {
    routes()
        .into_iter()
        .map(|(path, access, _)| (path, access))
        .collect()
}

pub use bulk::{grid_filter_query, selection_from_grid_params};

/// The query string as name → value. Parsing never fails (a repeated name keeps
/// its last value, bad escapes are decoded lossily), so odd input falls back to
/// defaults instead of a 400.
pub fn query_params(raw: Option<&str>) -> HashMap<String, String> {
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
