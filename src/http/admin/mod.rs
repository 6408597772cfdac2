//! The admin: its own sign-in and session, the customer grid and actions.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
