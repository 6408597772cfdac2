//! The signed-in administrator as an extractor: every admin page but sign-in
//! and setup takes one, so a visitor without an admin session never reaches a
//! handler (they are sent to the sign-in page instead).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::auth::LOGIN;
use crate::accounts::admins::{Admin, Permission};
use crate::http::context::Visitor;
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, see_other};
use crate::state::AppState;
use crate::store::AuditEntry;

pub struct SignedInAdmin {
    pub visitor: Visitor,
    pub admin: Admin,
}

impl FromRequestParts<AppState> for SignedInAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match visitor.admin().await {
            Ok(Some(admin)) => Ok(SignedInAdmin { visitor, admin }),
            Ok(None) => Err(see_other(LOGIN)),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl SignedInAdmin {
    pub fn state(&self) -> &AppState {
        &self.visitor.state
    }

    /// 403 unless the administrator's role allows `permission`. Call it before
    /// anything else, so a refused request changes nothing.
    pub fn require(&self, permission: Permission) -> AppResult<()> {
        if self.admin.can(permission) {
            return Ok(());
        }
        tracing::warn!(
            admin_id = self.admin.id,
            ?permission,
            path = %self.visitor.path,
            "admin action refused: the role lacks the permission"
        );
        Err(AppError::Forbidden)
    }

    /// The layout's view of an admin page; takes the pending flash messages.
    pub async fn page(&self, title_key: &str) -> AppResult<PageView> {
        self.visitor.admin_page(title_key, Some(&self.admin)).await
    }

    /// An audit record of this administrator doing `action` now, from this IP.
    pub fn audit_entry(
        &self,
        action: &'static str,
        customer_id: Option<i64>,
        detail: String,
    ) -> AuditEntry {
        AuditEntry {
            at: self.state().now(),
            admin_id: Some(self.admin.id),
            admin_email: self.admin.email.clone(),
            action,
            customer_id,
            client_ip: self.visitor.client_ip.to_string(),
            detail,
        }
    }
}
