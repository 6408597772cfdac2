//! Customer use-cases shared by the storefront, REST and admin.

use std::net::IpAddr;

use crate::accounts::devices::{self, DeviceCookie};
use crate::accounts::events::{self, Event};
use crate::accounts::sign_out::end_every_other_session;
use crate::accounts::{Email, EmailError, Password, PasswordProblem, lockout, new_security_stamp};
use crate::i18n::Locale;
use crate::mail;
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{AccountTable, AuditEntry, CustomerRow, NewCustomer, StoreError};
use crate::work::Work;

#[derive(Debug, Default)]
pub struct Registration<'a> {
    pub firstname: &'a str,
    pub lastname: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub password_confirmation: &'a str,
}

/// What is wrong with a form, field by field.
#[derive(Debug, Default)]
pub struct FormErrors {
    pub firstname: Option<&'static str>,
    pub lastname: Option<&'static str>,
    pub email: Option<&'static str>,
    pub password: Vec<PasswordProblem>,
}

impl FormErrors {
    pub fn is_empty(&self) -> bool {
        self.firstname.is_none()
            && self.lastname.is_none()
            && self.email.is_none()
            && self.password.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("invalid form")]
    Invalid(FormErrors),
    #[error("email taken")]
    EmailTaken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for RegisterError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate => RegisterError::EmailTaken,
            other => RegisterError::Internal(other.into()),
        }
    }
}

pub async fn register(
    state: &AppState,
    form: &Registration<'_>,
    locale: Locale,
) -> Result<CustomerRow, RegisterError> {
    let options = PasswordOptions::load(&state.db)
        .await
        .map_err(anyhow::Error::from)?;
    let firstname = super::PersonName::parse(form.firstname);
    let lastname = super::PersonName::parse(form.lastname);
    let mut errors = FormErrors {
        firstname: firstname.as_ref().err().map(|e| e.message_key()),
        lastname: lastname.as_ref().err().map(|e| e.message_key()),
        ..FormErrors::default()
    };
    let email = match Email::parse(form.email) {
        Ok(email) => Some(email),
        Err(e) => {
            errors.email = Some(e.message_key());
            None
        }
    };
    let password = email.as_ref().and_then(|email| {
        match Password::new(
            form.password,
            Some(form.password_confirmation),
            email,
            &options.policy(),
        ) {
            Ok(password) => Some(password),
            Err(problems) => {
                errors.password = problems;
                None
            }
        }
    });
    let (Some(email), Some(password), Ok(firstname), Ok(lastname)) =
        (email, password, firstname, lastname)
    else {
        return Err(RegisterError::Invalid(errors));
    };
    let hash = state.hasher.hash(&password).await?;
    let now = state.now();
    let id = state
        .db
        .insert_customer(&NewCustomer {
            email: email.as_str(),
            email_key: &email.key(),
            firstname: firstname.as_str(),
            lastname: lastname.as_str(),
            password_hash: &hash,
            security_stamp: &new_security_stamp(),
            locale: locale.code(),
            created_at: now,
        })
        .await?;
    state
        .db
        .customer_by_id(id)
        .await?
        .ok_or_else(|| RegisterError::Internal(anyhow::anyhow!("customer {id} vanished")))
}

/// Every failed sign-in looks the same from outside, whatever the reason.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("sign-in failed")]
    Failed,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        SignInError::Internal(e.into())
    }
}

/// Where a sign-in comes from.
pub struct SignInFrom<'a> {
    pub ip: IpAddr,
    /// The browser's device cookie for an account id, if it sent one (REST
    /// clients send none).
    pub device_cookie: &'a (dyn Fn(i64) -> Option<String> + Sync),
}

/// A successful sign-in, and the browser's known device if it has one.
pub struct SignedIn {
    pub customer: CustomerRow,
    pub known_device: Option<DeviceCookie>,
}

/// Checks the password (a dummy hash when the email has no account, so the time
/// taken says nothing), counts failures toward the lockout (and on the
/// customer's timeline), and records the sign-in.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    from: &SignInFrom<'_>,
) -> Result<SignedIn, SignInError> {
    let credentials = match Email::parse(email) {
        Ok(email) if password.chars().count() <= super::MAX_PASSWORD_LENGTH => {
            state
                .db
                .credentials_by_email_key(AccountTable::Customers, &email.key())
                .await?
        }
        _ => None,
    };
    let known_device = match &credentials {
        Some(c) => {
            devices::known_device(state, c.id, (from.device_cookie)(c.id).as_deref()).await?
        }
        None => None,
    };
    let check = lockout::check_sign_in(
        state,
        AccountTable::Customers,
        credentials.as_ref(),
        password,
        known_device.is_some(),
        Some(from.ip),
    )
    .await?;
    let Some(credentials) = credentials else {
        return Err(SignInError::Failed);
    };
    if check == lockout::PasswordCheck::Throttled {
        // Refused for the address, not the account: nothing on its timeline,
        // so a botnet's attempts cannot flood it.
        return Err(SignInError::Failed);
    }
    if !check.is_correct() {
        let mut work = Work::begin(state).await?;
        let now = state.now();
        let tx = work.tx();
        events::record(tx, credentials.id, now, Event::SignInFailed, Some(from.ip)).await?;
        if matches!(check, lockout::PasswordCheck::Wrong { locked_now: true }) {
            events::record(tx, credentials.id, now, Event::Locked, Some(from.ip)).await?;
            // A lock this browser's own guesses filled is not "from elsewhere":
            // the device loses its way past it (SPEC §9).
            if let Some(device) = &known_device {
                tx.forget_device(credentials.id, &device.hash()).await?;
            }
        }
        work.commit().await?;
        return Err(SignInError::Failed);
    }
    let customer = state
        .db
        .customer_by_id(credentials.id)
        .await?
        .ok_or(SignInError::Failed)?;
    super::upgrade_if_legacy(state, &credentials, password).await;
    Ok(SignedIn {
        customer,
        known_device,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// Wrong current passwords locked the account (or it was locked already):
    /// the session or token that asked must end.
    #[error("the account is locked")]
    LockedOut,
    #[error("the new password breaks the policy")]
    Policy(Vec<PasswordProblem>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ChangePasswordError {
    fn from(e: StoreError) -> Self {
        ChangePasswordError::Internal(e.into())
    }
}

/// Where a password change comes from.
pub enum ChangeFrom<'a> {
    /// The account page, in the session with this key (hash): it stays.
    /// `device`: the browser's device cookie for the account, if it has one.
    AccountPage {
        session_key_hash: &'a str,
        device: Option<DeviceCookie>,
    },
    Rest,
}

/// Changes a signed-in customer's password. The current password is checked
/// like a sign-in (it counts toward the lockout). Every session and API token
/// ends (but the account page's own session) and outstanding reset links die;
/// the caller re-binds its own session to the returned stamp. A notice mail is
/// queued.
pub async fn change_password(
    state: &AppState,
    customer: &CustomerRow,
    current: &str,
    new: &str,
    confirmation: Option<&str>,
    from: ChangeFrom<'_>,
) -> Result<String, ChangePasswordError> {
    if current.is_empty() {
        // A form sent without it: no password is empty, so nothing to count.
        return Err(ChangePasswordError::WrongCurrentPassword);
    }
    let check =
        lockout::check_current_password(state, AccountTable::Customers, customer.id, current)
            .await?;
    if check.left_locked() {
        if let ChangeFrom::AccountPage {
            device: Some(device),
            ..
        } = &from
        {
            // This browser's guesses locked the account: it is no longer a
            // device that gets past the lock.
            let mut work = Work::begin(state).await?;
            work.tx().forget_device(customer.id, &device.hash()).await?;
            work.commit().await?;
        }
        return Err(ChangePasswordError::LockedOut);
    }
    if !check.is_correct() {
        return Err(ChangePasswordError::WrongCurrentPassword);
    }
    let options = PasswordOptions::load(&state.db).await?;
    let email = Email::parse(&customer.email)
        .map_err(|e| anyhow::anyhow!("stored email unreadable: {e:?}"))?;
    let password = Password::new(new, confirmation, &email, &options.policy())
        .map_err(ChangePasswordError::Policy)?;
    let hash = state.hasher.hash(&password).await?;
    let notice = mail::password_changed(state, customer)?;
    let now = state.now();
    let mut work = Work::begin(state).await?;
    work.tx().set_password_hash(customer.id, &hash).await?;
    let (keep, how) = match from {
        ChangeFrom::AccountPage {
            session_key_hash, ..
        } => (Some(session_key_hash), "account_page"),
        ChangeFrom::Rest => (None, "rest"),
    };
    let ended = end_every_other_session(&mut work, customer.id, now, keep).await?;
    events::record(
        work.tx(),
        customer.id,
        now,
        Event::PasswordChanged { how },
        None,
    )
    .await?;
    work.queue_mail(&notice).await?;
    work.commit().await?;
    Ok(ended.stamp)
}

/// Clears the lockout, with the administrator's audit entry.
pub async fn unlock(
    state: &AppState,
    customer: &CustomerRow,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut work = Work::begin(state).await?;
    unlock_in(&mut work, &[(customer, audit.clone())]).await?;
    work.commit().await
}

/// Unlock of each customer with their audit entry, inside the caller's work
/// (the single action's, or a bulk job's stretch), which commits it. One
/// statement per step for the whole set.
pub async fn unlock_in(
    work: &mut Work<'_>,
    customers: &[(&CustomerRow, AuditEntry)],
) -> Result<(), StoreError> {
    let ids: Vec<i64> = customers.iter().map(|(c, _)| c.id).collect();
    work.tx()
        .clear_lockouts(AccountTable::Customers, &ids)
        .await?;
    let audits: Vec<&AuditEntry> = customers.iter().map(|(_, a)| a).collect();
    work.tx().insert_audits(&audits).await?;
    let unlocked: Vec<_> = customers
        .iter()
        .map(|(c, a)| {
            let by = a.admin_email.as_str();
            (c.id, a.at, Event::Unlocked { by }, None)
        })
        .collect();
    events::record_each(work.tx(), &unlocked).await?;
    Ok(())
}

/// The customer a session or token points at, if its stamp is still current.
pub async fn current(
    state: &AppState,
    id: i64,
    stamp: &str,
) -> Result<Option<CustomerRow>, StoreError> {
    Ok(state
        .db
        .customer_by_id(id)
        .await?
        .filter(|c| crate::secrets::secure_eq(&c.security_stamp, stamp)))
}

impl From<EmailError> for FormErrors {
    fn from(e: EmailError) -> Self {
        FormErrors {
            email: Some(e.message_key()),
            ..FormErrors::default()
        }
    }
}
