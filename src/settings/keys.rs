//! Every setting by its key, for `shop-accounts config get/set`: the Password
//! Options fields, `admin_two_factor` and `new_device_email`. A value is checked
//! with the same rules as the page that edits it; a change is saved together
//! with its audit entry (`key: old → new`).

use std::collections::HashMap;

use super::security::{self, SecuritySettings};
use super::{NUMERIC_FIELDS, PasswordOptions};
use crate::store::{AuditEntry, Db, StoreError};

const PROTECTION_TYPE: &str = "protection_type";

#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting {0:?}; the settings are: {keys}", keys = keys().join(", "))]
    UnknownKey(String),
    #[error("{key} must be {expected} (got {value:?}); nothing was changed")]
    Invalid {
        key: String,
        value: String,
        expected: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every key, in the order `config get` prints them.
pub fn keys() -> Vec<&'static str> {
    let mut keys = vec![PROTECTION_TYPE];
    keys.extend(NUMERIC_FIELDS.iter().map(|f| f.name));
    for key in [
        security::ADMIN_TWO_FACTOR_KEY,
        security::NEW_DEVICE_EMAIL_KEY,
    ] {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// The Password Options as the form's name → value map.
fn options_as_map(options: &PasswordOptions) -> HashMap<String, String> {
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

/// Every setting as `(key, value)`, stored values or defaults.
pub async fn all(db: &Db) -> Result<Vec<(&'static str, String)>, StoreError> {
    let mut values = options_as_map(&PasswordOptions::load(db).await?);
    let security = SecuritySettings::load(db).await?;
    values
        .entry(security::ADMIN_TWO_FACTOR_KEY.to_string())
        .or_insert_with(|| security.admin_two_factor.code().to_string());
    values
        .entry(security::NEW_DEVICE_EMAIL_KEY.to_string())
        .or_insert_with(|| security::flag_code(security.new_device_email).to_string());
    Ok(keys()
        .into_iter()
        .map(|k| (k, values.remove(k).unwrap_or_default()))
        .collect())
}

pub async fn get(db: &Db, key: &str) -> Result<String, SettingError> {
    all(db)
        .await?
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| SettingError::UnknownKey(key.to_string()))
}

/// Sets one setting; `audit` is completed with `key: old → new`. Returns that
/// description, or `None` when the value was already so (nothing written).
pub async fn set(
    db: &Db,
    key: &str,
    value: &str,
    mut audit: AuditEntry,
) -> Result<Option<String>, SettingError> {
    let key = keys()
        .into_iter()
        .find(|k| *k == key)
        .ok_or_else(|| SettingError::UnknownKey(key.to_string()))?;
    let invalid = |expected: String| SettingError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        expected,
    };
    if key == PROTECTION_TYPE || NUMERIC_FIELDS.iter().any(|f| f.name == key) {
        let before = PasswordOptions::load(db).await?;
        let mut form = options_as_map(&before);
        form.insert(key.to_string(), value.to_string());
        let after = PasswordOptions::from_form(&form).map_err(|errors| {
            let expected = match errors.first() {
                Some(e) if e.field != PROTECTION_TYPE => {
                    format!("a whole number from {} to {}", e.min, e.max)
                }
                _ => "one of ip_and_email, ip, email, none".to_string(),
            };
            invalid(expected)
        })?;
        let (old, new) = (options_as_map(&before), options_as_map(&after));
        if old[key] == new[key] {
            return Ok(None);
        }
        audit.detail = format!("{key}: {} → {}", old[key], new[key]);
        after.save(db, &audit).await?;
        return Ok(Some(audit.detail));
    }
    let before = SecuritySettings::load(db).await?;
    let mut after = before.clone();
    if key == security::ADMIN_TWO_FACTOR_KEY {
        after.admin_two_factor = security::AdminTwoFactor::parse(value)
            .ok_or_else(|| invalid("required or optional".to_string()))?;
    } else {
        after.new_device_email =
            security::parse_flag(value).ok_or_else(|| invalid("1 or 0".to_string()))?;
    }
    save_security(db, &before, &after, audit).await
}

/// Saves the security settings with one audit entry naming what changed;
/// `None` when nothing did.
pub async fn save_security(
    db: &Db,
    before: &SecuritySettings,
    after: &SecuritySettings,
    mut audit: AuditEntry,
) -> Result<Option<String>, SettingError> {
    let changes = before.describe_changes(after);
    if changes.is_empty() {
        return Ok(None);
    }
    audit.detail = changes.join(", ");
    db.put_settings(&after.stored_values(), &audit).await?;
    Ok(Some(audit.detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_of_the_spec_has_a_key() {
        let keys = keys();
        for key in [
            "protection_type",
            "max_requests_per_hour",
            "min_minutes_between_requests",
            "link_lifetime_hours",
            "min_password_length",
            "required_character_classes",
            "lockout_failures",
            "lockout_minutes",
            "api_token_lifetime_hours",
            "admin_two_factor",
            "new_device_email",
            "ip_sign_in_failures",
            "ip_sign_in_minutes",
        ] {
            assert!(keys.contains(&key), "{key}");
        }
    }
}
