//! The security settings beside Password Options: whether administrators must
//! use two-factor sign-in (`admin_two_factor`), and whether a sign-in from a
//! new device emails the customer (`new_device_email`, issue 13's setting,
//! defined here so `config get/set` and its page share one key).

use std::collections::HashMap;

use crate::store::{Db, StoreResult};

/// Where the settings are stored (the `settings` table), beside Password Options.
pub const ADMIN_TWO_FACTOR_KEY: &str = "admin_two_factor";
pub const NEW_DEVICE_EMAIL_KEY: &str = "new_device_email";
const PREFIX: &str = "options.";

/// Whether administrators must have a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminTwoFactor {
    /// Every administrator enrols before they can open any admin page.
    #[default]
    Required,
    /// Administrators may enrol; those who did are always asked for a code.
    Optional,
}

impl AdminTwoFactor {
    pub const ALL: [AdminTwoFactor; 2] = [AdminTwoFactor::Required, AdminTwoFactor::Optional];

    pub fn code(self) -> &'static str {
        match self {
            AdminTwoFactor::Required => "required",
            AdminTwoFactor::Optional => "optional",
        }
    }

    pub fn parse(s: &str) -> Option<AdminTwoFactor> {
        Self::ALL.into_iter().find(|v| v.code() == s.trim())
    }
}

/// The security settings as stored, defaults for anything unset or unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuritySettings {
    pub admin_two_factor: AdminTwoFactor,
    /// Email the customer when they sign in from a device not seen before.
    pub new_device_email: bool,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            admin_two_factor: AdminTwoFactor::Required,
            new_device_email: true,
        }
    }
}

/// `new_device_email` as typed: `1` on, `0` off.
pub fn parse_flag(s: &str) -> Option<bool> {
    match s.trim() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

pub fn flag_code(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

impl SecuritySettings {
    pub async fn load(db: &Db) -> StoreResult<SecuritySettings> {
        let stored: HashMap<String, String> = db.all_settings().await?.into_iter().collect();
        let get = |key: &str| stored.get(&format!("{PREFIX}{key}")).map(String::as_str);
        let defaults = SecuritySettings::default();
        Ok(SecuritySettings {
            admin_two_factor: get(ADMIN_TWO_FACTOR_KEY)
                .and_then(AdminTwoFactor::parse)
                .unwrap_or(defaults.admin_two_factor),
            new_device_email: get(NEW_DEVICE_EMAIL_KEY)
                .and_then(parse_flag)
                .unwrap_or(defaults.new_device_email),
        })
    }

    /// Whether every administrator must have a second factor.
    pub async fn two_factor_required(db: &Db) -> StoreResult<bool> {
        Ok(Self::load(db).await?.admin_two_factor == AdminTwoFactor::Required)
    }

    /// The settings as `(stored name, value)` pairs, for `Db::put_settings`.
    pub fn stored_values(&self) -> Vec<(String, String)> {
        vec![
            (
                format!("{PREFIX}{ADMIN_TWO_FACTOR_KEY}"),
                self.admin_two_factor.code().to_string(),
            ),
            (
                format!("{PREFIX}{NEW_DEVICE_EMAIL_KEY}"),
                flag_code(self.new_device_email).to_string(),
            ),
        ]
    }

    /// `key: old → new` for each setting that differs.
    pub fn describe_changes(&self, after: &SecuritySettings) -> Vec<String> {
        let mut changes = Vec::new();
        if self.admin_two_factor != after.admin_two_factor {
            changes.push(format!(
                "{ADMIN_TWO_FACTOR_KEY}: {} → {}",
                self.admin_two_factor.code(),
                after.admin_two_factor.code()
            ));
        }
        if self.new_device_email != after.new_device_email {
            changes.push(format!(
                "{NEW_DEVICE_EMAIL_KEY}: {} → {}",
                flag_code(self.new_device_email),
                flag_code(after.new_device_email)
            ));
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_factor_is_required_and_new_device_email_on_by_default() {
        let defaults = SecuritySettings::default();
        assert_eq!(defaults.admin_two_factor, AdminTwoFactor::Required);
        assert!(defaults.new_device_email);
        assert_eq!(
            AdminTwoFactor::parse("optional"),
            Some(AdminTwoFactor::Optional)
        );
        assert_eq!(AdminTwoFactor::parse("off"), None);
        assert_eq!(parse_flag("1"), Some(true));
        assert_eq!(parse_flag("yes"), None);
    }
}
