//! HTTP: the storefront, admin and REST routers, and the layers every request
//! passes (request id, redacted request log, body limit, security headers).

pub mod admin;
pub mod api;
pub mod context;
mod cookies;
pub mod csrf;
pub mod csv_export;
mod error_pages;
pub mod errors;
mod flash;
mod framing;
mod ops;
pub mod page;
mod server;
mod storefront;

pub use server::{ConnectionLimits, serve};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Request};
use axum::middleware::from_fn_with_state;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::state::AppState;
use crate::store::sessions::SessionStore;

pub const STOREFRONT_COOKIE: &str = "shop_session";
pub const ADMIN_COOKIE: &str = "admin_session";

/// A session layer: the cookie named by `cookies::name` (`__Host-…` over
/// https), Path=/ and no Domain, ended after `idle` without a request. The
/// absolute lifetime of a sign-in is kept in the session itself (context.rs).
fn sessions(
    store: &SessionStore,
    base_name: &str,
    idle: time::Duration,
    secure: bool,
) -> SessionManagerLayer<SessionStore> {
    SessionManagerLayer::new(store.clone())
        .with_name(cookies::name(base_name, secure))
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(idle))
}

#[derive(Clone, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = crate::secrets::random_token();
        HeaderValue::from_str(&id[..16]).ok().map(RequestId::new)
    }
}

/// The query string for the log: dropped whole whenever a key may name a
/// secret. Keys are judged as the application reads them (percent-decoded, `+`
/// as space), so `?%74oken=…` is caught as well as `?token=…`.
fn loggable_query(query: Option<&str>) -> &str {
    let Some(query) = query else {
        return "";
    };
    let secret = url::form_urlencoded::parse(query.as_bytes())
        .any(|(key, _)| key.to_lowercase().contains("token"));
    if secret { "[redacted]" } else { query }
}

pub fn router(state: AppState) -> Router {
    let store = SessionStore::new(state.db.clone());
    let secure = state.config.secure_cookies();
    // Unknown paths are answered inside the storefront's session, so their page
    // header shows who is signed in.
    let storefront = storefront::router()
        .fallback(error_pages::not_found)
        .layer(from_fn_with_state(state.clone(), error_pages::render))
        .layer(sessions(
            &store,
            STOREFRONT_COOKIE,
            context::STOREFRONT_IDLE,
            secure,
        ));
    let admin = admin::router()
        .layer(from_fn_with_state(state.clone(), error_pages::render))
        .layer(sessions(&store, ADMIN_COOKIE, context::ADMIN_IDLE, secure));

    let html = Router::new()
        .merge(storefront)
        .merge(admin)
        .merge(ops::language_router())
        .layer(from_fn_with_state(state.clone(), flash::carry))
        .layer(from_fn_with_state(state.clone(), csrf::protect))
        .layer(from_fn_with_state(state.clone(), error_pages::render))
        .layer(SetResponseHeaderLayer::if_not_present(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));

    // Tokens and account data in API answers must not be cached (RFC 6749 §5.1).
    let api = api::router().layer(SetResponseHeaderLayer::if_not_present(
        CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ));
    // Over https, browsers are told to stay on https.
    let hsts = secure.then(|| {
        SetResponseHeaderLayer::overriding(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });

    Router::new()
        .merge(html)
        .nest("/rest", api)
        .route("/rest/", axum::routing::any(api::not_found))
        .merge(ops::router())
        .layer(tower::util::option_layer(hsts))
        .layer(DefaultBodyLimit::max(csrf::MAX_FORM_BYTES))
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(axum::middleware::from_fn(framing::refuse_ambiguous_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        id,
                        method = %request.method(),
                        path = request.uri().path(),
                        query = loggable_query(request.uri().query()),
                    )
                })
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .with_state(state)
}

/// The metrics listener's router: `GET /metrics` and nothing else.
pub fn metrics_router() -> Router {
    ops::metrics_router()
}

/// Installs the metrics recorder (idempotent).
pub fn ops_metrics() {
    ops::metrics_handle();
}

#[cfg(test)]
mod tests {
    #[test]
    fn queries_with_tokens_are_not_logged() {
        assert_eq!(super::loggable_query(Some("token=abc")), "[redacted]");
        assert_eq!(
            super::loggable_query(Some("q=jane&page=2")),
            "q=jane&page=2"
        );
        assert_eq!(super::loggable_query(None), "");
    }

    #[test]
    fn encoded_token_keys_are_redacted_too() {
        for query in [
            "%74oken=abc",
            "%54OKEN=abc",
            "q=1&reset%5Ftoken=abc",
            "api+Token=abc",
            "x=1&%74%6F%6B%65%6E=abc",
            "Token=abc&q=jane",
        ] {
            assert_eq!(super::loggable_query(Some(query)), "[redacted]", "{query}");
        }
    }
}
