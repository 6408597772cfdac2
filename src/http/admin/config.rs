//! Password Options: the form, validated as a whole (one wrong field and nothing
//! is saved), and an audit record naming every value that changed.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::audit;
use super::guard::{Allowed, SignedInAdmin, may};
use crate::http::context::FlashKind;
use crate::http::csrf;
use crate::http::errors::AppResult;
use crate::http::page::{PageView, render, see_other};
use crate::settings::{FieldError, NUMERIC_FIELDS, PasswordOptions, ProtectionType};

const PATH: &str = "/admin/config/customer";
const PROTECTION_TYPE: &str = "protection_type";
/// Fields where 0 switches the rule off (see `recovery::allows` and `lockout`).
const ZERO_TURNS_OFF: [&str; 4] = [
    "max_requests_per_hour",
    "min_minutes_between_requests",
    "lockout_failures",
    "ip_sign_in_failures",
];

struct ChoiceView {
    code: &'static str,
    label: String,
    selected: bool,
}

struct NumberFieldView {
    name: &'static str,
    label: String,
    value: String,
    min: i64,
    max: i64,
    hint: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/config.html")]
struct ConfigPage {
    page: PageView,
    protection_label: String,
    protection_choices: Vec<ChoiceView>,
    protection_error: Option<String>,
    fields: Vec<NumberFieldView>,
}

fn label_key(field: &str) -> String {
    format!("admin-option-{}", field.replace('_', "-"))
}

fn protection_label_key(protection: ProtectionType) -> &'static str {
    match protection {
        ProtectionType::IpAndEmail => "admin-protection-ip-and-email",
        ProtectionType::Ip => "admin-protection-ip",
        ProtectionType::Email => "admin-protection-email",
        ProtectionType::None => "admin-protection-none",
    }
}

/// The page with `values` in the inputs: the stored options, or what was
/// submitted when it had `errors`.
async fn render_form(
    admin: &SignedInAdmin,
    values: &HashMap<String, String>,
    errors: &[FieldError],
) -> AppResult<Response> {
    let visitor = &admin.visitor;
    let error_of = |name: &str| errors.iter().find(|e| e.field == name);
    let defaults = PasswordOptions::default();
    let fields = NUMERIC_FIELDS
        .iter()
        .map(|field| {
            let (min, max) = (field.min.to_string(), field.max.to_string());
            let default = field.value(&defaults).to_string();
            let mut hint = visitor.t_with(
                "admin-option-range",
                &[("min", &min), ("max", &max), ("default", &default)],
            );
            if ZERO_TURNS_OFF.contains(&field.name) {
                hint = format!("{hint} {}", visitor.t("admin-option-zero-off"));
            }
            NumberFieldView {
                name: field.name,
                label: visitor.t(&label_key(field.name)),
                value: values.get(field.name).cloned().unwrap_or_default(),
                min: field.min,
                max: field.max,
                hint,
                error: error_of(field.name).map(|_| {
                    visitor.t_with("admin-option-range-error", &[("min", &min), ("max", &max)])
                }),
            }
        })
        .collect();
    let chosen = values.get(PROTECTION_TYPE).map(String::as_str);
    let page = ConfigPage {
        page: admin.page("admin-config-title").await?,
        protection_label: visitor.t(&label_key(PROTECTION_TYPE)),
        protection_choices: ProtectionType::ALL
            .iter()
            .map(|p| ChoiceView {
                code: p.code(),
                label: visitor.t(protection_label_key(*p)),
                selected: chosen == Some(p.code()),
            })
            .collect(),
        protection_error: error_of(PROTECTION_TYPE).map(|_| visitor.t("admin-option-choice-error")),
        fields,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)?).into_response())
}

/// The options as form values, the shape `PasswordOptions::from_form` reads.
fn as_form(options: &PasswordOptions) -> HashMap<String, String> {
    let mut values: HashMap<String, String> = NUMERIC_FIELDS
        .iter()
        .map(|f| (f.name.to_string(), f.value(options).to_string()))
        .collect();
    values.insert(
        PROTECTION_TYPE.to_string(),
        options.protection_type.code().to_string(),
    );
    values
}

/// "lockout_minutes: 10 → 30, …" for the audit log; empty when nothing changed.
fn describe_changes(before: &PasswordOptions, after: &PasswordOptions) -> String {
    let (old, new) = (as_form(before), as_form(after));
    std::iter::once(PROTECTION_TYPE)
        .chain(NUMERIC_FIELDS.iter().map(|f| f.name))
        .filter(|name| old.get(*name) != new.get(*name))
        .map(|name| format!("{name}: {} → {}", old[name], new[name]))
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn page(admin: Allowed<may::EditPasswordOptions>) -> AppResult<Response> {
    let options = PasswordOptions::load(&admin.state().db).await?;
    render_form(&admin, &as_form(&options), &[]).await
}

pub async fn save(
    admin: Allowed<may::EditPasswordOptions>,
    Form(mut form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    form.remove(csrf::FIELD);
    let options = match PasswordOptions::from_form(&form) {
        Ok(options) => options,
        Err(errors) => {
            admin
                .visitor
                .flash_key(FlashKind::Error, "admin-config-invalid")
                .await?;
            return render_form(&admin, &form, &errors).await;
        }
    };
    let db = &admin.state().db;
    let before = PasswordOptions::load(db).await?;
    let entry = admin.audit_entry(
        audit::PASSWORD_OPTIONS,
        None,
        describe_changes(&before, &options),
    );
    options.save(db, &entry).await?;
    admin
        .visitor
        .flash_key(FlashKind::Success, "admin-config-saved")
        .await?;
    Ok(see_other(PATH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_only_what_changed() {
        let before = PasswordOptions::default();
        let after = PasswordOptions {
            lockout_minutes: 30,
            protection_type: ProtectionType::Email,
            ..before.clone()
        };
        assert_eq!(
            describe_changes(&before, &after),
            "protection_type: ip_and_email → email, lockout_minutes: 10 → 30"
        );
        assert_eq!(describe_changes(&before, &before), "");
    }

    #[test]
    fn every_field_has_a_label_key_of_the_catalog() {
        let en = include_str!("../../i18n/locales/en/main.ftl");
        for name in std::iter::once(PROTECTION_TYPE).chain(NUMERIC_FIELDS.iter().map(|f| f.name)) {
            let key = format!("{} =", label_key(name));
            assert!(en.contains(&key), "missing {key}");
        }
    }
}
