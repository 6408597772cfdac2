//! Names of the audited actions of administrators and operators (issue 12), as
//! stored in `audit_log.action`. The audit log is append-only: the code has
//! statements that insert and read its rows, none that change or delete one.

/// Who the command line is in the audit log (no administrator, no IP).
pub const CLI: &str = "cli";

pub const ADMIN_SIGN_IN: &str = "admin_sign_in";
pub const ADMIN_SIGN_IN_FAILED: &str = "admin_sign_in_failed";
pub const TWO_FACTOR_ENROLLED: &str = "two_factor_enrolled";
pub const TWO_FACTOR_REMOVED: &str = "two_factor_removed";
pub const ADMIN_CREATED: &str = "admin_created";
pub const ADMIN_ACTIVATED: &str = "admin_activated";
pub const ADMIN_CHANGED: &str = "admin_changed";
pub const ADMIN_DISABLED: &str = "admin_disabled";
pub const SETTINGS: &str = "settings";
pub const AUDIT_EXPORT: &str = "audit_export";

/// Every action above, for the audit page's action filter.
pub const ALL: [&str; 10] = [
    ADMIN_SIGN_IN,
    ADMIN_SIGN_IN_FAILED,
    TWO_FACTOR_ENROLLED,
    TWO_FACTOR_REMOVED,
    ADMIN_CREATED,
    ADMIN_ACTIVATED,
    ADMIN_CHANGED,
    ADMIN_DISABLED,
    SETTINGS,
    AUDIT_EXPORT,
];

/// An entry written by the command line.
pub fn cli_entry(now: i64, action: &'static str, detail: String) -> crate::store::AuditEntry {
    crate::store::AuditEntry {
        at: now,
        admin_id: None,
        admin_email: CLI.to_string(),
        action,
        customer_id: None,
        client_ip: CLI.to_string(),
        detail,
    }
}
