//! WooCommerce's webhook checks: the unsigned creation ping, and
//! `X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw body))`.
//!
//! WooCommerce signs with the secret after `wp_specialchars_decode(secret, ENT_QUOTES)`: configure
//! the secret as plain text (a secret typed with `&amp;` in WordPress is `&` here).

use crate::config::WooSettings;
use cartback_core::{Handshake, InboundRequest, VerifyError};

pub const SIGNATURE_HEADER: &str = "x-wc-webhook-signature";
pub const TOPIC_HEADER: &str = "x-wc-webhook-topic";

/// A header, trimmed, when present and not blank.
pub(crate) fn header<'a>(req: &'a InboundRequest, name: &str) -> Option<&'a str> {
    req.header(name).map(str::trim).filter(|v| !v.is_empty())
}

/// Whether `body` is WooCommerce's creation ping: exactly `webhook_id=<digits>`.
pub fn is_ping(body: &[u8]) -> bool {
    let Some(digits) = body
        .strip_prefix(b"webhook_id")
        .and_then(|b| b.strip_prefix(b"="))
    else {
        return false;
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// The answer to the unsigned creation ping WooCommerce sends when a webhook is saved (anything
/// but 200 makes the admin screen report an error). Only a ping without WooCommerce's topic or
/// signature headers is answered; it has no effect besides the `200 ok`.
pub fn handshake(req: &InboundRequest) -> Option<Handshake> {
    let unsigned = header(req, SIGNATURE_HEADER).is_none() && header(req, TOPIC_HEADER).is_none();
    (unsigned && is_ping(&req.body)).then(|| Handshake {
        status: 200,
        content_type: "text/plain",
        body: "ok".into(),
    })
}

/// Verifies a delivery: the signature over the raw body with any configured secret, in constant
/// time. Without a configured `secret` (a polling-only source) every delivery is a mismatch.
pub fn verify(settings: &WooSettings, req: &InboundRequest) -> Result<(), VerifyError> {
    let given = header(req, SIGNATURE_HEADER)
        .ok_or_else(|| VerifyError::MissingHeader("X-WC-Webhook-Signature".into()))?;
    let Some(secrets) = &settings.secret else {
        return Err(VerifyError::Mismatch);
    };
    cartback_kit::verify_base64(secrets, "X-WC-Webhook-Signature", given, &[&req.body])
}

/// The `X-WC-Webhook-Signature` WooCommerce would send for `body` with `secret` (for tests, docs
/// and hand-made `curl` deliveries).
pub fn sign(secret: &str, body: &[u8]) -> String {
    cartback_kit::Encoding::Base64.encode(&cartback_kit::hmac_sha256(secret.as_bytes(), &[body]))
}
