//! The Administrators page's use cases: invite an administrator (an emailed
//! one-time link, 24 hours, to choose a password), activate with that link,
//! change a role, disable (every session ends at once). The last active
//! Administrator can be neither disabled nor demoted.

use super::admins::{Admin, CreateAdminError, Role};
use super::{Email, Password, PasswordProblem, PersonName, new_security_stamp};
use crate::i18n::Locale;
use crate::secrets::{random_token, token_hash};
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{self, AuditEntry, StoreError};
use crate::work::Work;

/// How long an activation link works.
pub const ACTIVATION_HOURS: i64 = 24;

/// Invites an administrator: the row (no password yet), the link's hash and
/// the email with the link, with the audit entry, in one transaction.
pub async fn invite(
    state: &AppState,
    email: &str,
    name: &str,
    role: Role,
    locale: Locale,
    mut audit: AuditEntry,
) -> Result<i64, CreateAdminError> {
    let email = Email::parse(email).map_err(|e| CreateAdminError::InvalidEmail(e.message_key()))?;
    let name = PersonName::parse(name).map_err(CreateAdminError::InvalidName)?;
    let token = random_token();
    let now = state.now();
    let mail = crate::mail::admin_activation(
        state,
        email.as_str(),
        name.as_str(),
        &token,
        ACTIVATION_HOURS,
        locale,
    )?;
    let mut work = Work::begin(state).await?;
    let row = store::NewAdmin {
        email: email.as_str(),
        email_key: &email.key(),
        name: name.as_str(),
        role: role.code(),
        password_hash: "",
        security_stamp: &new_security_stamp(),
        created_at: now,
    };
    let id = work
        .tx()
        .insert_invited_admin(&row, &token_hash(&token), now + ACTIVATION_HOURS * 3600)
        .await?;
    work.queue_mail(&mail).await?;
    audit.action = crate::audit::ADMIN_CREATED;
    audit.detail = format!("{} ({}), id {id}", email.as_str(), role.code());
    work.tx().insert_audit(&audit).await?;
    work.commit().await?;
    tracing::info!(admin_id = id, role = role.code(), "administrator invited");
    Ok(id)
}

/// The hash of an activation link's token: what the session keeps once the
/// token has left the address.
pub fn link_hash(token: &str) -> String {
    token_hash(token)
}

/// The invited administrator a live activation link (by its hash) belongs to.
pub async fn invited_by_link(
    state: &AppState,
    link_hash: &str,
) -> Result<Option<store::AdminRow>, StoreError> {
    state
        .db
        .admin_by_activation_token(link_hash, state.now())
        .await
}

#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    #[error("the activation link is unknown, used or expired")]
    InvalidLink,
    #[error("the password breaks the policy: {0:?}")]
    Policy(Vec<PasswordProblem>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ActivateError {
    fn from(e: StoreError) -> Self {
        ActivateError::Internal(e.into())
    }
}

/// Uses the activation link: the administrator's first password (the policy
/// applies). The link works once; the returned administrator then signs in
/// like anyone else (second factor included).
pub async fn activate(
    state: &AppState,
    link_hash: &str,
    password: &str,
    confirmation: &str,
    client_ip: &str,
) -> Result<Admin, ActivateError> {
    let row = invited_by_link(state, link_hash)
        .await?
        .ok_or(ActivateError::InvalidLink)?;
    let email = Email::parse(&row.email).map_err(|_| ActivateError::InvalidLink)?;
    let options = PasswordOptions::load(&state.db).await?;
    let password = Password::new(password, Some(confirmation), &email, &options.policy())
        .map_err(ActivateError::Policy)?;
    let hash = state.hasher.hash(&password).await?;
    let stamp = new_security_stamp();
    let mut work = Work::begin(state).await?;
    let taken = work
        .tx()
        .take_activation_token(link_hash, state.now())
        .await?;
    if taken != Some(row.id)
        || !work
            .tx()
            .set_invited_admin_password(row.id, &hash, &stamp)
            .await?
    {
        return Err(ActivateError::InvalidLink);
    }
    work.tx()
        .insert_audit(&AuditEntry {
            at: state.now(),
            admin_id: Some(row.id),
            admin_email: row.email.clone(),
            action: crate::audit::ADMIN_ACTIVATED,
            customer_id: None,
            client_ip: client_ip.to_string(),
            detail: String::new(),
        })
        .await?;
    work.commit().await?;
    let row = state
        .db
        .admin_by_id(row.id)
        .await?
        .ok_or(ActivateError::InvalidLink)?;
    Admin::from_row(row).ok_or(ActivateError::InvalidLink)
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such administrator")]
    NotFound,
    #[error("the last active Administrator cannot be disabled or demoted")]
    LastAdministrator,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Changes an administrator's role and/or whether they are active. Any change
/// ends their sessions at once (a new security stamp); disabling one is
/// audited as such. `Ok(false)` when nothing changed.
pub async fn change(
    state: &AppState,
    id: i64,
    role: Option<Role>,
    active: Option<bool>,
    mut audit: AuditEntry,
) -> Result<bool, ChangeError> {
    let before = state
        .db
        .admin_by_id(id)
        .await?
        .ok_or(ChangeError::NotFound)?;
    let old_role = Role::parse(&before.role).ok_or(ChangeError::NotFound)?;
    let old_active = before.active == 1;
    let (new_role, new_active) = (role.unwrap_or(old_role), active.unwrap_or(old_active));
    if (new_role, new_active) == (old_role, old_active) {
        return Ok(false);
    }
    let mut work = Work::begin(state).await?;
    if !work
        .tx()
        .change_admin(id, new_role.code(), new_active, &new_security_stamp())
        .await?
    {
        return Err(ChangeError::LastAdministrator);
    }
    let mut changes = Vec::new();
    if new_role != old_role {
        changes.push(format!("role: {} → {}", old_role.code(), new_role.code()));
    }
    if new_active != old_active {
        changes.push(format!(
            "active: {} → {}",
            i64::from(old_active),
            i64::from(new_active)
        ));
    }
    audit.action = if old_active && !new_active {
        crate::audit::ADMIN_DISABLED
    } else {
        crate::audit::ADMIN_CHANGED
    };
    audit.detail = format!("{} (id {id}): {}", before.email, changes.join(", "));
    work.tx().insert_audit(&audit).await?;
    work.commit().await?;
    Ok(true)
}
