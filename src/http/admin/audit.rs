//! The names of audited admin actions, as stored in `audit_log.action`, and the
//! catalog key that labels each on the audit page.

pub const RESET_PASSWORD: &str = "reset_password";
/// A Reset Password the request limit refused: no link was sent.
pub const RESET_PASSWORD_REFUSED: &str = crate::recovery::AUDIT_RESET_REFUSED;
pub const UNLOCK: &str = "unlock";
pub const FORCE_SIGN_IN: &str = "force_sign_in";
pub const PASSWORD_OPTIONS: &str = "password_options";
pub const SETUP: &str = "admin_setup";
/// A CSV export of the grid; the detail holds the filters and the row count.
pub const CUSTOMERS_EXPORT: &str = "customers_export";

/// The label of a stored action; an unknown one (written by a newer version)
/// is shown as stored.
pub fn label_key(action: &str) -> Option<&'static str> {
    Some(match action {
        RESET_PASSWORD => "admin-action-reset-password",
        RESET_PASSWORD_REFUSED => "admin-action-reset-password-refused",
        UNLOCK => "admin-action-unlock",
        FORCE_SIGN_IN => "admin-action-force-sign-in",
        PASSWORD_OPTIONS => "admin-action-password-options",
        SETUP => "admin-action-setup",
        CUSTOMERS_EXPORT => "admin-action-customers-export",
        _ => return None,
    })
}
