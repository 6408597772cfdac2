//! Requests whose meaning depends on which copy of a header a layer reads are
//! refused before any handler runs (issue 14): more than one `Host` (RFC 9112
//! §3.2), `Content-Length` as more than one value or beside `Transfer-Encoding`
//! (§6.1, §6.3: a request-smuggling shape), and more than one `Cookie` header
//! (RFC 6265 §5.4: a user agent sends one; the session layer and the CSRF seed
//! must not read different ones).

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, COOKIE, HOST, TRANSFER_ENCODING};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::AppError;

pub async fn refuse_ambiguous_headers(request: Request, next: Next) -> Response {
    if ambiguous(request.headers()) {
        return AppError::BadRequest.into_response();
    }
    next.run(request).await
}

fn ambiguous(headers: &HeaderMap) -> bool {
    let more_than_one = |name| headers.get_all(name).iter().nth(1).is_some();
    let length_not_one_number = headers
        .get(CONTENT_LENGTH)
        .is_some_and(|v| v.is_empty() || !v.as_bytes().iter().all(u8::is_ascii_digit));
    more_than_one(HOST)
        || more_than_one(COOKIE)
        || more_than_one(CONTENT_LENGTH)
        || length_not_one_number
        || (headers.contains_key(CONTENT_LENGTH) && headers.contains_key(TRANSFER_ENCODING))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn one_of_each_passes() {
        assert!(!ambiguous(&headers(&[
            ("host", "shop.test"),
            ("cookie", "a=1; b=2"),
            ("content-length", "12"),
        ])));
        assert!(!ambiguous(&headers(&[("transfer-encoding", "chunked")])));
    }

    #[test]
    fn two_of_one_are_refused() {
        assert!(ambiguous(&headers(&[("host", "a"), ("host", "a")])));
        assert!(ambiguous(&headers(&[("cookie", "a=1"), ("cookie", "b=2")])));
        assert!(ambiguous(&headers(&[
            ("content-length", "5"),
            ("content-length", "5")
        ])));
        assert!(ambiguous(&headers(&[("content-length", "5, 5")])));
        assert!(ambiguous(&headers(&[
            ("content-length", "5"),
            ("transfer-encoding", "chunked")
        ])));
    }
}
