//! One error type for the HTML surfaces. The response carries only a status and a
//! marker; `render_error_pages` turns it into a page in the visitor's language.
//! Internals go to the log, never to the page.

use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("bad request")]
    BadRequest,
    /// The database is away, restarting or locked: 503 with Retry-After.
    #[error("database unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// Anything else: 500. One whose cause is an unavailable database (found
    /// anywhere in its chain) still answers 503.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable { .. } => AppError::Unavailable(e.into()),
            _ => AppError::Internal(e.into()),
        }
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        // The session stores hand sqlx errors over as text only.
        let error = anyhow::anyhow!("session store: {e}");
        if crate::store::message_is_unavailable(&e.to_string()) {
            AppError::Unavailable(error)
        } else {
            AppError::Internal(error)
        }
    }
}

/// Seconds a client is asked to wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// Whether an error (anywhere in its chain) is an unavailable database.
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    crate::store::chain_is_unavailable(e.as_ref())
}

/// The bare 503 of an unavailable database, logged once as a warning: an
/// outage is an operator's matter, not a bug.
pub fn unavailable(e: &anyhow::Error) -> Response {
    tracing::warn!(error = %format!("{e:#}"), "database unavailable; answering 503");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(RETRY_AFTER, RETRY_AFTER_SECONDS)],
    )
        .into_response()
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(anyhow::anyhow!("template: {e}"))
    }
}

/// Marks a response whose body the error-page layer should render.
#[derive(Clone, Copy, Debug)]
pub struct ErrorPage;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = match &self {
            AppError::NotFound => StatusCode::NOT_FOUND.into_response(),
            AppError::Forbidden => StatusCode::FORBIDDEN.into_response(),
            AppError::BadRequest => StatusCode::BAD_REQUEST.into_response(),
            AppError::Unavailable(e) => unavailable(e),
            AppError::Internal(e) if is_unavailable(e) => unavailable(e),
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        };
        response.extensions_mut().insert(ErrorPage);
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
