//! Outbound HTTP shared by every provider connector: one client builder, one status table,
//! one `Retry-After` parser, one mapping from transport errors to [`DeliveryError`] (and, for
//! pollers, to [`PollError`]), and [`permanent`] for a message that can never be sent.

use cartback_core::{DeliveryError, PollError};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The client every HTTP connector uses: rustls, timeouts, a product user agent, no redirects
/// (a provider that redirects a POST is misconfigured, and following it could leak credentials).
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cartback/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
}

/// What a non-2xx status means for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    Retryable,
    Permanent,
}

/// The default table: 2xx success; 408, 429 and 5xx except 501 retryable; other statuses permanent.
pub fn classify_status(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        408 | 429 => StatusClass::Retryable,
        501 => StatusClass::Permanent,
        500..=599 => StatusClass::Retryable,
        _ => StatusClass::Permanent,
    }
}

/// Parses `Retry-After` (delta-seconds or an HTTP date), capped at one day.
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let cap = Duration::from_secs(86_400);
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(cap));
    }
    let when = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    Some((when - now).to_std().unwrap_or(Duration::ZERO).min(cap))
}

/// Turns a non-success response status into a [`DeliveryError`] with the provider's reason.
pub fn status_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body_excerpt: &str,
    now: DateTime<Utc>,
) -> DeliveryError {
    let reason = format!("HTTP {status}: {}", excerpt(body_excerpt, 300));
    match classify_status(status) {
        StatusClass::Retryable => DeliveryError::Retryable {
            reason,
            retry_after: retry_after(headers, now),
        },
        _ => DeliveryError::Permanent { reason },
    }
}

/// Maps a transport error: nothing sent (connect, builder) is retryable; a timeout or a broken
/// connection after the request went out is an unknown outcome.
pub fn transport_error(err: &reqwest::Error) -> DeliveryError {
    let reason = error_chain(err);
    if err.is_connect() || err.is_builder() {
        DeliveryError::Retryable {
            reason,
            retry_after: None,
        }
    } else {
        // Timeout, reset, body or decode errors: the request may have been processed.
        DeliveryError::Unknown { reason }
    }
}

/// A provider's answer that was not 2xx, read whole: what a connector's own classification of
/// the platform's error body needs.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

/// Sends `request` with `body` as its JSON (`Content-Type` and `Accept: application/json`):
/// `Ok(Ok(()))` on a 2xx, `Ok(Err(refusal))` on any other answer, `Err` when the request failed
/// in transport (classified by [`transport_error`]) or the body could not be encoded (permanent,
/// naming `what`).
pub async fn post_json(
    request: reqwest::RequestBuilder,
    body: &impl serde::Serialize,
    what: &str,
) -> Result<Result<(), Refusal>, DeliveryError> {
    let body =
        serde_json::to_vec(body).map_err(|e| permanent(format!("cannot encode {what}: {e}")))?;
    let response = request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(Ok(()));
    }
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Ok(Err(Refusal {
        status,
        headers,
        body,
    }))
}

/// A message that can never be sent as it is (no address, no body, a header that cannot be
/// sent): [`DeliveryError::Permanent`] with `reason`. For every sink, HTTP or not.
pub fn permanent(reason: impl Into<String>) -> DeliveryError {
    DeliveryError::Permanent {
        reason: reason.into(),
    }
}

/// A delivery outcome as a poll sees it: permanent stays permanent; retryable keeps its
/// `Retry-After`; unknown (a read that may have been served) is simply read again.
pub fn poll_error(err: DeliveryError) -> PollError {
    match err {
        DeliveryError::Permanent { reason } => PollError::Permanent { reason },
        DeliveryError::Retryable {
            reason,
            retry_after,
        } => PollError::Retryable {
            reason,
            retry_after,
        },
        DeliveryError::Unknown { reason } => PollError::Retryable {
            reason,
            retry_after: None,
        },
    }
}

/// A poll's non-2xx answer: [`status_error`]'s table (401, 403, 404 permanent; 429 and 5xx
/// retryable after `Retry-After`), as a [`PollError`].
pub fn poll_status_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body_excerpt: &str,
    now: DateTime<Utc>,
) -> PollError {
    poll_error(status_error(status, headers, body_excerpt, now))
}

/// A poll's request that failed in transport (`what`: `"request"` when sending, `"reading the
/// response"` when reading the body): always retryable, since a read is safe to repeat.
pub fn poll_transport_error(what: &str, err: &reqwest::Error) -> PollError {
    PollError::Retryable {
        reason: format!("{what} failed: {err}"),
        retry_after: None,
    }
}

/// An error and its causes on one line (`a: b: c`), so a reset and a refused connection read
/// differently in `last_error`. Repeated texts (wrappers that echo their source) appear once.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    excerpt(&out, 300)
}

fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    /// The error of a request to a port that was just free: nothing listens there.
    async fn refused() -> reqwest::Error {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn a_refused_connection_says_so_and_is_retryable() {
        let err = refused().await;
        match transport_error(&err) {
            DeliveryError::Retryable { reason, .. } => {
                assert!(reason.to_lowercase().contains("refused"), "{reason}");
            }
            other => panic!("expected retryable, got {other:?}"),
        }
    }

    #[test]
    fn status_table() {
        assert_eq!(classify_status(202), StatusClass::Success);
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify_status(s), StatusClass::Retryable, "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422, 501] {
            assert_eq!(classify_status(s), StatusClass::Permanent, "{s}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = Utc::now();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = (now + chrono::Duration::seconds(120)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h, now).unwrap();
        assert!(d <= Duration::from_secs(120) && d >= Duration::from_secs(118));
        h.insert(RETRY_AFTER, HeaderValue::from_static("999999999"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(86_400)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[tokio::test]
    async fn poll_errors_are_read_as_a_poll_sees_them() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        let now = Utc::now();
        assert_eq!(
            poll_status_error(429, &h, "slow down", now),
            PollError::Retryable {
                reason: "HTTP 429: slow down".into(),
                retry_after: Some(Duration::from_secs(30)),
            }
        );
        assert_eq!(
            poll_status_error(401, &h, "bad token", now),
            PollError::Permanent {
                reason: "HTTP 401: bad token".into()
            }
        );
        // A timeout after the request went out is only read again.
        assert_eq!(
            poll_error(DeliveryError::Unknown { reason: "t".into() }),
            PollError::Retryable {
                reason: "t".into(),
                retry_after: None
            }
        );
        let err = refused().await;
        match poll_transport_error("request", &err) {
            PollError::Retryable {
                reason,
                retry_after: None,
            } => assert!(reason.starts_with("request failed: "), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn permanent_says_why() {
        assert_eq!(
            permanent(format!("header {:?} is not valid", "X")),
            DeliveryError::Permanent {
                reason: "header \"X\" is not valid".into()
            }
        );
    }

    #[test]
    fn status_error_carries_retry_after() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        match status_error(429, &h, "slow down", Utc::now()) {
            DeliveryError::Retryable { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(3)))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(400, &h, "bad", Utc::now()),
            DeliveryError::Permanent { .. }
        ));
    }
}
