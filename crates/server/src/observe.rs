//! Following one request through the logs: every request runs in a `request` span carrying its
//! id (the caller's `x-request-id` when it is a sane one, else a new UUID), method and route
//! (the route's pattern, `/t/{token}`, never the path: tokens and addresses stay out of logs), and
//! the answer echoes the id in `x-request-id`. Admin and dashboard requests are cut off after
//! [`ADMIN_TIMEOUT`] with 408.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;
use tracing::Instrument;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How long an admin API or dashboard request may take before it is answered 408.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The 408 layer for the admin API and the dashboard.
pub fn admin_timeout() -> tower_http::timeout::TimeoutLayer {
    tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, ADMIN_TIMEOUT)
}

/// The caller's id when it is 1 to 64 characters of letters, digits, `-`, `_`, `.` and `:`; else
/// none (a new one is made).
fn sane(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| s.to_string())
}

/// The middleware: the span, the id, the echo.
pub async fn request_span(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), %route);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let mut resp = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_kept() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("x"));
        assert_eq!(sane(&v("req-42_a.b:c")).as_deref(), Some("req-42_a.b:c"));
        assert_eq!(sane(&v(&"a".repeat(65))), None);
        assert_eq!(sane(&v("a b")), None);
        assert_eq!(sane(&v("x\"y")), None);
    }
}
