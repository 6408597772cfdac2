//! The half-signed-in administrator: the password was right, the second
//! factor is not done (a code to give, or enrolment while it is required).
//! They are kept in their own session slot, which `SignedInAdmin` never reads,
//! so they reach nothing but the two-factor pages — whatever tab or form.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::auth::LOGIN;
use crate::accounts::admins::{self, Admin};
use crate::http::context::Visitor;
use crate::http::errors::AppError;
use crate::http::page::see_other;
use crate::state::AppState;

const ID: &str = "admin_pending_id";
const STAMP: &str = "admin_pending_stamp";
const AT: &str = "admin_pending_at";
/// How long a password step waits for its second factor.
const LIFETIME_SECONDS: i64 = 10 * 60;

/// Remembers `admin` as half-signed-in, under a fresh session id.
pub async fn start(visitor: &Visitor, admin: &Admin) -> Result<(), AppError> {
    visitor.insert_under_new_id(ID, admin.id).await?;
    visitor.session.insert(STAMP, &admin.security_stamp).await?;
    visitor.session.insert(AT, visitor.state.now()).await?;
    Ok(())
}

pub async fn clear(visitor: &Visitor) -> Result<(), AppError> {
    visitor.session_take::<i64>(ID).await?;
    visitor.session_take::<String>(STAMP).await?;
    visitor.session_take::<i64>(AT).await?;
    Ok(())
}

/// The half-signed-in administrator of this session, if the step is recent
/// and the administrator still current (same stamp, active).
pub async fn current(visitor: &Visitor) -> Result<Option<Admin>, AppError> {
    let Some(id) = visitor.session_get::<i64>(ID).await? else {
        return Ok(None);
    };
    let at = visitor.session_get::<i64>(AT).await?.unwrap_or(0);
    let stamp = visitor
        .session_get::<String>(STAMP)
        .await?
        .unwrap_or_default();
    if visitor.state.now() - at > LIFETIME_SECONDS {
        clear(visitor).await?;
        return Ok(None);
    }
    let admin = admins::current(&visitor.state, id, &stamp).await?;
    if admin.is_none() {
        clear(visitor).await?;
    }
    Ok(admin)
}

/// A half-signed-in administrator, for the two-factor pages; anyone else is
/// sent to the sign-in page.
pub struct PendingAdmin {
    pub visitor: Visitor,
    pub admin: Admin,
}

impl FromRequestParts<AppState> for PendingAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match current(&visitor).await {
            Ok(Some(admin)) => Ok(PendingAdmin { visitor, admin }),
            Ok(None) => Err(see_other(LOGIN)),
            Err(e) => Err(e.into_response()),
        }
    }
}
