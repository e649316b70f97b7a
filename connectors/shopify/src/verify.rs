//! Shopify's webhook signature: `X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, raw body))`,
//! plus the replay window on `X-Shopify-Triggered-At` (required) and the optional shop-domain pin.
//!
//! Newer "events" deliveries send the same headers lower-case and unprefixed
//! (`shopify-hmac-sha256`); both spellings are accepted everywhere.

use crate::config::ShopifySettings;
use cartback_core::{InboundRequest, VerifyError};
use chrono::{DateTime, Utc};

pub const HMAC_HEADERS: [&str; 2] = ["x-shopify-hmac-sha256", "shopify-hmac-sha256"];
pub const TRIGGERED_AT_HEADERS: [&str; 2] = ["x-shopify-triggered-at", "shopify-triggered-at"];
pub const DOMAIN_HEADERS: [&str; 2] = ["x-shopify-shop-domain", "shopify-shop-domain"];

/// The first of `names` present with a non-blank value, trimmed.
pub(crate) fn header<'a>(req: &'a InboundRequest, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|n| req.header(n))
        .map(str::trim)
        .find(|v| !v.is_empty())
}

/// Parses an ISO-8601 / RFC 3339 time (`2026-11-20T10:05:42-05:00`) to UTC.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Verifies a delivery: signature over the raw body with any configured secret (constant time),
/// then the shop domain header when one is configured, then `X-Shopify-Triggered-At`: missing is
/// [`VerifyError::MissingHeader`], outside `replay_window` is [`VerifyError::Stale`]. Never
/// parses the body.
pub fn verify(settings: &ShopifySettings, req: &InboundRequest) -> Result<(), VerifyError> {
    let given = header(req, &HMAC_HEADERS)
        .ok_or_else(|| VerifyError::MissingHeader("X-Shopify-Hmac-Sha256".into()))?;
    cartback_kit::verify_base64(
        &settings.secret,
        "X-Shopify-Hmac-Sha256",
        given,
        &[&req.body],
    )?;
    if settings.shop_domain().is_some() {
        let domain = header(req, &DOMAIN_HEADERS).unwrap_or_default();
        if !settings.is_own_shop(domain) {
            return Err(VerifyError::Mismatch);
        }
    }
    check_triggered_at(settings, req)
}

/// `X-Shopify-Triggered-At` must be present, an ISO-8601 time, and within `replay_window` of
/// `received_at`. Shopify does not sign this header, so it only stops a replay sent as captured;
/// what binds a body to its topic and shop is checked in translation.
fn check_triggered_at(settings: &ShopifySettings, req: &InboundRequest) -> Result<(), VerifyError> {
    let ts = header(req, &TRIGGERED_AT_HEADERS)
        .ok_or_else(|| VerifyError::MissingHeader("X-Shopify-Triggered-At".into()))?;
    let at = parse_time(ts)
        .ok_or_else(|| VerifyError::MalformedHeader("X-Shopify-Triggered-At".into()))?;
    cartback_kit::check_timestamp_window(at, req.received_at, settings.replay_window.0)
}

/// The `X-Shopify-Hmac-Sha256` value Shopify would send for `body`: base64 HMAC-SHA256 with
/// `secret` (for tests, docs and hand-made `curl` deliveries).
pub fn sign(secret: &str, body: &[u8]) -> String {
    cartback_kit::Encoding::Base64.encode(&cartback_kit::hmac_sha256(secret.as_bytes(), &[body]))
}
