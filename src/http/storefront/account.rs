use askama::Template;
use axum::Form;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::flash_password_problems;
use super::signed_in::{LOGIN, MaybeCustomer, SignedInCustomer};
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;

use crate::accounts::customers::{
    self, ChangeFrom, ChangePasswordError, RegisterError, Registration, SignInError, SignInFrom,
    SignedIn,
};
use crate::accounts::devices::{self, DeviceCookie};
use crate::accounts::security::{self, Notice};
use crate::http::context::{FlashKind, Visitor};
use crate::http::cookies;
use crate::http::errors::AppResult;
use crate::http::page::{PageView, render, see_other};
use crate::store::CustomerRow;

const ACCOUNT: &str = "/customer/account";
const REGISTER_DRAFT: &str = "register_draft";
/// The device cookie lasts as long as browsers let a cookie last (400 days).
const DEVICE_COOKIE_MAX_AGE: i64 = 400 * 24 * 3600;

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
            let response = browser_signed_in(&visitor, &customer, None, Notice::Never).await?;
            visitor
                .flash_key(FlashKind::Success, "register-success")
                .await?;
            Ok(response)
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
    let headers = &visitor.headers;
    let secure = visitor.state.config.secure_cookies();
    let device_cookie =
        move |customer_id| cookies::get(headers, &devices::cookie_name(customer_id), secure);
    let from = SignInFrom {
        ip: visitor.client_ip,
        device_cookie: &device_cookie,
    };
    match customers::sign_in(&visitor.state, &form.email, &form.password, &from).await {
        Ok(SignedIn {
            customer,
            known_device,
        }) => browser_signed_in(&visitor, &customer, known_device, Notice::WhenNew).await,
        Err(SignInError::Failed) => {
            visitor.flash_key(FlashKind::Error, "login-failed").await?;
            Ok(see_other(LOGIN))
        }
        Err(SignInError::Internal(e)) => Err(e.into()),
    }
}

/// Signs the browser in: its session row, its device cookie (set or renewed)
/// and, for a device new to the account, the notice; then to My Account.
async fn browser_signed_in(
    visitor: &Visitor,
    customer: &CustomerRow,
    known_device: Option<DeviceCookie>,
    notice: Notice,
) -> AppResult<Response> {
    let signed_in = security::browser_signed_in(
        &visitor.state,
        customer,
        &visitor.browser(),
        known_device,
        notice,
    )
    .await?;
    visitor
        .sign_in_customer(customer, &signed_in.session_key)
        .await?;
    let cookie = cookies::set(
        &devices::cookie_name(customer.id),
        &signed_in.device.value(&visitor.state),
        Some(DEVICE_COOKIE_MAX_AGE),
        visitor.state.config.secure_cookies(),
    );
    let mut response = see_other(ACCOUNT);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    Ok(response)
}

pub async fn logout(visitor: Visitor) -> AppResult<Response> {
    if let Some(key) = visitor.session_key().await? {
        security::signed_out(&visitor.state, &key).await?;
    }
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
    let key_hash = visitor
        .session_key()
        .await?
        .map(|key| crate::secrets::token_hash(&key))
        .unwrap_or_default();
    let result = customers::change_password(
        &visitor.state,
        &customer,
        &form.current_password,
        &form.password,
        Some(&form.password_confirmation),
        ChangeFrom::AccountPage {
            session_key_hash: &key_hash,
            device: cookies::get(
                &visitor.headers,
                &devices::cookie_name(customer.id),
                visitor.state.config.secure_cookies(),
            )
            .and_then(|value| DeviceCookie::parse(&visitor.state, &value)),
        },
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
