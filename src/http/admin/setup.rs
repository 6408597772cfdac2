//! First run: the one-time setup URL from the server log creates the first
//! administrator (role Administrator) and signs them in. Once an administrator
//! exists, or the token is used, the URL answers 404.

use askama::Template;
use axum::Form;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::audit;
use super::auth;
use super::query_params;
use crate::accounts::admins::{self, CreateAdminError};
use crate::http::context::{FlashKind, Visitor};
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, no_referrer, render};
use crate::http::storefront::password_messages;
use crate::store::AuditEntry;

#[derive(Template)]
#[template(path = "admin/setup.html")]
struct SetupPage {
    page: PageView,
    /// The form posts back to the same URL; the token stays in the query.
    action: String,
    email: String,
    name: String,
    errors: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetupForm {
    email: String,
    name: String,
    password: String,
    password_confirmation: String,
}

/// The token from the query, if it is the live setup token (404 otherwise).
async fn live_token(visitor: &Visitor, raw_query: Option<&str>) -> AppResult<String> {
    let token = query_params(raw_query)
        .remove("token")
        .ok_or(AppError::NotFound)?;
    if admins::setup::is_valid(&visitor.state, &token).await? {
        Ok(token)
    } else {
        Err(AppError::NotFound)
    }
}

fn action_url(token: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    format!("/admin/setup?{query}")
}

async fn render_form(
    visitor: &Visitor,
    token: &str,
    form: SetupForm,
    errors: Vec<String>,
) -> AppResult<Response> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SetupPage {
        page: visitor
            .with_password_policy(visitor.admin_page("admin-setup-title", None).await?)
            .await?,
        action: action_url(token),
        email: form.email,
        name: form.name,
        errors,
    };
    // The URL holds the token: no Referer may carry it elsewhere.
    Ok(no_referrer((status, render(&page)?).into_response()))
}

pub async fn page(visitor: Visitor, RawQuery(query): RawQuery) -> AppResult<Response> {
    let token = live_token(&visitor, query.as_deref()).await?;
    render_form(&visitor, &token, SetupForm::default(), Vec::new()).await
}

pub async fn create(
    visitor: Visitor,
    RawQuery(query): RawQuery,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    let token = live_token(&visitor, query.as_deref()).await?;
    let state = &visitor.state;
    let created = admins::setup::create_first(
        state,
        &token,
        &form.email,
        &form.name,
        &form.password,
        Some(&form.password_confirmation),
    )
    .await;
    let errors = match created {
        Ok(Some(_)) => Vec::new(),
        // Another submission used the token first.
        Ok(None) => return Err(AppError::NotFound),
        Err(CreateAdminError::InvalidEmail(key)) => {
            vec![format!("{}: {}", visitor.t("field-email"), visitor.t(key))]
        }
        Err(CreateAdminError::InvalidName(e)) => vec![format!(
            "{}: {}",
            visitor.t("admin-field-name"),
            visitor.t(e.message_key())
        )],
        Err(CreateAdminError::Policy(problems)) => password_messages(&visitor, &problems),
        Err(CreateAdminError::EmailTaken) => vec![visitor.t("admin-email-taken")],
        Err(CreateAdminError::Internal(e)) => return Err(e.into()),
    };
    if !errors.is_empty() {
        let kept = SetupForm {
            password: String::new(),
            password_confirmation: String::new(),
            ..form
        };
        return render_form(&visitor, &token, kept, errors).await;
    }
    // Signing in through the ordinary path also records the first sign-in;
    // while two-factor is required it leads straight into enrolment.
    let admin = admins::sign_in(state, &form.email, &form.password, None)
        .await
        .map_err(|e| anyhow::anyhow!("the new administrator cannot sign in: {e}"))?;
    state
        .db
        .insert_audit(&AuditEntry {
            at: state.now(),
            admin_id: Some(admin.id),
            admin_email: admin.email.clone(),
            action: audit::SETUP,
            customer_id: None,
            client_ip: visitor.client_ip.to_string(),
            detail: String::new(),
        })
        .await?;
    let next = auth::after_password(&visitor, &admin).await?;
    // "Signed in" only when they are: otherwise enrolment comes first.
    if visitor.admin().await?.is_some() {
        visitor
            .flash_key(FlashKind::Success, "admin-setup-success")
            .await?;
    }
    Ok(next)
}
