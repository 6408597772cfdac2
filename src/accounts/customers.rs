//! Customer use-cases shared by the storefront, REST and admin.

use crate::accounts::{Email, EmailError, Password, PasswordProblem, lockout, new_security_stamp};
use crate::i18n::Locale;
use crate::mail;
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{AccountTable, CustomerRow, NewCustomer, StoreError};

pub const MAX_NAME_LENGTH: usize = 255;

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

/// The storefront's check of a first or last name: the catalog key of the problem.
pub(crate) fn check_name(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if name.is_empty() {
        Some("error-required-field")
    } else if name.chars().count() > MAX_NAME_LENGTH || name.chars().any(char::is_control) {
        Some("error-name-invalid")
    } else {
        None
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
    let mut errors = FormErrors {
        firstname: check_name(form.firstname),
        lastname: check_name(form.lastname),
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
    let (Some(email), Some(password)) = (email, password) else {
        return Err(RegisterError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(RegisterError::Invalid(errors));
    }
    let hash = state.hasher.hash(&password).await?;
    let now = state.now();
    let id = state
        .db
        .insert_customer(&NewCustomer {
            email: email.as_str(),
            email_key: &email.key(),
            firstname: form.firstname.trim(),
            lastname: form.lastname.trim(),
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

/// Checks the password (a dummy hash when the email has no account, so the time
/// taken says nothing), counts failures toward the lockout, and records the sign-in.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<CustomerRow, SignInError> {
    let customer = match Email::parse(email) {
        Ok(email) if password.chars().count() <= super::MAX_PASSWORD_LENGTH => {
            state.db.customer_by_email_key(&email.key()).await?
        }
        _ => None,
    };
    let record = customer.as_ref().map(|c| lockout::SignInRecord {
        id: c.id,
        password_hash: &c.password_hash,
        failed_sign_ins: c.failed_sign_ins,
        locked_until: c.locked_until,
    });
    if !lockout::check_sign_in(state, AccountTable::Customers, record, password).await? {
        return Err(SignInError::Failed);
    }
    let customer = customer.ok_or(SignInError::Failed)?;
    super::upgrade_if_legacy(state, &customer, password).await;
    Ok(customer)
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("the current password is wrong")]
    WrongCurrentPassword,
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

/// Changes a signed-in customer's password. The stamp rotates, so every other
/// session and API token ends; the caller re-binds its own session to the
/// returned stamp. Outstanding reset links die; a notice mail is queued.
pub async fn change_password(
    state: &AppState,
    customer: &CustomerRow,
    current: &str,
    new: &str,
    confirmation: Option<&str>,
) -> Result<String, ChangePasswordError> {
    if !state
        .hasher
        .verify(Some(&customer.password_hash), current)
        .await
    {
        return Err(ChangePasswordError::WrongCurrentPassword);
    }
    let options = PasswordOptions::load(&state.db).await?;
    let email = Email::parse(&customer.email)
        .map_err(|e| anyhow::anyhow!("stored email unreadable: {e:?}"))?;
    let password = Password::new(new, confirmation, &email, &options.policy())
        .map_err(ChangePasswordError::Policy)?;
    let hash = state.hasher.hash(&password).await?;
    let stamp = new_security_stamp();
    let notice = mail::password_changed(state, customer)?;
    state
        .db
        .set_customer_password(customer.id, &hash, &stamp, state.now(), false, &notice)
        .await?;
    state.mail_queued.notify_one();
    Ok(stamp)
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
