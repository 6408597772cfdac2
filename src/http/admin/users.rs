//! The Administrators page (Administrator only): every administrator with
//! role, two-factor, last sign-in and status; invite one; change a role,
//! disable or enable one. Nothing here shows a password, token or secret: the
//! rows it reads hold none.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::response::Response;

use super::guard::{Allowed, may};
use super::parse_id;
use crate::accounts::admin_users::{self, ChangeError};
use crate::accounts::admins::{CreateAdminError, Role};
use crate::audit;
use crate::http::context::FlashKind;
use crate::http::csrf;
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, format_datetime, render, see_other};

pub const PATH: &str = "/admin/users";

struct AdminView {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    role_label: String,
    two_factor: String,
    last_sign_in: String,
    status: String,
    active: bool,
    is_self: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    page: PageView,
    admins: Vec<AdminView>,
}

fn role_label_key(role: Role) -> &'static str {
    match role {
        Role::Administrator => "admin-role-administrator",
        Role::Support => "admin-role-support",
    }
}

pub async fn list(admin: Allowed<may::ManageAdministrators>) -> AppResult<Response> {
    let visitor = &admin.visitor;
    let rows = admin.state().db.all_admins().await?;
    let admins = rows
        .into_iter()
        .filter_map(|row| {
            let role = Role::parse(&row.role)?;
            let status = if row.activated != 1 {
                "admin-users-status-invited"
            } else if row.active == 1 {
                "admin-users-status-active"
            } else {
                "admin-users-status-disabled"
            };
            Some(AdminView {
                id: row.id,
                is_self: row.id == admin.admin.id,
                name: row.name,
                email: row.email,
                role: role.code(),
                role_label: visitor.t(role_label_key(role)),
                two_factor: visitor.t(if row.two_factor == 1 {
                    "admin-users-two-factor-on"
                } else {
                    "admin-users-two-factor-off"
                }),
                last_sign_in: row.last_sign_in_at.map(format_datetime).unwrap_or_default(),
                status: visitor.t(status),
                active: row.active == 1,
            })
        })
        .collect();
    render(&UsersPage {
        page: admin.page("admin-users-title").await?,
        admins,
    })
}

pub async fn create(
    admin: Allowed<may::ManageAdministrators>,
    Form(form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let visitor = &admin.visitor;
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let Some(role) = Role::parse(field("role")) else {
        visitor
            .flash_key(FlashKind::Error, "admin-users-bad-role")
            .await?;
        return Ok(see_other(PATH));
    };
    let entry = admin.audit_entry(audit::ADMIN_CREATED, None, String::new());
    let result = admin_users::invite(
        admin.state(),
        field("email"),
        field("name"),
        role,
        visitor.locale,
        entry,
    )
    .await;
    let error = match result {
        Ok(_) => {
            visitor
                .flash(
                    FlashKind::Success,
                    visitor.t_with("admin-users-invited", &[("email", field("email").trim())]),
                )
                .await?;
            return Ok(see_other(PATH));
        }
        Err(CreateAdminError::InvalidEmail(key)) => {
            format!("{}: {}", visitor.t("field-email"), visitor.t(key))
        }
        Err(CreateAdminError::InvalidName(e)) => format!(
            "{}: {}",
            visitor.t("admin-field-name"),
            visitor.t(e.message_key())
        ),
        Err(CreateAdminError::EmailTaken) => visitor.t("admin-email-taken"),
        Err(CreateAdminError::Policy(_)) => visitor.t("admin-users-bad-role"),
        Err(CreateAdminError::Internal(e)) => return Err(e.into()),
    };
    visitor.flash(FlashKind::Error, error).await?;
    Ok(see_other(PATH))
}

pub async fn change(
    admin: Allowed<may::ManageAdministrators>,
    Path(id): Path<String>,
    Form(mut form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    form.remove(csrf::FIELD);
    let visitor = &admin.visitor;
    let id = parse_id(&id).ok_or(AppError::NotFound)?;
    let role = match form.get("role").map(|r| r.trim()).filter(|r| !r.is_empty()) {
        None => None,
        Some(raw) => match Role::parse(raw) {
            Some(role) => Some(role),
            None => {
                visitor
                    .flash_key(FlashKind::Error, "admin-users-bad-role")
                    .await?;
                return Ok(see_other(PATH));
            }
        },
    };
    let active = match form
        .get("active")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        None => None,
        Some("1") => Some(true),
        Some("0") => Some(false),
        Some(_) => {
            visitor
                .flash_key(FlashKind::Error, "admin-users-bad-active")
                .await?;
            return Ok(see_other(PATH));
        }
    };
    let entry = admin.audit_entry(audit::ADMIN_CHANGED, None, String::new());
    match admin_users::change(admin.state(), id, role, active, entry).await {
        Ok(_) => {
            visitor
                .flash_key(FlashKind::Success, "admin-users-changed")
                .await?
        }
        Err(ChangeError::NotFound) => return Err(AppError::NotFound),
        Err(ChangeError::LastAdministrator) => {
            visitor
                .flash_key(FlashKind::Error, "admin-users-last-administrator")
                .await?
        }
        Err(ChangeError::Store(e)) => return Err(e.into()),
    }
    Ok(see_other(PATH))
}
