//! Shopify's webhook signature: `X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, raw body))`.

use crate::config::ShopifySettings;
use cartback_core::{InboundRequest, VerifyError};
use chrono::{DateTime, Utc};

pub const HMAC_HEADERS: [&str; 2] = ["x-shopify-hmac-sha256", "shopify-hmac-sha256"];
pub const TRIGGERED_AT_HEADERS: [&str; 2] = ["x-shopify-triggered-at", "shopify-triggered-at"];
pub const DOMAIN_HEADERS: [&str; 2] = ["x-shopify-shop-domain", "shopify-shop-domain"];

/// Verifies a delivery. Never parses the body.
pub fn verify(settings: &ShopifySettings, req: &InboundRequest) -> Result<(), VerifyError> {
    let given = req
        .first_header(&HMAC_HEADERS)
        .ok_or_else(|| VerifyError::MissingHeader("X-Shopify-Hmac-Sha256".into()))?;
    cartback_kit::verify_base64(
        &settings.secret,
        "X-Shopify-Hmac-Sha256",
        given,
        &[&req.body],
    )?;
    if let Some(expected) = &settings.shop_domain {
        let domain = req.first_header(&DOMAIN_HEADERS).unwrap_or_default();
        if !domain.eq_ignore_ascii_case(expected.trim()) {
            return Err(VerifyError::Mismatch);
        }
    }
    if let Some(ts) = req.first_header(&TRIGGERED_AT_HEADERS) {
        let at = DateTime::parse_from_rfc3339(ts.trim())
            .map_err(|_| VerifyError::MalformedHeader("X-Shopify-Triggered-At".into()))?
            .with_timezone(&Utc);
        cartback_kit::check_timestamp_window(at, req.received_at, settings.replay_window.0)?;
    }
    Ok(())
}

/// The header value Shopify would send for `body` (tests, docs, the README's curl).
pub fn sign(secret: &str, body: &[u8]) -> String {
    cartback_kit::Encoding::Base64.encode(&cartback_kit::hmac_sha256(secret.as_bytes(), &[body]))
}
