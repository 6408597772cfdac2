use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

use super::flash_password_problems;
use crate::http::context::{FlashKind, Visitor};
use crate::http::errors::AppResult;
use crate::http::page::{PageView, no_referrer, render, see_other};
use crate::recovery::{self, Link, RequestError, Requester, ResetError};

const FORGOT: &str = "/customer/account/forgotpassword";
const CREATE_PASSWORD: &str = "/customer/account/createPassword";
/// The session keeps the link's hash, never the token itself.
const RESET_TOKEN_HASH: &str = "reset_token_hash";
const FORGOT_DRAFT: &str = "forgot_email";

#[derive(Template)]
#[template(path = "storefront/forgot.html")]
struct ForgotPage {
    page: PageView,
    email: String,
}

pub async fn forgot_page(visitor: Visitor) -> AppResult<Response> {
    let customer = visitor.customer().await?;
    let email = visitor
        .session_take(FORGOT_DRAFT)
        .await?
        .unwrap_or_default();
    let page = visitor
        .storefront_page("forgot-title", customer.as_ref())
        .await?;
    Ok(no_referrer(render(&ForgotPage { page, email })?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(visitor: Visitor, Form(form): Form<ForgotForm>) -> AppResult<Response> {
    let requester = Requester::Visitor {
        client_ip: visitor.client_ip,
    };
    match recovery::request_reset(&visitor.state, &form.email, requester).await {
        Ok(()) => {
            let text = visitor.t_with("forgot-sent", &[("email", form.email.trim())]);
            visitor.flash(FlashKind::Success, text).await?;
            Ok(see_other("/customer/account/login"))
        }
        Err(RequestError::Limited) => {
            let support = visitor.state.config.support_email.clone();
            let text = visitor.t_with("reset-limit", &[("support", &support)]);
            visitor.flash(FlashKind::Error, text).await?;
            Ok(see_other(FORGOT))
        }
        Err(RequestError::InvalidEmail(e)) => {
            let note = visitor.t(e.message_key());
            let text = format!("{}: {note}", visitor.t("field-email"));
            visitor.flash_field("email_address", text, note).await?;
            if form.email.chars().count() <= crate::accounts::MAX_EMAIL_LENGTH {
                visitor
                    .session
                    .insert(FORGOT_DRAFT, form.email.trim())
                    .await?;
            }
            Ok(see_other(FORGOT))
        }
        Err(RequestError::Internal(e)) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenQuery {
    token: Option<String>,
}

#[derive(Template)]
#[template(path = "storefront/create_password.html")]
struct CreatePasswordPage {
    page: PageView,
}

async fn link_expired(visitor: &Visitor) -> AppResult<Response> {
    visitor.session_take::<String>(RESET_TOKEN_HASH).await?;
    visitor
        .flash_key(FlashKind::Error, "reset-link-expired")
        .await?;
    Ok(no_referrer(see_other(FORGOT)))
}

/// With `?token=`: a live link is kept (hashed) in the session and the browser
/// moves to the token-free URL; opening it never uses it up. Without: the form.
pub async fn create_password_page(
    visitor: Visitor,
    Query(query): Query<TokenQuery>,
) -> AppResult<Response> {
    if let Some(raw) = query.token {
        let opened = recovery::open_link(&visitor.state, &raw, visitor.client_ip).await?;
        let Some(hash) = opened else {
            return link_expired(&visitor).await;
        };
        // Under a new session id: a session id planted in this browser by
        // someone else must not reach the link.
        visitor.insert_under_new_id(RESET_TOKEN_HASH, hash).await?;
        return Ok(no_referrer(see_other(CREATE_PASSWORD)));
    }
    let Some(hash) = visitor.session_get::<String>(RESET_TOKEN_HASH).await? else {
        return link_expired(&visitor).await;
    };
    if !recovery::kept_link_is_live(&visitor.state, &hash).await? {
        return link_expired(&visitor).await;
    }
    let page = visitor
        .storefront_page("create-password-title", None)
        .await?;
    let page = visitor.with_password_policy(page).await?;
    Ok(no_referrer(render(&CreatePasswordPage { page })?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreatePasswordForm {
    password: String,
    password_confirmation: String,
    token: Option<String>,
}

pub async fn create_password(
    visitor: Visitor,
    Query(query): Query<TokenQuery>,
    Form(form): Form<CreatePasswordForm>,
) -> AppResult<Response> {
    // A token in the form or URL serves clients that kept it there; otherwise
    // the link the session kept when it was opened.
    let presented = form.token.or(query.token);
    let kept: Option<String> = visitor.session_get(RESET_TOKEN_HASH).await?;
    let link = match (&presented, &kept) {
        (Some(token), _) => Link::Presented {
            token,
            client_ip: visitor.client_ip,
        },
        (None, Some(hash)) => Link::Kept { hash },
        (None, None) => return link_expired(&visitor).await,
    };
    let result = recovery::complete_reset(
        &visitor.state,
        link,
        None,
        &form.password,
        Some(&form.password_confirmation),
    )
    .await;
    match result {
        Ok(()) => {
            // The customer is not signed in: they sign in with the new password.
            visitor.sign_out().await?;
            visitor
                .flash_key(FlashKind::Success, "password-updated")
                .await?;
            Ok(no_referrer(see_other("/customer/account/login")))
        }
        Err(ResetError::InvalidLink) => link_expired(&visitor).await,
        Err(ResetError::Policy(problems)) => {
            flash_password_problems(&visitor, &problems).await?;
            Ok(no_referrer(see_other(CREATE_PASSWORD)))
        }
        Err(ResetError::Internal(e)) => Err(e.into()),
    }
}
