//! Operations: health, readiness, metrics (on their own listener), static files,
//! the language switch.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;

use super::context::LANG_COOKIE;
use super::cookies;
use crate::i18n::Locale;
use crate::state::AppState;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide metrics recorder once (tests start many apps).
pub(crate) fn metrics_handle() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        handle
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/static/{file}", get(static_file))
}

/// Served on METRICS_LISTEN only: counters a visitor can move must not be public.
pub fn metrics_router() -> Router {
    Router::new().route("/metrics", get(|| async { metrics_handle().render() }))
}

pub fn language_router() -> Router<AppState> {
    Router::new().route("/language/{code}", get(switch_language))
}

/// How long `/readyz` waits for the database: shorter than the pool's own
/// acquire timeout, so a load balancer learns of an outage within about a second.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

async fn readyz(State(state): State<AppState>) -> Response {
    let answer = match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => return "ready".into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} ms", READY_TIMEOUT.as_millis()),
    };
    tracing::warn!(error = %answer, "database not reachable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(RETRY_AFTER, super::errors::RETRY_AFTER_SECONDS)],
        "database unreachable",
    )
        .into_response()
}

const STATIC_FILES: &[(&str, &str, &str)] = &[
    (
        "shop.css",
        "text/css; charset=utf-8",
        include_str!("../../static/shop.css"),
    ),
    (
        "shop.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/shop.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
];

async fn static_file(Path(file): Path<String>) -> Response {
    match STATIC_FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    axum::http::header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

/// `back` as a path on this site, or `None`: only an absolute path is taken,
/// without control characters, whitespace or backslashes (browsers read `/\t/x`
/// and `/\\x` as `//x`, another host), and it must parse to a path on the same
/// origin. The answer is the parsed path and query, not the raw input.
fn local_path(back: &str) -> Option<String> {
    let plain = back
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace() && c != '\\');
    if !plain || !back.starts_with('/') || back.starts_with("//") {
        return None;
    }
    let origin = url::Url::parse("http://origin.invalid/").ok()?;
    let url = origin.join(back).ok()?;
    if url.origin() != origin.origin() {
        return None;
    }
    // Dot segments can fold into a leading `//` (`/.//evil`): check the result too.
    if url.path().starts_with("//") {
        return None;
    }
    Some(match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    })
}

/// Remembers the visitor's language and returns to the page they were on.
async fn switch_language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(back): Query<Back>,
) -> Response {
    let Ok(locale) = code.parse::<Locale>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let target = back
        .back
        .as_deref()
        .and_then(local_path)
        .unwrap_or_else(|| "/".to_string());
    let cookie = cookies::set(
        LANG_COOKIE,
        locale.code(),
        Some(365 * 24 * 3600),
        state.config.secure_cookies(),
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let (Ok(location), Ok(cookie)) = (
        HeaderValue::from_str(&target),
        HeaderValue::from_str(&cookie),
    ) {
        response.headers_mut().insert(LOCATION, location);
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn local_paths_are_kept() {
        assert_eq!(local_path("/").as_deref(), Some("/"));
        assert_eq!(
            local_path("/customer/account/login").as_deref(),
            Some("/customer/account/login")
        );
        assert_eq!(
            local_path("/admin/customers?page=2").as_deref(),
            Some("/admin/customers?page=2")
        );
        assert_eq!(local_path("/a/./b/../c").as_deref(), Some("/a/c"));
    }

    #[test]
    fn other_sites_and_odd_paths_are_refused() {
        for back in [
            "",
            "//evil.example",
            "///evil.example",
            "/\t/evil.example",
            "/\tevil",
            "/\\evil.example",
            "\\\\evil.example",
            "/ /evil",
            "/\n/evil",
            "/\r\n/evil",
            "/\u{0}/evil",
            "/\u{a0}/evil",
            "/\u{2028}/evil",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "evil.example",
            "./x",
            "/.//evil.example",
            "/..//evil.example",
            "/a/../..//evil.example",
        ] {
            assert_eq!(local_path(back), None, "{back:?}");
        }
    }
}
