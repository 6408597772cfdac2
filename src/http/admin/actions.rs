//! The customer actions: Reset Password, Unlock and Force Sign In. Each is a
//! POST (a GET to its URL changes nothing), checks the role first, and writes its
//! audit record in the same transaction as the change itself.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::response::Response;

use super::audit;
use super::customers::{customer_path, find};
use super::guard::{Allowed, may};
use crate::accounts::customers;
use crate::api_tokens;
use crate::http::context::FlashKind;
use crate::http::errors::AppResult;
use crate::http::page::{PageView, render, see_other};
use crate::recovery::{self, RequestError};
use serde::Deserialize;

/// Emails the customer the same reset link as the storefront would, through the
/// same limits (counted on the customer's email only). The admin never sees it.
pub async fn reset_password(
    admin: Allowed<may::SendResetLink>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let state = admin.state();
    let customer = find(state, &id).await?;
    let entry = admin.audit_entry(audit::RESET_PASSWORD, Some(customer.id), String::new());
    let visitor = &admin.visitor;
    match recovery::admin_reset(state, &customer, &entry).await {
        Ok(()) => {
            visitor
                .flash_key(FlashKind::Success, "admin-reset-sent")
                .await?
        }
        Err(RequestError::Limited) => {
            let support = state.config.support_email.clone();
            let text = visitor.t_with("reset-limit", &[("support", &support)]);
            visitor.flash(FlashKind::Error, text).await?;
        }
        Err(RequestError::InvalidEmail(_)) => {
            visitor
                .flash_key(FlashKind::Error, "admin-reset-no-email")
                .await?
        }
        Err(RequestError::Internal(e)) => return Err(e.into()),
    }
    Ok(see_other(&customer_path(customer.id)))
}

pub async fn unlock(admin: Allowed<may::Unlock>, Path(id): Path<String>) -> AppResult<Response> {
    let state = admin.state();
    let customer = find(state, &id).await?;
    let entry = admin.audit_entry(audit::UNLOCK, Some(customer.id), String::new());
    customers::unlock(state, &customer, &entry).await?;
    admin
        .visitor
        .flash_key(FlashKind::Success, "admin-unlocked")
        .await?;
    Ok(see_other(&customer_path(customer.id)))
}

#[derive(Template)]
#[template(path = "admin/force_sign_in.html")]
struct ConfirmPage {
    page: PageView,
    id: i64,
    /// "Customer: Jane Doe (jane@example.com)".
    names_customer: String,
}

/// The confirmation page naming the customer; OK posts, Cancel goes back.
pub async fn confirm_force_sign_in(
    admin: Allowed<may::ForceSignIn>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let customer = find(admin.state(), &id).await?;
    let name = format!("{} {}", customer.firstname, customer.lastname);
    let names_customer = admin.visitor.t_with(
        "admin-force-names",
        &[("name", &name), ("email", &customer.email)],
    );
    render(&ConfirmPage {
        page: admin.page("admin-force-title").await?,
        id: customer.id,
        names_customer,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForceSignInForm {
    /// Sent by the customer view's button when JavaScript (and so its confirm
    /// dialog) is off: ask on the confirmation page before acting.
    confirm_first: Option<String>,
}

/// Revokes every API token and ends every storefront session. A second click
/// finds nothing left to revoke and reports success again.
pub async fn force_sign_in(
    admin: Allowed<may::ForceSignIn>,
    Path(id): Path<String>,
    Form(form): Form<ForceSignInForm>,
) -> AppResult<Response> {
    let state = admin.state();
    let customer = find(state, &id).await?;
    if form.confirm_first.is_some() {
        return Ok(see_other(&format!(
            "{}/force-sign-in",
            customer_path(customer.id)
        )));
    }
    let entry = admin.audit_entry(audit::FORCE_SIGN_IN, Some(customer.id), String::new());
    api_tokens::force_sign_in(state, &customer, &entry).await?;
    admin
        .visitor
        .flash_key(FlashKind::Success, "admin-force-done")
        .await?;
    Ok(see_other(&customer_path(customer.id)))
}
