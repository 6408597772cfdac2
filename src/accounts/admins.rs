//! Administrator accounts and what each role may do.

use std::net::IpAddr;

use crate::accounts::{
    Email, NameError, Password, PasswordProblem, PersonName, lockout, new_security_stamp,
};
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{self, AccountTable, AdminRow, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Administrator,
    /// View customers, send Reset Password, Unlock; nothing else.
    Support,
}

/// Admin actions that a role may or may not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ViewCustomers,
    SendResetLink,
    Unlock,
    ForceSignIn,
    EditPasswordOptions,
    ViewAudit,
    ViewMailQueue,
    /// The Administrators page: invite, change role, disable.
    ManageAdministrators,
    /// Security settings: `admin_two_factor`, `new_device_email`.
    EditSecuritySettings,
    /// The audit log as CSV.
    ExportAudit,
    /// Download the grid's customers as CSV: every matching row at once.
    ExportCustomers,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Support => "support",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "administrator" | "admin" => Some(Role::Administrator),
            "support" => Some(Role::Support),
            _ => None,
        }
    }

    /// The one place that says who may do what.
    pub fn allows(self, permission: Permission) -> bool {
        match self {
            Role::Administrator => true,
            Role::Support => matches!(
                permission,
                Permission::ViewCustomers | Permission::SendResetLink | Permission::Unlock
            ),
        }
    }
}

/// A signed-in administrator.
#[derive(Debug, Clone)]
pub struct Admin {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub security_stamp: String,
    /// A confirmed second factor.
    pub two_factor: bool,
}

impl Admin {
    /// The administrator of `row` if they can be signed in: active, with a
    /// password chosen (an invited administrator has none yet).
    pub(crate) fn from_row(row: AdminRow) -> Option<Admin> {
        if row.active != 1 || row.activated != 1 {
            return None;
        }
        Some(Admin {
            id: row.id,
            email: row.email,
            name: row.name,
            role: Role::parse(&row.role)?,
            security_stamp: row.security_stamp,
            two_factor: row.two_factor == 1,
        })
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAdminError {
    #[error("{0}")]
    InvalidEmail(&'static str),
    #[error("{0}")]
    InvalidName(NameError),
    #[error("the password breaks the policy: {0:?}")]
    Policy(Vec<PasswordProblem>),
    #[error("there is already an administrator with this email address")]
    EmailTaken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for CreateAdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate => CreateAdminError::EmailTaken,
            other => CreateAdminError::Internal(other.into()),
        }
    }
}

/// A new administrator's details, checked and with the password hashed.
struct NewAdmin {
    email: Email,
    email_key: String,
    name: PersonName,
    hash: String,
    security_stamp: String,
    created_at: i64,
}

impl NewAdmin {
    fn row(&self, role: Role) -> store::NewAdmin<'_> {
        store::NewAdmin {
            email: self.email.as_str(),
            email_key: &self.email_key,
            name: self.name.as_str(),
            role: role.code(),
            password_hash: &self.hash,
            security_stamp: &self.security_stamp,
            created_at: self.created_at,
        }
    }
}

async fn check_new_admin(
    state: &AppState,
    email: &str,
    name: &str,
    password: &str,
    confirmation: Option<&str>,
) -> Result<NewAdmin, CreateAdminError> {
    let email = Email::parse(email).map_err(|e| CreateAdminError::InvalidEmail(e.message_key()))?;
    let name = PersonName::parse(name).map_err(CreateAdminError::InvalidName)?;
    let options = PasswordOptions::load(&state.db).await?;
    let password = Password::new(password, confirmation, &email, &options.policy())
        .map_err(CreateAdminError::Policy)?;
    let hash = state.hasher.hash(&password).await?;
    Ok(NewAdmin {
        email_key: email.key(),
        email,
        name,
        hash,
        security_stamp: new_security_stamp(),
        created_at: state.now(),
    })
}

pub async fn create(
    state: &AppState,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
    confirmation: Option<&str>,
) -> Result<i64, CreateAdminError> {
    let new = check_new_admin(state, email, name, password, confirmation).await?;
    let id = state.db.insert_admin(&new.row(role)).await?;
    tracing::info!(admin_id = id, role = role.code(), "administrator created");
    Ok(id)
}

/// The password step. Same rules as the storefront: dummy hash for unknown
/// (or disabled, or not yet activated) administrators, lockout after repeated
/// failures, one answer for every failure. An administrator with a second
/// factor is not signed in by this alone (see `http::admin::two_factor`), and
/// their right password does not clear the failure count: only a right code does.
///
/// `client_ip`: counted by the per-address limit on failed sign-ins (`None`
/// only for the first administrator's sign-in right after setup).
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    client_ip: Option<IpAddr>,
) -> Result<Admin, super::customers::SignInError> {
    use super::customers::SignInError;
    let mut account = None;
    if let Ok(email) = Email::parse(email)
        && password.chars().count() <= super::MAX_PASSWORD_LENGTH
        && let Some(credentials) = state
            .db
            .credentials_by_email_key(AccountTable::Admins, &email.key())
            .await?
        && let Some(admin) = state
            .db
            .admin_by_id(credentials.id)
            .await?
            .and_then(Admin::from_row)
    {
        account = Some((credentials, admin));
    }
    let credentials = account.as_ref().map(|(c, _)| c);
    let check = if account.as_ref().is_some_and(|(_, a)| a.two_factor) {
        lockout::check_first_of_two(
            state,
            AccountTable::Admins,
            credentials,
            password,
            client_ip,
        )
        .await?
    } else {
        lockout::check_sign_in(
            state,
            AccountTable::Admins,
            credentials,
            password,
            false,
            client_ip,
        )
        .await?
    };
    match account {
        Some((_, admin)) if check.is_correct() => Ok(admin),
        _ => Err(SignInError::Failed),
    }
}

/// The id of the administrator an email names, for the audit record of a
/// failed sign-in.
pub async fn id_by_email(state: &AppState, email: &str) -> Result<Option<i64>, StoreError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(None);
    };
    Ok(state
        .db
        .credentials_by_email_key(AccountTable::Admins, &email.key())
        .await?
        .map(|c| c.id))
}

/// The administrator a session points at, if its stamp is still current.
pub async fn current(state: &AppState, id: i64, stamp: &str) -> Result<Option<Admin>, StoreError> {
    Ok(state
        .db
        .admin_by_id(id)
        .await?
        .filter(|a| crate::secrets::secure_eq(&a.security_stamp, stamp))
        .and_then(Admin::from_row))
}

/// The first-run setup token: generated when no administrator exists, kept (hashed)
/// in the settings so any instance accepts it, and deleted once used.
pub mod setup {
    use crate::secrets::{random_token, token_hash};
    use crate::state::AppState;
    use crate::store::StoreResult;

    const SETTING: &str = "secret.admin_setup_token_hash";

    /// Issues a fresh token when there is no administrator; returns it for the log.
    pub async fn issue_if_needed(state: &AppState) -> StoreResult<Option<String>> {
        if state.db.admin_count().await? > 0 {
            return Ok(None);
        }
        let token = random_token();
        state.db.put_setting(SETTING, &token_hash(&token)).await?;
        Ok(Some(token))
    }

    /// Whether `token` is the live setup token and no administrator exists yet.
    pub async fn is_valid(state: &AppState, token: &str) -> StoreResult<bool> {
        if state.db.admin_count().await? > 0 {
            return Ok(false);
        }
        let stored = state
            .db
            .all_settings()
            .await?
            .into_iter()
            .find(|(name, _)| name == SETTING)
            .map(|(_, value)| value);
        Ok(stored.is_some_and(|hash| crate::secrets::secure_eq(&hash, &token_hash(token))))
    }

    /// Creates the first administrator with the setup token, using the token up
    /// in the same transaction: of two racing submissions only one succeeds.
    /// `Ok(None)` when the token was already used or an administrator exists.
    pub async fn create_first(
        state: &AppState,
        token: &str,
        email: &str,
        name: &str,
        password: &str,
        confirmation: Option<&str>,
    ) -> Result<Option<i64>, super::CreateAdminError> {
        let new = super::check_new_admin(state, email, name, password, confirmation).await?;
        let id = state
            .db
            .insert_first_admin(
                SETTING,
                &token_hash(token),
                &new.row(super::Role::Administrator),
            )
            .await?;
        if let Some(id) = id {
            tracing::info!(
                admin_id = id,
                "first administrator created with the setup token"
            );
        }
        Ok(id)
    }
}
