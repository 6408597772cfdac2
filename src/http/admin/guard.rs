//! The signed-in administrator as an extractor: every admin page but sign-in,
//! setup, activation and the two-factor pages takes one, so a visitor without
//! an admin session never reaches a handler (they are sent to the sign-in page
//! instead). Signed in means both factors: a half-signed-in administrator
//! (see `pending`) has no admin session, and one without a second factor while
//! it is required is sent to enrol before anything else.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::auth::LOGIN;
use super::two_factor::ENROL;
use crate::accounts::admins::{Admin, Permission};
use crate::http::context::Visitor;
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, see_other};
use crate::settings::security::SecuritySettings;
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
        let admin = match visitor.admin().await {
            Ok(Some(admin)) => admin,
            Ok(None) => return Err(see_other(LOGIN)),
            Err(e) => return Err(e.into_response()),
        };
        if !admin.two_factor {
            match SecuritySettings::two_factor_required(&state.db).await {
                Ok(false) => {}
                Ok(true) => return Err(see_other(ENROL)),
                Err(e) => return Err(AppError::from(e).into_response()),
            }
        }
        Ok(SignedInAdmin { visitor, admin })
    }
}

/// A signed-in administrator whose role allows `P`: a handler that takes one
/// cannot run for anyone else (403 before the handler, so a refused request
/// changes nothing). The permission is part of the handler's signature.
pub struct Allowed<P>(pub SignedInAdmin, PhantomData<P>);

impl<P> Deref for Allowed<P> {
    type Target = SignedInAdmin;
    fn deref(&self) -> &SignedInAdmin {
        &self.0
    }
}

impl<P: Required + Send + Sync> FromRequestParts<AppState> for Allowed<P> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let signed_in = SignedInAdmin::from_request_parts(parts, state).await?;
        if signed_in.admin.can(P::PERMISSION) {
            return Ok(Allowed(signed_in, PhantomData));
        }
        tracing::warn!(
            admin_id = signed_in.admin.id,
            permission = ?P::PERMISSION,
            path = %signed_in.visitor.path,
            "admin action refused: the role lacks the permission"
        );
        Err(AppError::Forbidden.into_response())
    }
}

/// A permission as a type, for `Allowed<P>`.
pub trait Required {
    const PERMISSION: Permission;
}

macro_rules! permission_types {
    ($($name:ident),* $(,)?) => {
        /// One type per `Permission`, named alike.
        pub mod may {
            $(
                pub struct $name;
                impl super::Required for $name {
                    const PERMISSION: super::Permission = super::Permission::$name;
                }
            )*
        }
    };
}

permission_types!(
    ViewCustomers,
    SendResetLink,
    Unlock,
    ForceSignIn,
    EditPasswordOptions,
    ViewAudit,
    ViewMailQueue,
    ManageAdministrators,
    EditSecuritySettings,
    ExportAudit,
    ExportCustomers,
);

impl SignedInAdmin {
    pub fn state(&self) -> &AppState {
        &self.visitor.state
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
