//! The names of audited admin actions, as stored in `audit_log.action`, and the
//! catalog key that labels each on the audit page.

pub const RESET_PASSWORD: &str = "reset_password";
/// A Reset Password the request limit refused: no link was sent.
pub const RESET_PASSWORD_REFUSED: &str = crate::recovery::AUDIT_RESET_REFUSED;
pub const UNLOCK: &str = "unlock";
pub const FORCE_SIGN_IN: &str = "force_sign_in";
pub const PASSWORD_OPTIONS: &str = "password_options";
pub const SETUP: &str = "admin_setup";
/// `shop-accounts import magento`, by `cli`.
pub const MAGENTO_IMPORT: &str = "magento_import";

/// The actions above, for the audit page's filter (the domain's are in `crate::audit`).
pub const ACTIONS: [&str; 6] = [
    RESET_PASSWORD,
    RESET_PASSWORD_REFUSED,
    UNLOCK,
    FORCE_SIGN_IN,
    PASSWORD_OPTIONS,
    SETUP,
];
/// A CSV export of the grid; the detail holds the filters and the row count.
pub const CUSTOMERS_EXPORT: &str = "customers_export";

/// The label of a stored action; an unknown one (written by a newer version)
/// is shown as stored.
pub fn label_key(action: &str) -> Option<&'static str> {
    use crate::audit as a;
    Some(match action {
        RESET_PASSWORD => "admin-action-reset-password",
        RESET_PASSWORD_REFUSED => "admin-action-reset-password-refused",
        UNLOCK => "admin-action-unlock",
        FORCE_SIGN_IN => "admin-action-force-sign-in",
        PASSWORD_OPTIONS => "admin-action-password-options",
        SETUP => "admin-action-setup",
        a::ADMIN_SIGN_IN => "admin-action-admin-sign-in",
        a::ADMIN_SIGN_IN_FAILED => "admin-action-admin-sign-in-failed",
        a::TWO_FACTOR_ENROLLED => "admin-action-two-factor-enrolled",
        a::TWO_FACTOR_REMOVED => "admin-action-two-factor-removed",
        a::ADMIN_CREATED => "admin-action-admin-created",
        a::ADMIN_ACTIVATED => "admin-action-admin-activated",
        a::ADMIN_CHANGED => "admin-action-admin-changed",
        a::ADMIN_DISABLED => "admin-action-admin-disabled",
        a::SETTINGS => "admin-action-settings",
        a::AUDIT_EXPORT => "admin-action-audit-export",
        MAGENTO_IMPORT => "admin-action-magento-import",
        crate::jobs::AUDIT_JOB_STARTED => "admin-action-bulk-job-started",
        crate::jobs::AUDIT_JOB_CANCELLED => "admin-action-bulk-job-cancelled",
        CUSTOMERS_EXPORT => "admin-action-customers-export",
        _ => return None,
    })
}
