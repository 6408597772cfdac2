use askama::Template;
use axum::Form;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::flash_password_problems;
use super::signed_in::{LOGIN, MaybeCustomer, SignedInCustomer};
use crate::accounts::customers::{
    self, ChangePasswordError, RegisterError, Registration, SignInError,
};
use crate::http::context::{FlashKind, Visitor};
use crate::http::errors::AppResult;
use crate::http::page::{PageView, render, see_other};
use crate::store::CustomerRow;

const ACCOUNT: &str = "/customer/account";
const REGISTER_DRAFT: &str = "register_draft";

#[derive(Template)]
#[template(path = "storefront/home.html")]
struct HomePage {
    page: PageView,
}

pub async fn home(MaybeCustomer { visitor, customer }: MaybeCustomer) -> AppResult<Response> {
    render(&HomePage {
        page: visitor
            .storefront_page("home-title", customer.as_ref())
            .await?,
    })
}

/// What the register form keeps between a failed POST and the page after it.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RegisterForm {
    firstname: String,
    lastname: String,
    email: String,
    #[serde(skip_serializing)]
    password: String,
    #[serde(skip_serializing)]
    password_confirmation: String,
}

#[derive(Template)]
#[template(path = "storefront/register.html")]
struct RegisterPage {
    page: PageView,
    draft: RegisterForm,
}

pub async fn register_page(
    MaybeCustomer { visitor, customer }: MaybeCustomer,
) -> AppResult<Response> {
    if customer.is_some() {
        return Ok(see_other(ACCOUNT));
    }
    let draft = visitor
        .session_take(REGISTER_DRAFT)
        .await?
        .unwrap_or_default();
    render(&RegisterPage {
        page: visitor
            .with_password_policy(visitor.storefront_page("register-title", None).await?)
            .await?,
        draft,
    })
}

pub async fn register(visitor: Visitor, Form(form): Form<RegisterForm>) -> AppResult<Response> {
    let registration = Registration {
        firstname: &form.firstname,
        lastname: &form.lastname,
        email: &form.email,
        password: &form.password,
        password_confirmation: &form.password_confirmation,
    };
    match customers::register(&visitor.state, &registration, visitor.locale).await {
        Ok(customer) => {
            visitor.sign_in_customer(&customer).await?;
            visitor
                .flash_key(FlashKind::Success, "register-success")
                .await?;
            Ok(see_other(ACCOUNT))
        }
        Err(RegisterError::EmailTaken) => {
            let text = visitor.t("register-email-taken");
            visitor.flash_field("email", text.clone(), text).await?;
            keep_draft(&visitor, form).await
        }
        Err(RegisterError::Invalid(errors)) => {
            let fields = [
                ("firstname", "field-firstname", errors.firstname),
                ("lastname", "field-lastname", errors.lastname),
                ("email", "field-email", errors.email),
            ];
            for (id, label, problem) in fields {
                if let Some(key) = problem {
                    let note = visitor.t(key);
                    let text = format!("{}: {note}", visitor.t(label));
                    visitor.flash_field(id, text, note).await?;
                }
            }
            flash_password_problems(&visitor, &errors.password).await?;
            keep_draft(&visitor, form).await
        }
        Err(RegisterError::Internal(e)) => Err(e.into()),
    }
}

async fn keep_draft(visitor: &Visitor, form: RegisterForm) -> AppResult<Response> {
    visitor.session.insert(REGISTER_DRAFT, form).await?;
    Ok(see_other("/customer/account/create"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
}

#[derive(Template)]
#[template(path = "storefront/login.html")]
struct LoginPage {
    page: PageView,
}

pub async fn login_page(MaybeCustomer { visitor, customer }: MaybeCustomer) -> AppResult<Response> {
    if customer.is_some() {
        return Ok(see_other(ACCOUNT));
    }
    render(&LoginPage {
        page: visitor.storefront_page("login-title", None).await?,
    })
}

pub async fn login(visitor: Visitor, Form(form): Form<LoginForm>) -> AppResult<Response> {
    match customers::sign_in(&visitor.state, &form.email, &form.password).await {
        Ok(customer) => {
            visitor.sign_in_customer(&customer).await?;
            Ok(see_other(ACCOUNT))
        }
        Err(SignInError::Failed) => {
            visitor.flash_key(FlashKind::Error, "login-failed").await?;
            Ok(see_other(LOGIN))
        }
        Err(SignInError::Internal(e)) => Err(e.into()),
    }
}

pub async fn logout(visitor: Visitor) -> AppResult<Response> {
    visitor.sign_out().await?;
    visitor
        .flash_key(FlashKind::Success, "logout-success")
        .await?;
    Ok(see_other("/"))
}

#[derive(Template)]
#[template(path = "storefront/account.html")]
struct AccountPage {
    page: PageView,
    customer: CustomerRow,
}

pub async fn dashboard(
    SignedInCustomer { visitor, customer }: SignedInCustomer,
) -> AppResult<Response> {
    let page = visitor
        .storefront_page("account-title", Some(&customer))
        .await?;
    render(&AccountPage { page, customer })
}

#[derive(Template)]
#[template(path = "storefront/edit.html")]
struct EditPage {
    page: PageView,
}

pub async fn edit_page(
    SignedInCustomer { visitor, customer }: SignedInCustomer,
) -> AppResult<Response> {
    let page = visitor
        .storefront_page("edit-title", Some(&customer))
        .await?;
    let page = visitor.with_password_policy(page).await?;
    render(&EditPage { page })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangePasswordForm {
    current_password: String,
    password: String,
    password_confirmation: String,
}

pub async fn edit(
    SignedInCustomer { visitor, customer }: SignedInCustomer,
    Form(form): Form<ChangePasswordForm>,
) -> AppResult<Response> {
    let result = customers::change_password(
        &visitor.state,
        &customer,
        &form.current_password,
        &form.password,
        Some(&form.password_confirmation),
    )
    .await;
    match result {
        Ok(stamp) => {
            visitor.rebind_customer_stamp(&stamp).await?;
            visitor
                .flash_key(FlashKind::Success, "password-updated")
                .await?;
            Ok(see_other(ACCOUNT))
        }
        Err(ChangePasswordError::WrongCurrentPassword) => {
            let text = visitor.t("edit-wrong-current");
            visitor
                .flash_field("current_password", text.clone(), text)
                .await?;
            Ok(see_other("/customer/account/edit"))
        }
        Err(ChangePasswordError::Policy(problems)) => {
            flash_password_problems(&visitor, &problems).await?;
            Ok(see_other("/customer/account/edit"))
        }
        Err(ChangePasswordError::LockedOut) => {
            // Guessing the current password locked the account: this session
            // ends, and signing in again meets the lockout.
            visitor.sign_out().await?;
            visitor.flash_key(FlashKind::Error, "login-failed").await?;
            Ok(see_other("/customer/account/login"))
        }
        Err(ChangePasswordError::Internal(e)) => Err(e.into()),
    }
}
