//! `GET,POST /admin/account/activate?token=T`: an invited administrator
//! chooses their password. As with a reset link, the token leaves the address
//! at once (its hash is kept in the session, under a fresh session id), so no
//! Referer, history entry or log line carries it.

use askama::Template;
use axum::Form;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::LOGIN;
use super::query_params;
use crate::accounts::admin_users::{self, ActivateError};
use crate::http::context::{FlashKind, Visitor};
use crate::http::errors::AppResult;
use crate::http::page::{PageView, no_referrer, render, see_other};
use crate::http::storefront::password_messages;

pub const PATH: &str = "/admin/account/activate";
const LINK_HASH: &str = "admin_activation_hash";

#[derive(Template)]
#[template(path = "admin/activate.html")]
struct ActivatePage {
    page: PageView,
    name: String,
    email: String,
    errors: Vec<String>,
}

async fn link_gone(visitor: &Visitor) -> AppResult<Response> {
    visitor.session_take::<String>(LINK_HASH).await?;
    visitor
        .flash_key(FlashKind::Error, "admin-activate-invalid")
        .await?;
    Ok(see_other(LOGIN))
}

async fn render_form(visitor: &Visitor, hash: &str, errors: Vec<String>) -> AppResult<Response> {
    let Some(row) = admin_users::invited_by_link(&visitor.state, hash).await? else {
        return link_gone(visitor).await;
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = visitor
        .with_password_policy(visitor.admin_page("admin-activate-title", None).await?)
        .await?;
    let body = render(&ActivatePage {
        page,
        name: row.name,
        email: row.email,
        errors,
    })?;
    Ok(no_referrer((status, body).into_response()))
}

pub async fn page(visitor: Visitor, RawQuery(query): RawQuery) -> AppResult<Response> {
    if let Some(token) = query_params(query.as_deref()).remove("token") {
        let hash = admin_users::link_hash(&token);
        if admin_users::invited_by_link(&visitor.state, &hash)
            .await?
            .is_none()
        {
            return link_gone(&visitor).await;
        }
        visitor.insert_under_new_id(LINK_HASH, hash).await?;
        return Ok(no_referrer(see_other(PATH)));
    }
    let Some(hash) = visitor.session_get::<String>(LINK_HASH).await? else {
        return link_gone(&visitor).await;
    };
    render_form(&visitor, &hash, Vec::new()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActivateForm {
    password: String,
    password_confirmation: String,
}

pub async fn activate(visitor: Visitor, Form(form): Form<ActivateForm>) -> AppResult<Response> {
    let Some(hash) = visitor.session_get::<String>(LINK_HASH).await? else {
        return link_gone(&visitor).await;
    };
    let result = admin_users::activate(
        &visitor.state,
        &hash,
        &form.password,
        &form.password_confirmation,
        &visitor.client_ip.to_string(),
    )
    .await;
    match result {
        Ok(_) => {
            visitor.session_take::<String>(LINK_HASH).await?;
            visitor
                .flash_key(FlashKind::Success, "admin-activate-done")
                .await?;
            Ok(see_other(LOGIN))
        }
        Err(ActivateError::InvalidLink) => link_gone(&visitor).await,
        Err(ActivateError::Policy(problems)) => {
            let errors = password_messages(&visitor, &problems);
            render_form(&visitor, &hash, errors).await
        }
        Err(ActivateError::Internal(e)) => Err(e.into()),
    }
}
