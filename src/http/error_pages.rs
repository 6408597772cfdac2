//! Error pages in the visitor's language. Handlers (and axum's own rejections)
//! return a bare status; this layer gives every HTML error a page that says
//! what happened in plain words and leaks nothing.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use tower_sessions::Session;

use super::context::{locale_of, signed_in};
use super::csrf::CsrfSeed;
use super::errors::{AppError, ErrorPage, RETRY_AFTER_SECONDS};
use super::page::{Area, PageView};
use crate::settings::PasswordOptions;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    page: PageView,
    status: u16,
    message: String,
}

fn message_key(status: u16) -> &'static str {
    match status {
        400 | 422 => "error-bad-request",
        403 => "error-forbidden",
        404 | 405 => "error-not-found",
        408 => "error-timeout",
        413 => "error-too-large",
        503 => "error-unavailable",
        415 => "error-bad-request",
        _ if status >= 500 => "error-internal",
        _ => "error-bad-request",
    }
}

/// Applied inside each session layer (so the page header knows who is signed
/// in) and once more around everything else.
pub async fn render(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let locale = locale_of(request.headers(), &state.config);
    let path = request.uri().path().to_string();
    let is_admin = path.starts_with("/admin");
    let session = request.extensions().get::<Session>().cloned();
    let form_key = request
        .extensions()
        .get::<CsrfSeed>()
        .map(|seed| state.form_key(seed))
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status();
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let marked = response.extensions().get::<ErrorPage>().is_some();
    if !(status.is_client_error() || status.is_server_error()) || (is_html && !marked) {
        return response;
    }
    // A bare 500 that no handler marked comes from a layer: tower-sessions
    // answers so when it cannot save the session. While the database is away
    // that is an outage (503), not a bug.
    let status =
        if status == StatusCode::INTERNAL_SERVER_ERROR && !marked && database_away(&state).await {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            status
        };
    let code = status.as_u16();
    let unavailable = status == StatusCode::SERVICE_UNAVAILABLE;
    // Who is signed in is read from the database: not when it is away (that
    // would make the visitor wait for the pool a second time).
    let (customer, admin) = match &session {
        Some(session) if !unavailable => signed_in(&state, session, is_admin).await,
        _ => (None, None),
    };
    let page = PageView {
        locale,
        title: locale.t("error-title"),
        form_key,
        customer_name: customer.map(|c| format!("{} {}", c.firstname, c.lastname)),
        admin,
        flashes: Vec::new(),
        path,
        area: if is_admin {
            Area::Admin
        } else {
            Area::Storefront
        },
        password_policy: PasswordOptions::default().policy(),
    };
    let template = ErrorTemplate {
        page,
        status: code,
        message: locale.t(message_key(code)),
    };
    let mut page = match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the error page");
            (status, locale.t(message_key(code))).into_response()
        }
    };
    if unavailable {
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .cloned()
            .unwrap_or(HeaderValue::from_static(RETRY_AFTER_SECONDS));
        page.headers_mut().insert(RETRY_AFTER, retry_after);
    }
    page
}

/// Whether the database fails a ping, or gives no answer within half a second.
async fn database_away(state: &AppState) -> bool {
    !matches!(
        tokio::time::timeout(std::time::Duration::from_millis(500), state.db.ping()).await,
        Ok(Ok(()))
    )
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}
