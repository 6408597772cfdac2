//! REST, on Magento's V1 paths (mounted under /rest). Errors are `{"message": …}` with a fitting status.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::context::{ClientIp, locale_of};
use crate::accounts::customers::{self, ChangePasswordError, SignInError};
use crate::api_tokens;
use crate::i18n::Locale;
use crate::recovery::{self, Link, RequestError, Requester, ResetError};
use crate::state::AppState;
use crate::store::CustomerRow;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/V1/integration/customer/token", post(issue_token))
        .route("/V1/customers/me", get(me))
        .route("/V1/customers/password", put(request_reset))
        .route("/V1/customers/resetPassword", post(reset_password))
        .route("/V1/customers/me/password", put(change_password))
        // A known path with the wrong method answers in JSON like any other REST error.
        .method_not_allowed_fallback(|lang: ApiLocale| async move {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, lang.0.t("api-not-found"))
        })
        .fallback(not_found)
}

/// Any other path under /rest, including /rest/ itself.
pub async fn not_found(ApiLocale(l): ApiLocale) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, l.t("api-not-found"))
}

pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: String) -> Self {
        ApiError { status, message }
    }

    fn internal(e: impl Into<anyhow::Error>, l: Locale) -> Self {
        tracing::error!(error = ?e.into(), "internal error in the REST API");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, l.t("error-internal"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "message": self.message }))).into_response()
    }
}

/// The caller's language (Accept-Language, then DEFAULT_LOCALE).
pub struct ApiLocale(pub Locale);

impl FromRequestParts<AppState> for ApiLocale {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ApiLocale(locale_of(&parts.headers, &state.config)))
    }
}

/// JSON body whose every rejection is a `{"message"}` 400.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let l = locale_of(req.headers(), &state.config);
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => {
                let status = match rejection {
                    JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(ApiError::new(status, l.t("api-invalid-body")))
            }
        }
    }
}

/// The token of `Authorization: Bearer …`.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// The customer behind `Authorization: Bearer …`, or 401.
pub struct ApiCustomer(pub CustomerRow);

impl FromRequestParts<AppState> for ApiCustomer {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let l = locale_of(&parts.headers, &state.config);
        let customer = match bearer_token(&parts.headers) {
            Some(token) => api_tokens::verify(state, token)
                .await
                .map_err(|e| ApiError::internal(e, l))?,
            None => None,
        };
        customer
            .map(ApiCustomer)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, l.t("api-unauthorized")))
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn issue_token(
    State(state): axum::extract::State<AppState>,
    ApiLocale(l): ApiLocale,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<String>, ApiError> {
    match api_tokens::issue(&state, &body.username, &body.password).await {
        Ok(token) => Ok(Json(token)),
        Err(SignInError::Failed) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, l.t("login-failed")))
        }
        Err(SignInError::Internal(e)) => Err(ApiError::internal(e, l)),
    }
}

use axum::extract::State;

async fn me(ApiCustomer(c): ApiCustomer) -> Json<serde_json::Value> {
    Json(json!({ "id": c.id, "email": c.email, "firstname": c.firstname, "lastname": c.lastname }))
}

#[derive(Deserialize)]
struct ResetRequest {
    #[serde(default)]
    email: String,
    #[allow(dead_code)]
    #[serde(default)]
    template: Option<String>,
}

async fn request_reset(
    State(state): State<AppState>,
    ApiLocale(l): ApiLocale,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<Json<bool>, ApiError> {
    match recovery::request_reset(&state, &body.email, Requester::Visitor { client_ip: ip }).await {
        Ok(()) => Ok(Json(true)),
        Err(RequestError::Limited) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            l.t_with("reset-limit", &[("support", &state.config.support_email)]),
        )),
        Err(RequestError::InvalidEmail(e)) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, l.t(e.message_key())))
        }
        Err(RequestError::Internal(e)) => Err(ApiError::internal(e, l)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResetPassword {
    #[serde(default)]
    email: String,
    #[serde(default)]
    reset_token: String,
    #[serde(default)]
    new_password: String,
}

fn policy_message(l: Locale, problems: &[crate::accounts::PasswordProblem]) -> String {
    let messages: Vec<String> = problems.iter().map(|p| p.localized(l)).collect();
    messages.join(" ")
}

async fn reset_password(
    State(state): State<AppState>,
    ApiLocale(l): ApiLocale,
    ClientIp(client_ip): ClientIp,
    ApiJson(body): ApiJson<ResetPassword>,
) -> Result<Json<bool>, ApiError> {
    let expired = || ApiError::new(StatusCode::BAD_REQUEST, l.t("reset-link-expired"));
    let link = Link::Presented {
        token: &body.reset_token,
        client_ip,
    };
    match recovery::complete_reset(&state, link, Some(&body.email), &body.new_password, None).await
    {
        Ok(()) => Ok(Json(true)),
        Err(ResetError::InvalidLink) => Err(expired()),
        Err(ResetError::Policy(problems)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            policy_message(l, &problems),
        )),
        Err(ResetError::Internal(e)) => Err(ApiError::internal(e, l)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePassword {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    ApiLocale(l): ApiLocale,
    ApiCustomer(customer): ApiCustomer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<Json<bool>, ApiError> {
    match customers::change_password(
        &state,
        &customer,
        &body.current_password,
        &body.new_password,
        None,
    )
    .await
    {
        Ok(_) => Ok(Json(true)),
        Err(ChangePasswordError::WrongCurrentPassword) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            l.t("edit-wrong-current"),
        )),
        Err(ChangePasswordError::Policy(problems)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            policy_message(l, &problems),
        )),
        Err(ChangePasswordError::LockedOut) => {
            // Guessing the current password locked the account: the token
            // that guessed ends with it.
            if let Some(token) = bearer_token(&headers) {
                api_tokens::revoke(&state, token)
                    .await
                    .map_err(|e| ApiError::internal(e, l))?;
            }
            Err(ApiError::new(StatusCode::UNAUTHORIZED, l.t("login-failed")))
        }
        Err(ChangePasswordError::Internal(e)) => Err(ApiError::internal(e, l)),
    }
}
