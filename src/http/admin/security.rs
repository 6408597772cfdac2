//! `GET,POST /admin/config/security`: `admin_two_factor` (required/optional)
//! and `new_device_email` (1/0), the same validation as `config set`: one
//! wrong value and nothing is saved. Changes are audited old → new.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::guard::{Allowed, may};
use crate::audit;
use crate::http::context::FlashKind;
use crate::http::errors::AppResult;
use crate::http::page::{PageView, render, see_other};
use crate::settings::keys::{self, SettingError};
use crate::settings::security::{
    ADMIN_TWO_FACTOR_KEY, AdminTwoFactor, NEW_DEVICE_EMAIL_KEY, SecuritySettings, parse_flag,
};

pub const PATH: &str = "/admin/config/security";

#[derive(Template)]
#[template(path = "admin/security.html")]
struct SecurityPage {
    page: PageView,
    two_factor_required: bool,
    new_device_email: bool,
    error: bool,
}

pub async fn page(admin: Allowed<may::EditSecuritySettings>) -> AppResult<Response> {
    let settings = SecuritySettings::load(&admin.state().db).await?;
    render(&SecurityPage {
        page: admin.page("admin-security-title").await?,
        two_factor_required: settings.admin_two_factor == AdminTwoFactor::Required,
        new_device_email: settings.new_device_email,
        error: false,
    })
}

pub async fn save(
    admin: Allowed<may::EditSecuritySettings>,
    Form(form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    let db = &admin.state().db;
    let before = SecuritySettings::load(db).await?;
    let two_factor = match form.get(ADMIN_TWO_FACTOR_KEY) {
        None => Some(before.admin_two_factor),
        Some(v) => AdminTwoFactor::parse(v),
    };
    let new_device = match form.get(NEW_DEVICE_EMAIL_KEY) {
        None => Some(before.new_device_email),
        Some(v) => parse_flag(v),
    };
    let (Some(admin_two_factor), Some(new_device_email)) = (two_factor, new_device) else {
        admin
            .visitor
            .flash_key(FlashKind::Error, "admin-config-invalid")
            .await?;
        let page = SecurityPage {
            page: admin.page("admin-security-title").await?,
            two_factor_required: before.admin_two_factor == AdminTwoFactor::Required,
            new_device_email: before.new_device_email,
            error: true,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };
    let after = SecuritySettings {
        admin_two_factor,
        new_device_email,
    };
    let entry = admin.audit_entry(audit::SETTINGS, None, String::new());
    match keys::save_security(db, &before, &after, entry).await {
        Ok(_) => {}
        Err(SettingError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(anyhow::anyhow!("{e}").into()),
    }
    admin
        .visitor
        .flash_key(FlashKind::Success, "admin-config-saved")
        .await?;
    Ok(see_other(PATH))
}
