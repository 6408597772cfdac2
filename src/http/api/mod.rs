//! REST, on Magento's V1 paths (mounted under /rest). Errors are `{"message": …}` with a fitting status.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::context::{ClientIp, locale_of};
use crate::accounts::customers::{self, ChangeFrom, ChangePasswordError, SignInError};
use crate::api_tokens;
use crate::i18n::Locale;
use crate::recovery::{self, Link, RequestError, Requester, ResetError};
use crate::state::AppState;
use crate::store::CustomerRow;

pub mod openapi;

pub fn router() -> Router<AppState> {
    let (documented, _) = documented().split_for_parts();
    documented
        .route(openapi::PATH, get(openapi::serve))
        // A known path with the wrong method answers in JSON like any other REST error.
        .method_not_allowed_fallback(|lang: ApiLocale| async move {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, lang.0.t("api-not-found"))
        })
        .fallback(not_found)
}

/// Every REST route. Each handler's `#[utoipa::path]` gives its method and path,
/// so a route is in the OpenAPI document (GET /rest/openapi.json) by construction.
pub(crate) fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base_document())
        .routes(routes!(issue_token))
        .routes(routes!(me))
        .routes(routes!(request_reset))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(revoke_customer_token))
}

/// Any other path under /rest, including /rest/ itself.
pub async fn not_found(ApiLocale(l): ApiLocale) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, l.t("api-not-found"))
}

/// Every error answer: `{"message": …}`.
#[derive(Serialize, ToSchema)]
struct ApiMessage {
    message: String,
}

pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: String) -> Self {
        ApiError { status, message }
    }

    /// 500, or 503 with Retry-After when the cause is an unavailable database.
    fn internal(e: impl Into<anyhow::Error>, l: Locale) -> Self {
        let e = e.into();
        if crate::http::errors::is_unavailable(&e) {
            tracing::warn!(error = %format!("{e:#}"), "database unavailable; REST answers 503");
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, l.t("error-unavailable"));
        }
        tracing::error!(error = ?e, "internal error in the REST API");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, l.t("error-internal"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiMessage {
            message: self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(crate::http::errors::RETRY_AFTER_SECONDS),
            );
        }
        response
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

/// JSON body whose every rejection is a `{"message"}` 400 (415 without the
/// JSON content type, 413 past the body limit).
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
                    // Past the body limit: 413, as the forms answer.
                    r if r.status() == StatusCode::PAYLOAD_TOO_LARGE => r.status(),
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

#[derive(Deserialize, ToSchema)]
struct TokenRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Signs a customer in: a bearer token for the other calls.
#[utoipa::path(
    post,
    path = "/V1/integration/customer/token",
    tag = "customers",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A bearer token (a JSON string)", body = String),
        (status = 400, description = "The body is not the expected JSON", body = ApiMessage),
        (status = 401, description = "Wrong email or password, or the account is locked", body = ApiMessage),
    )
)]
async fn issue_token(
    State(state): axum::extract::State<AppState>,
    ApiLocale(l): ApiLocale,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<String>, ApiError> {
    match api_tokens::issue(&state, &body.username, &body.password, ip).await {
        Ok(token) => Ok(Json(token)),
        Err(SignInError::Failed) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, l.t("login-failed")))
        }
        Err(SignInError::Internal(e)) => Err(ApiError::internal(e, l)),
    }
}

use axum::extract::State;

/// The signed-in customer, as `GET /V1/customers/me` answers it.
#[derive(Serialize, ToSchema)]
struct Me {
    id: i64,
    email: String,
    firstname: String,
    lastname: String,
}

/// The customer the bearer token belongs to.
#[utoipa::path(
    get,
    path = "/V1/customers/me",
    tag = "customers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The customer", body = Me),
        (status = 401, description = "The token is unknown, expired or revoked", body = ApiMessage),
    )
)]
async fn me(ApiCustomer(c): ApiCustomer) -> Json<Me> {
    Json(Me {
        id: c.id,
        email: c.email,
        firstname: c.firstname,
        lastname: c.lastname,
    })
}

#[derive(Deserialize, ToSchema)]
struct ResetRequest {
    #[serde(default)]
    email: String,
    #[allow(dead_code)]
    #[serde(default)]
    template: Option<String>,
}

/// Emails a reset link when the account exists; answers the same when it does not.
#[utoipa::path(
    put,
    path = "/V1/customers/password",
    tag = "password reset",
    request_body = ResetRequest,
    responses(
        (status = 200, description = "Always `true`, whether or not the account exists", body = bool),
        (status = 400, description = "Not an email address, or not the expected JSON", body = ApiMessage),
        (status = 429, description = "Too many reset requests", body = ApiMessage),
    )
)]
async fn request_reset(
    State(state): State<AppState>,
    ApiLocale(l): ApiLocale,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<Json<bool>, ApiError> {
    match recovery::request_reset(
        &state,
        &body.email,
        Requester::Visitor {
            client_ip: ip,
            via: "rest",
        },
    )
    .await
    {
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

#[derive(Deserialize, ToSchema)]
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

/// Sets a new password with the token from a reset email.
#[utoipa::path(
    post,
    path = "/V1/customers/resetPassword",
    tag = "password reset",
    request_body = ResetPassword,
    responses(
        (status = 200, description = "The password is changed", body = bool),
        (status = 400, description = "The link expired, or the password breaks the policy", body = ApiMessage),
    )
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ChangePassword {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Changes the signed-in customer's password.
#[utoipa::path(
    put,
    path = "/V1/customers/me/password",
    tag = "customers",
    security(("bearer" = [])),
    request_body = ChangePassword,
    responses(
        (status = 200, description = "The password is changed", body = bool),
        (status = 400, description = "Wrong current password, or the new one breaks the policy", body = ApiMessage),
        (status = 401, description = "The token is unknown, expired or revoked", body = ApiMessage),
    )
)]
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
        ChangeFrom::Rest,
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

/// Magento's revoke-customer-token: every API token of the bearer's customer ends.
#[utoipa::path(
    post,
    path = "/V1/integration/customer/revoke-customer-token",
    tag = "customers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every API token of the customer has ended", body = bool),
        (status = 401, description = "The token is unknown, expired or revoked", body = ApiMessage),
    )
)]
async fn revoke_customer_token(
    State(state): State<AppState>,
    ApiLocale(l): ApiLocale,
    ClientIp(ip): ClientIp,
    ApiCustomer(customer): ApiCustomer,
) -> Result<Json<bool>, ApiError> {
    crate::accounts::security::revoke_all_tokens(&state, customer.id, ip)
        .await
        .map_err(|e| ApiError::internal(e, l))?;
    Ok(Json(true))
}
