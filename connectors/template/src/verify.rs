//! Acme's signature: `X-Acme-Signature = hex(HMAC-SHA256(secret, timestamp + "." + raw body))`,
//! `X-Acme-Timestamp` in epoch seconds, within `max_age` of receipt. Never parses the body.

use crate::config::TemplateSettings;
use cartback_core::{InboundRequest, VerifyError};
use chrono::DateTime;

pub const SIGNATURE_HEADER: &str = "x-acme-signature";
pub const TIMESTAMP_HEADER: &str = "x-acme-timestamp";
pub const TOPIC_HEADER: &str = "x-acme-topic";
pub const DELIVERY_HEADER: &str = "x-acme-delivery";

/// Verifies a delivery: the signature (constant time, any configured secret), then the window.
pub fn verify(settings: &TemplateSettings, req: &InboundRequest) -> Result<(), VerifyError> {
    let sig = req
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| VerifyError::MissingHeader("X-Acme-Signature".into()))?;
    let ts = req
        .header(TIMESTAMP_HEADER)
        .ok_or_else(|| VerifyError::MissingHeader("X-Acme-Timestamp".into()))?;
    cartback_kit::verify_hex(
        &settings.secret,
        "X-Acme-Signature",
        sig,
        &[ts.as_bytes(), b".", &req.body],
        false,
    )?;
    let at = ts
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| VerifyError::MalformedHeader("X-Acme-Timestamp".into()))?;
    cartback_kit::check_timestamp_window(at, req.received_at, settings.max_age.0)
}

/// The `X-Acme-Signature` Acme would send (for tests, docs and hand-made deliveries).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    hex_encode(&cartback_kit::hmac_sha256(
        secret.as_bytes(),
        &[timestamp.as_bytes(), b".", body],
    ))
}

fn hex_encode(bytes: &[u8]) -> String {
    cartback_kit::Encoding::Hex.encode(bytes)
}
