//! Who is signed in on the storefront, as extractors: a handler that needs a
//! customer takes `SignedInCustomer` (a visitor without one is sent to Sign In
//! before the handler runs); a page for everyone takes `MaybeCustomer`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::http::context::Visitor;
use crate::http::page::see_other;
use crate::state::AppState;
use crate::store::CustomerRow;

pub const LOGIN: &str = "/customer/account/login";

/// A signed-in customer whose session is still current (its stamp matches).
pub struct SignedInCustomer {
    pub visitor: Visitor,
    pub customer: CustomerRow,
}

impl FromRequestParts<AppState> for SignedInCustomer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let MaybeCustomer { visitor, customer } =
            MaybeCustomer::from_request_parts(parts, state).await?;
        match customer {
            Some(customer) => Ok(SignedInCustomer { visitor, customer }),
            None => Err(see_other(LOGIN)),
        }
    }
}

/// A storefront visitor, signed in or not.
pub struct MaybeCustomer {
    pub visitor: Visitor,
    pub customer: Option<CustomerRow>,
}

impl FromRequestParts<AppState> for MaybeCustomer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let customer = visitor
            .customer()
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(MaybeCustomer { visitor, customer })
    }
}
