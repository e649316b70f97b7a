//! Klaviyo's two ways in, checked over the raw body before anything is parsed.
//!
//! - **System webhooks** (signed by Klaviyo): `Klaviyo-Signature` =
//!   `hex(HMAC-SHA256(secret_key, raw body + Klaviyo-Timestamp))`, the timestamp header exactly
//!   as sent. The timestamp may be epoch seconds, epoch milliseconds or ISO-8601, and must be
//!   within `max_age` of receipt (checked after the signature, so only Klaviyo learns of
//!   staleness).
//! - **Flow "Webhook" actions** (unsigned by Klaviyo): add a header `X-Cartback-Secret` with the
//!   configured secret in the flow action's headers; it is compared in constant time with every
//!   configured secret. Use HTTPS: the secret travels in the request.
//!
//! Neither header present is [`VerifyError::MissingHeader`] (`Klaviyo-Signature`).

use crate::config::KlaviyoSettings;
use cartback_core::{InboundRequest, VerifyError};
use cartback_kit::constant_time_eq;
use chrono::{DateTime, Utc};

pub const SIGNATURE_HEADER: &str = "klaviyo-signature";
pub const TIMESTAMP_HEADER: &str = "klaviyo-timestamp";
pub const WEBHOOK_ID_HEADER: &str = "klaviyo-webhook-id";
pub const SHARED_SECRET_HEADER: &str = "x-cartback-secret";

pub(crate) fn header<'a>(req: &'a InboundRequest, name: &str) -> Option<&'a str> {
    req.header(name).map(str::trim).filter(|v| !v.is_empty())
}

/// Epoch seconds (`1763654400`), epoch milliseconds (`1763654400000`), either with a fraction,
/// or ISO-8601 / RFC 3339 (`2026-11-20T16:00:00Z`).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let whole = s.split_once('.').map_or(s, |(w, _)| w);
    if !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = whole.parse().ok()?;
        // Ten digits of seconds reach the year 2286; more digits are milliseconds.
        return if n >= 10_000_000_000 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Verifies a delivery: a Klaviyo signature when `Klaviyo-Signature` is present, else the
/// shared secret in `X-Cartback-Secret`. Never parses the body.
pub fn verify(settings: &KlaviyoSettings, req: &InboundRequest) -> Result<(), VerifyError> {
    if let Some(sig) = header(req, SIGNATURE_HEADER) {
        let ts = header(req, TIMESTAMP_HEADER)
            .ok_or_else(|| VerifyError::MissingHeader("Klaviyo-Timestamp".into()))?;
        cartback_kit::verify_hex(
            &settings.secret,
            "Klaviyo-Signature",
            sig,
            &[&req.body, ts.as_bytes()],
            false,
        )?;
        let at = parse_timestamp(ts)
            .ok_or_else(|| VerifyError::MalformedHeader("Klaviyo-Timestamp".into()))?;
        return cartback_kit::check_timestamp_window(at, req.received_at, settings.max_age());
    }
    if let Some(given) = header(req, SHARED_SECRET_HEADER) {
        let mut ok = false;
        for s in settings.secret.iter() {
            ok |= constant_time_eq(s.as_bytes(), given.as_bytes());
        }
        return if ok {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        };
    }
    Err(VerifyError::MissingHeader("Klaviyo-Signature".into()))
}

/// The `Klaviyo-Signature` Klaviyo sends for `body` at `timestamp` (the header text):
/// hex HMAC-SHA256 with `secret`.
pub fn sign(secret: &str, body: &[u8], timestamp: &str) -> String {
    hex::encode(cartback_kit::hmac_sha256(
        secret.as_bytes(),
        &[body, timestamp.as_bytes()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_forms() {
        let t = parse_timestamp("2026-11-20T16:00:00Z").expect("iso");
        assert_eq!(parse_timestamp("1795190400"), Some(t));
        assert_eq!(parse_timestamp("1795190400000"), Some(t));
        assert_eq!(parse_timestamp("1795190400.25"), Some(t));
        assert_eq!(parse_timestamp("2026-11-20T17:00:00+01:00"), Some(t));
        assert_eq!(parse_timestamp("soon"), None);
        assert_eq!(parse_timestamp(""), None);
    }
}
