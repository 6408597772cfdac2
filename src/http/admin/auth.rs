//! Admin sign-in and sign-out: the same one-message failure and lockout as the
//! storefront, in the admin's own session.

use askama::Template;
use axum::Form;
use axum::response::Response;
use serde::Deserialize;

use crate::accounts::admins;
use crate::accounts::customers::SignInError;
use crate::http::context::{FlashKind, Visitor};
use crate::http::errors::AppResult;
use crate::http::page::{PageView, render, see_other};

pub const LOGIN: &str = "/admin/login";
pub const START: &str = "/admin/customers";

pub async fn home() -> Response {
    see_other(START)
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    page: PageView,
    /// No administrator yet: point the operator at the setup link in the log.
    needs_setup: bool,
}

pub async fn login_page(visitor: Visitor) -> AppResult<Response> {
    if visitor.admin().await?.is_some() {
        return Ok(see_other(START));
    }
    let needs_setup = visitor.state.db.admin_count().await? == 0;
    render(&LoginPage {
        page: visitor.admin_page("admin-login-title", None).await?,
        needs_setup,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
}

pub async fn login(visitor: Visitor, Form(form): Form<LoginForm>) -> AppResult<Response> {
    match admins::sign_in(&visitor.state, &form.email, &form.password).await {
        Ok(admin) => {
            visitor.sign_in_admin(&admin).await?;
            tracing::info!(admin_id = admin.id, "administrator signed in");
            Ok(see_other(START))
        }
        Err(SignInError::Failed) => {
            visitor.flash_key(FlashKind::Error, "login-failed").await?;
            Ok(see_other(LOGIN))
        }
        Err(SignInError::Internal(e)) => Err(e.into()),
    }
}

pub async fn logout(visitor: Visitor) -> AppResult<Response> {
    visitor.sign_out().await?;
    visitor
        .flash_key(FlashKind::Success, "admin-logout-success")
        .await?;
    Ok(see_other(LOGIN))
}
