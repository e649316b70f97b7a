//! Sign requests the way platforms do (independently of the connectors' own code).

use base64::Engine as _;
use hmac::{Hmac, Mac};

/// Shopify / WooCommerce: base64(HMAC-SHA256(secret, body)).
pub fn shopify(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `X-Shopify-Triggered-At` for a delivery made now (RFC 3339, UTC).
pub fn triggered_at() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A Shopify webhook request: signed, with topic, ids and the time Shopify triggered it.
pub fn shopify_request(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    topic: &str,
    webhook_id: &str,
    body: &[u8],
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-hmac-sha256", shopify(secret, body))
        .header("x-shopify-shop-domain", "test-shop.myshopify.com")
        .header("x-shopify-api-version", "2025-01")
        .header("x-shopify-webhook-id", webhook_id)
        .header("x-shopify-triggered-at", triggered_at())
        .body(body.to_vec())
}
