//! The shopper's security page (SPEC §9): sessions and API tokens, each one
//! ended with a CSRF-protected POST; and the "This wasn't me" link of the
//! new-device notice.

use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

use super::recovery::{CREATE_PASSWORD, RESET_TOKEN_HASH, TokenQuery};
use super::signed_in::{LOGIN, SignedInCustomer};
use crate::accounts::security::{self, ActiveSession};
use crate::http::context::{FlashKind, STOREFRONT_IDLE, STOREFRONT_MAX_AGE, Visitor};
use crate::http::errors::AppResult;
use crate::http::page::{PageView, format_datetime, no_referrer, render, see_other};
use crate::recovery::not_me;

const SECURITY: &str = "/customer/account/security";
const NOT_ME: &str = "/customer/account/notme";
/// The session keeps the "not me" link's hash, never the token.
const NOT_ME_HASH: &str = "not_me_hash";

/// One session as the page shows it.
struct SessionView {
    id: i64,
    is_current: bool,
    device: String,
    ip: String,
    signed_in: String,
    last_active: String,
}

/// One API token as the page shows it.
struct TokenView {
    id: i64,
    created: String,
    last_used: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "storefront/security.html")]
struct SecurityPage {
    page: PageView,
    sessions: Vec<SessionView>,
    others: usize,
    tokens: Vec<TokenView>,
}

fn session_view(visitor: &Visitor, s: ActiveSession) -> SessionView {
    let unknown = visitor.t("security-unknown");
    let or_unknown = |v: String| if v.is_empty() { unknown.clone() } else { v };
    SessionView {
        id: s.id,
        is_current: s.is_current,
        device: visitor.t_with(
            "security-browser-on",
            &[
                ("browser", &or_unknown(s.browser)),
                ("system", &or_unknown(s.system)),
            ],
        ),
        ip: s.ip,
        signed_in: format_datetime(s.signed_in_at),
        last_active: format_datetime(s.last_active_at),
    }
}

pub async fn page(SignedInCustomer { visitor, customer }: SignedInCustomer) -> AppResult<Response> {
    let key = visitor.session_key().await?.unwrap_or_default();
    let sessions: Vec<SessionView> = security::active_sessions(
        &visitor.state,
        customer.id,
        &key,
        STOREFRONT_IDLE.whole_seconds(),
        STOREFRONT_MAX_AGE.whole_seconds(),
    )
    .await?
    .into_iter()
    .map(|s| session_view(&visitor, s))
    .collect();
    let tokens = security::live_tokens(&visitor.state, customer.id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            created: format_datetime(t.created_at),
            last_used: t
                .last_used_at
                .map(format_datetime)
                .unwrap_or_else(|| visitor.t("security-never")),
            expires: format_datetime(t.expires_at),
        })
        .collect();
    let others = sessions.iter().filter(|s| !s.is_current).count();
    let page = visitor
        .storefront_page("security-title", Some(&customer))
        .await?;
    render(&SecurityPage {
        page,
        sessions,
        others,
        tokens,
    })
}

/// A row number from a form; anything else is no row.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RowForm {
    id: String,
}

impl RowForm {
    fn id(&self) -> Option<i64> {
        self.id.trim().parse().ok()
    }
}

pub async fn end_session(
    SignedInCustomer { visitor, customer }: SignedInCustomer,
    Form(form): Form<RowForm>,
) -> AppResult<Response> {
    let ended = match form.id() {
        Some(id) => {
            security::end_session(&visitor.state, customer.id, id, visitor.client_ip).await?
        }
        None => false,
    };
    let (kind, key) = if ended {
        (FlashKind::Success, "security-session-ended")
    } else {
        (FlashKind::Error, "security-session-gone")
    };
    visitor.flash_key(kind, key).await?;
    Ok(see_other(SECURITY))
}

pub async fn end_other_sessions(
    SignedInCustomer { visitor, customer }: SignedInCustomer,
) -> AppResult<Response> {
    let key = visitor.session_key().await?.unwrap_or_default();
    security::end_other_sessions(&visitor.state, customer.id, &key, visitor.client_ip).await?;
    visitor
        .flash_key(FlashKind::Success, "security-others-ended")
        .await?;
    Ok(see_other(SECURITY))
}

pub async fn revoke_token(
    SignedInCustomer { visitor, customer }: SignedInCustomer,
    Form(form): Form<RowForm>,
) -> AppResult<Response> {
    let revoked = match form.id() {
        Some(id) => {
            security::revoke_token(&visitor.state, customer.id, id, visitor.client_ip).await?
        }
        None => false,
    };
    let (kind, key) = if revoked {
        (FlashKind::Success, "security-token-revoked")
    } else {
        (FlashKind::Error, "security-token-gone")
    };
    visitor.flash_key(kind, key).await?;
    Ok(see_other(SECURITY))
}

#[derive(Template)]
#[template(path = "storefront/not_me.html")]
struct NotMePage {
    page: PageView,
}

async fn not_me_expired(visitor: &Visitor) -> AppResult<Response> {
    visitor.session_take::<String>(NOT_ME_HASH).await?;
    visitor
        .flash_key(FlashKind::Error, "not-me-expired")
        .await?;
    Ok(no_referrer(see_other(LOGIN)))
}

/// With `?token=`: a live link is kept (hashed) in the session and the
/// browser moves to the token-free URL. Without: the confirmation page.
/// Neither changes anything, so a mail scanner opening the link breaks nothing.
pub async fn not_me_page(visitor: Visitor, Query(query): Query<TokenQuery>) -> AppResult<Response> {
    if let Some(raw) = query.token {
        let Some(hash) = not_me::open(&visitor.state, &raw, visitor.client_ip).await? else {
            return not_me_expired(&visitor).await;
        };
        visitor.insert_under_new_id(NOT_ME_HASH, hash).await?;
        return Ok(no_referrer(see_other(NOT_ME)));
    }
    let Some(hash) = visitor.session_get::<String>(NOT_ME_HASH).await? else {
        return not_me_expired(&visitor).await;
    };
    if !not_me::is_live(&visitor.state, &hash).await? {
        return not_me_expired(&visitor).await;
    }
    let page = visitor.storefront_page("not-me-title", None).await?;
    Ok(no_referrer(render(&NotMePage { page })?))
}

/// Confirmed: every session and token ends, and this browser goes on to Set a
/// New Password with a fresh link only its session holds.
pub async fn not_me_confirm(visitor: Visitor) -> AppResult<Response> {
    let Some(hash) = visitor.session_get::<String>(NOT_ME_HASH).await? else {
        return not_me_expired(&visitor).await;
    };
    let Some(reset_hash) = not_me::confirm(&visitor.state, &hash, visitor.client_ip).await? else {
        return not_me_expired(&visitor).await;
    };
    visitor.sign_out().await?;
    visitor
        .insert_under_new_id(RESET_TOKEN_HASH, reset_hash)
        .await?;
    visitor.flash_key(FlashKind::Success, "not-me-done").await?;
    Ok(no_referrer(see_other(CREATE_PASSWORD)))
}
