//! The storefront: account pages and password recovery (HTML, works without JavaScript).

mod account;
mod recovery;
pub mod signed_in;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(account::home))
        .route(
            "/customer/account/create",
            get(account::register_page).post(account::register),
        )
        .route(
            "/customer/account/login",
            get(account::login_page).post(account::login),
        )
        .route("/customer/account/logout", post(account::logout))
        .route("/customer/account", get(account::dashboard))
        .route("/customer/account/", get(account::dashboard))
        .route(
            "/customer/account/edit",
            get(account::edit_page).post(account::edit),
        )
        .route(
            "/customer/account/forgotpassword",
            get(recovery::forgot_page).post(recovery::forgot),
        )
        .route(
            "/customer/account/createPassword",
            get(recovery::create_password_page).post(recovery::create_password),
        )
}

/// Field-level problems turned into the visitor's language.
pub(crate) fn password_messages(
    visitor: &super::context::Visitor,
    problems: &[crate::accounts::PasswordProblem],
) -> Vec<String> {
    problems
        .iter()
        .map(|p| p.localized(visitor.locale))
        .collect()
}

/// Flashes each password problem, with a note under the input it is about.
pub(crate) async fn flash_password_problems(
    visitor: &super::context::Visitor,
    problems: &[crate::accounts::PasswordProblem],
) -> Result<(), super::errors::AppError> {
    for (problem, text) in problems.iter().zip(password_messages(visitor, problems)) {
        let field = match problem {
            crate::accounts::PasswordProblem::ConfirmationMismatch => "password_confirmation",
            _ => "password",
        };
        visitor.flash_field(field, text.clone(), text).await?;
    }
    Ok(())
}
