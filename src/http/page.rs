//! The part of every HTML page that the layout needs, and rendering.

use askama::Template;
use axum::http::header::{LOCATION, REFERRER_POLICY};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::context::{Flash, Visitor};
use super::errors::AppResult;
use crate::accounts::PasswordPolicy;
use crate::accounts::admins::{Admin, Permission};
use crate::i18n::Locale;
use crate::settings::PasswordOptions;
use crate::store::CustomerRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Storefront,
    Admin,
}

pub struct PageView {
    pub locale: Locale,
    pub title: String,
    pub form_key: String,
    pub customer_name: Option<String>,
    pub admin: Option<Admin>,
    pub flashes: Vec<Flash>,
    pub path: String,
    pub area: Area,
    /// For password hints and the strength meter; the server's policy decides,
    /// the hint only informs. The defaults unless the page asked for the stored
    /// policy (`Visitor::with_password_policy`).
    pub password_policy: PasswordPolicy,
}

impl PageView {
    pub fn t(&self, key: &str) -> String {
        self.locale.t(key)
    }

    pub fn lang(&self) -> &'static str {
        self.locale.code()
    }

    pub fn locales(&self) -> [Locale; 2] {
        Locale::ALL
    }

    pub fn is_admin_area(&self) -> bool {
        self.area == Area::Admin
    }

    pub fn t_name(&self, key: &str, name: &str) -> String {
        self.locale.t_with(key, &[("name", name)])
    }

    pub fn t_min(&self, key: &str) -> String {
        self.locale.t_with(
            key,
            &[("min", &self.password_policy.min_length.to_string())],
        )
    }

    /// The hint under a new-password input, from the server's policy.
    pub fn password_hint(&self) -> String {
        let mut hint = self.t_min("password-hint");
        if self.password_policy.required_classes > 0 {
            hint.push(' ');
            hint.push_str(&self.locale.t_with(
                "password-hint-classes",
                &[("count", &self.password_policy.required_classes.to_string())],
            ));
        }
        hint
    }

    /// The notes under the input with id `field` (from the last POST).
    pub fn errors_for(&self, field: &str) -> Vec<&str> {
        self.flashes
            .iter()
            .filter_map(|f| f.field.as_ref())
            .filter(|n| n.id == field)
            .map(|n| n.note.as_str())
            .collect()
    }

    pub fn has_error(&self, field: &str) -> bool {
        !self.errors_for(field).is_empty()
    }

    /// The input's `aria-describedby`: its error note first, then `others`.
    pub fn described_by(&self, field: &str, others: &str) -> String {
        let mut ids = Vec::new();
        if self.has_error(field) {
            ids.push(format!("{field}-error"));
        }
        ids.extend(others.split_whitespace().map(str::to_string));
        ids.join(" ")
    }

    pub fn t_date(&self, key: &str, unix: &i64) -> String {
        self.locale.t_with(key, &[("date", &format_date(*unix))])
    }

    /// Navigation: each admin link shows under the permission its page checks.
    pub fn admin_can_configure(&self) -> bool {
        self.admin_can(Permission::EditPasswordOptions)
    }

    pub fn admin_can_view_audit(&self) -> bool {
        self.admin_can(Permission::ViewAudit)
    }

    pub fn admin_can_view_mail(&self) -> bool {
        self.admin_can(Permission::ViewMailQueue)
    }

    fn admin_can(&self, permission: Permission) -> bool {
        self.admin.as_ref().is_some_and(|a| a.can(permission))
    }
}

/// `2026-11-27`, in UTC.
pub fn format_date(unix: i64) -> String {
    format_unix(
        unix,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
}

/// `2026-11-27 14:05 UTC`.
pub fn format_datetime(unix: i64) -> String {
    format_unix(
        unix,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"),
    )
}

fn format_unix(unix: i64, format: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

impl Visitor {
    /// The layout's view of a storefront page; takes the pending flash messages.
    pub async fn storefront_page(
        &self,
        title_key: &str,
        customer: Option<&CustomerRow>,
    ) -> AppResult<PageView> {
        let name = customer.map(|c| format!("{} {}", c.firstname, c.lastname));
        self.page(title_key, Area::Storefront, name, None).await
    }

    /// The layout's view of an admin page.
    pub async fn admin_page(&self, title_key: &str, admin: Option<&Admin>) -> AppResult<PageView> {
        self.page(title_key, Area::Admin, None, admin.cloned())
            .await
    }

    /// `page` with the stored password policy, for pages with a new-password
    /// field; other pages skip that query.
    pub async fn with_password_policy(&self, page: PageView) -> AppResult<PageView> {
        let options = PasswordOptions::load(&self.state.db).await?;
        Ok(PageView {
            password_policy: options.policy(),
            ..page
        })
    }

    async fn page(
        &self,
        title_key: &str,
        area: Area,
        customer_name: Option<String>,
        admin: Option<Admin>,
    ) -> AppResult<PageView> {
        Ok(PageView {
            password_policy: PasswordOptions::default().policy(),
            locale: self.locale,
            title: self.t(title_key),
            form_key: self.form_key.clone(),
            customer_name,
            admin,
            flashes: self.take_flashes().await?,
            path: self.path.clone(),
            area,
        })
    }
}

pub fn render<T: Template>(template: &T) -> AppResult<Response> {
    Ok(Html(template.render()?).into_response())
}

/// For pages that must not leak their URL to another site (reset pages).
pub fn no_referrer(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// POST → 303 → GET.
pub fn see_other(path: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(path) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}
