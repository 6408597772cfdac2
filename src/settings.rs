//! Password Options (SPEC §3): stored in the database, Magento's defaults.
//! The security settings (§8) and the key-by-key view of every setting for
//! the command line live in the submodules.

pub mod keys;
pub mod security;

use std::collections::HashMap;
use std::str::FromStr;

use crate::accounts::PasswordPolicy;
use crate::store::{AuditEntry, Db, StoreResult};

/// Which keys the reset-request limits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtectionType {
    #[default]
    IpAndEmail,
    Ip,
    Email,
    None,
}

impl ProtectionType {
    pub const ALL: [ProtectionType; 4] = [
        ProtectionType::IpAndEmail,
        ProtectionType::Ip,
        ProtectionType::Email,
        ProtectionType::None,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ProtectionType::IpAndEmail => "ip_and_email",
            ProtectionType::Ip => "ip",
            ProtectionType::Email => "email",
            ProtectionType::None => "none",
        }
    }

    pub fn counts_ip(self) -> bool {
        matches!(self, ProtectionType::IpAndEmail | ProtectionType::Ip)
    }

    pub fn counts_email(self) -> bool {
        matches!(self, ProtectionType::IpAndEmail | ProtectionType::Email)
    }
}

impl FromStr for ProtectionType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ProtectionType::ALL
            .into_iter()
            .find(|p| p.code() == s)
            .ok_or(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordOptions {
    pub protection_type: ProtectionType,
    pub max_requests_per_hour: i64,
    pub min_minutes_between_requests: i64,
    pub link_lifetime_hours: i64,
    pub min_password_length: i64,
    pub required_character_classes: i64,
    pub lockout_failures: i64,
    pub lockout_minutes: i64,
    pub api_token_lifetime_hours: i64,
    /// 1: a sign-in from a browser new to the account emails the customer (SPEC §9); 0: off.
    pub new_device_email: i64,
    /// Failed sign-ins one client address (IPv4, or IPv6 /64) may have across
    /// every account in `ip_sign_in_minutes` before its further attempts are
    /// refused unchecked (issue 14, credential stuffing); 0: off.
    pub ip_sign_in_failures: i64,
    /// The window of `ip_sign_in_failures`, from its first counted failure.
    pub ip_sign_in_minutes: i64,
}

impl Default for PasswordOptions {
    fn default() -> Self {
        PasswordOptions {
            protection_type: ProtectionType::IpAndEmail,
            max_requests_per_hour: 5,
            min_minutes_between_requests: 10,
            link_lifetime_hours: 24,
            min_password_length: 6,
            required_character_classes: 0,
            lockout_failures: 10,
            lockout_minutes: 10,
            api_token_lifetime_hours: 1,
            new_device_email: 1,
            ip_sign_in_failures: 30,
            ip_sign_in_minutes: 10,
        }
    }
}

/// A numeric field: its form name and the range an administrator may set.
pub struct NumericField {
    pub name: &'static str,
    pub min: i64,
    pub max: i64,
    get: fn(&PasswordOptions) -> i64,
    set: fn(&mut PasswordOptions, i64),
}

impl NumericField {
    pub fn value(&self, options: &PasswordOptions) -> i64 {
        (self.get)(options)
    }
}

macro_rules! field {
    ($name:ident, $min:expr, $max:expr) => {
        NumericField {
            name: stringify!($name),
            min: $min,
            max: $max,
            get: |o| o.$name,
            set: |o, v| o.$name = v,
        }
    };
}

/// Every numeric option with its allowed range; 0 turns a limit off where that
/// makes sense (as in Magento).
pub const NUMERIC_FIELDS: [NumericField; 11] = [
    field!(max_requests_per_hour, 0, 1000),
    field!(min_minutes_between_requests, 0, 1440),
    field!(link_lifetime_hours, 1, 720),
    field!(min_password_length, 6, 256),
    field!(required_character_classes, 0, 4),
    field!(lockout_failures, 0, 1000),
    field!(lockout_minutes, 1, 10080),
    field!(api_token_lifetime_hours, 1, 8760),
    field!(new_device_email, 0, 1),
    field!(ip_sign_in_failures, 0, 100_000),
    field!(ip_sign_in_minutes, 1, 1440),
];

/// Fields added after the Password Options form was first published: a form
/// without them (an older page, a script) keeps their defaults.
const LATER_FIELDS: [&str; 3] = [
    "new_device_email",
    "ip_sign_in_failures",
    "ip_sign_in_minutes",
];

/// A field the administrator filled in wrongly; the page shows it beside the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub min: i64,
    pub max: i64,
}

const PREFIX: &str = "options.";

impl PasswordOptions {
    pub fn policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.min_password_length as usize,
            required_classes: self.required_character_classes as u8,
        }
    }

    /// The stored options, defaults for anything unset or unreadable.
    pub async fn load(db: &Db) -> StoreResult<PasswordOptions> {
        let stored: HashMap<String, String> = db
            .all_settings()
            .await?
            .into_iter()
            .filter_map(|(name, value)| name.strip_prefix(PREFIX).map(|n| (n.to_string(), value)))
            .collect();
        let mut options = PasswordOptions::default();
        if let Some(p) = stored.get("protection_type").and_then(|v| v.parse().ok()) {
            options.protection_type = p;
        }
        for field in &NUMERIC_FIELDS {
            if let Some(v) = stored.get(field.name).and_then(|v| v.parse::<i64>().ok())
                && (field.min..=field.max).contains(&v)
            {
                (field.set)(&mut options, v);
            }
        }
        Ok(options)
    }

    /// Parses the Password Options form; every wrong field is reported.
    pub fn from_form(form: &HashMap<String, String>) -> Result<PasswordOptions, Vec<FieldError>> {
        let mut options = PasswordOptions::default();
        let mut errors = Vec::new();
        match form.get("protection_type").and_then(|v| v.parse().ok()) {
            Some(p) => options.protection_type = p,
            None => errors.push(FieldError {
                field: "protection_type",
                min: 0,
                max: 0,
            }),
        }
        for field in &NUMERIC_FIELDS {
            if LATER_FIELDS.contains(&field.name) && !form.contains_key(field.name) {
                continue; // a form from before this option keeps its default
            }
            match form
                .get(field.name)
                .and_then(|v| v.trim().parse::<i64>().ok())
            {
                Some(v) if (field.min..=field.max).contains(&v) => (field.set)(&mut options, v),
                _ => errors.push(FieldError {
                    field: field.name,
                    min: field.min,
                    max: field.max,
                }),
            }
        }
        if errors.is_empty() {
            Ok(options)
        } else {
            Err(errors)
        }
    }

    /// Saves every option and the administrator's audit entry in one transaction.
    pub async fn save(&self, db: &Db, audit: &AuditEntry) -> StoreResult<()> {
        let mut values = vec![(
            format!("{PREFIX}protection_type"),
            self.protection_type.code().to_string(),
        )];
        for field in &NUMERIC_FIELDS {
            values.push((
                format!("{PREFIX}{}", field.name),
                field.value(self).to_string(),
            ));
        }
        db.put_settings(&values, audit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_with_defaults_round_trips() {
        let defaults = PasswordOptions::default();
        let mut form: HashMap<String, String> = NUMERIC_FIELDS
            .iter()
            .map(|f| (f.name.to_string(), f.value(&defaults).to_string()))
            .collect();
        form.insert("protection_type".into(), "ip_and_email".into());
        assert_eq!(PasswordOptions::from_form(&form), Ok(defaults));
        form.insert("required_character_classes".into(), "5".into());
        form.insert("protection_type".into(), "bogus".into());
        let errors = PasswordOptions::from_form(&form).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
