//! Admin sign-in and sign-out: the same one-message failure and lockout as the
//! storefront, in the admin's own session. The password is the first step:
//! an administrator with a second factor, or without one while it is required,
//! goes on to the two-factor pages half-signed-in (see `pending`). Every
//! sign-in and every failure is audited with the client IP.

use askama::Template;
use axum::Form;
use axum::response::Response;
use serde::Deserialize;

use super::pending;
use super::two_factor::{ENROL, LOGIN_CODE};
use crate::accounts::admins::{self, Admin};
use crate::accounts::customers::SignInError;
use crate::audit;
use crate::http::context::{FlashKind, Visitor};
use crate::http::errors::AppResult;
use crate::http::page::{PageView, render, see_other};
use crate::settings::security::SecuritySettings;
use crate::store::AuditEntry;

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
    match admins::sign_in(
        &visitor.state,
        &form.email,
        &form.password,
        Some(visitor.client_ip),
    )
    .await
    {
        Ok(admin) => after_password(&visitor, &admin).await,
        Err(SignInError::Failed) => {
            let id = admins::id_by_email(&visitor.state, &form.email).await?;
            audit_sign_in(
                &visitor,
                id,
                &form.email,
                audit::ADMIN_SIGN_IN_FAILED,
                "password",
            )
            .await?;
            visitor.flash_key(FlashKind::Error, "login-failed").await?;
            Ok(see_other(LOGIN))
        }
        Err(SignInError::Internal(e)) => Err(e.into()),
    }
}

/// The password was right: on to the code, to enrolment, or signed in.
pub async fn after_password(visitor: &Visitor, admin: &Admin) -> AppResult<Response> {
    if admin.two_factor {
        pending::start(visitor, admin).await?;
        return Ok(see_other(LOGIN_CODE));
    }
    if SecuritySettings::two_factor_required(&visitor.state.db).await? {
        pending::start(visitor, admin).await?;
        return Ok(see_other(ENROL));
    }
    complete_sign_in(visitor, admin, "password").await?;
    Ok(see_other(START))
}

/// Signs `admin` in (both factors done, or the second not required), audited.
pub async fn complete_sign_in(visitor: &Visitor, admin: &Admin, how: &str) -> AppResult<()> {
    pending::clear(visitor).await?;
    visitor.sign_in_admin(admin).await?;
    audit_sign_in(
        visitor,
        Some(admin.id),
        &admin.email,
        audit::ADMIN_SIGN_IN,
        how,
    )
    .await?;
    tracing::info!(admin_id = admin.id, how, "administrator signed in");
    Ok(())
}

/// An audit record of a sign-in or a failed one. The email is what was typed
/// (shortened, control characters dropped): a record of who was tried.
pub async fn audit_sign_in(
    visitor: &Visitor,
    admin_id: Option<i64>,
    email: &str,
    action: &'static str,
    detail: &str,
) -> AppResult<()> {
    let email: String = email
        .chars()
        .filter(|c| !c.is_control())
        .take(crate::accounts::MAX_EMAIL_LENGTH)
        .collect();
    visitor
        .state
        .db
        .insert_audit(&AuditEntry {
            at: visitor.state.now(),
            admin_id,
            admin_email: email,
            action,
            customer_id: None,
            client_ip: visitor.client_ip.to_string(),
            detail: detail.to_string(),
        })
        .await?;
    Ok(())
}

/// Ends the admin session, a half-signed-in one included.
pub async fn logout(visitor: Visitor) -> AppResult<Response> {
    visitor.sign_out().await?;
    visitor
        .flash_key(FlashKind::Success, "admin-logout-success")
        .await?;
    Ok(see_other(LOGIN))
}
