//! The REST API's OpenAPI 3 document, served at GET /rest/openapi.json. Paths,
//! methods, bodies and answers come from the handlers' `#[utoipa::path]`
//! annotations (src/http/api/mod.rs); this module adds what is common to all.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Under /rest, like every REST path.
pub const PATH: &str = "/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "shop-accounts REST API",
        description = "Customer sign-in and password recovery on Magento's V1 paths. Errors are `{\"message\": …}`."
    ),
    servers((url = "/rest")),
    modifiers(&BearerToken)
)]
struct Base;

/// `Authorization: Bearer <token from /V1/integration/customer/token>`.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document's common part, before the routes add their paths.
pub(crate) fn base_document() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// The whole document, as JSON.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        super::documented()
            .into_openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serialises")
    })
}

pub async fn serve() -> Response {
    ([(CONTENT_TYPE, "application/json")], document()).into_response()
}

#[cfg(test)]
mod tests {
    /// Routes get into the document only through `.routes(routes!(handler))`;
    /// a `.route(…)` in the REST router would serve a path the document lacks.
    #[test]
    fn every_rest_route_is_documented() {
        let source = include_str!("mod.rs");
        let undocumented: Vec<&str> = source
            .lines()
            .filter(|line| line.contains(".route(") && !line.contains("openapi::PATH"))
            .map(str::trim)
            .collect();
        assert!(
            undocumented.is_empty(),
            "REST routes added with .route() are missing from the OpenAPI document; \
             give the handler #[utoipa::path(…)] and add it with .routes(routes!(handler)): {undocumented:?}"
        );
    }

    #[test]
    fn the_document_names_every_rest_path_of_the_spec() {
        let document: serde_json::Value = serde_json::from_str(super::document()).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3."));
        let paths = document["paths"].as_object().unwrap();
        for (path, method) in [
            ("/V1/integration/customer/token", "post"),
            ("/V1/customers/me", "get"),
            ("/V1/customers/password", "put"),
            ("/V1/customers/resetPassword", "post"),
            ("/V1/customers/me/password", "put"),
        ] {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
        assert_eq!(document["servers"][0]["url"], "/rest");
        assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    }
}
