//! Builders shared by the Shopify tests.
#![allow(dead_code)]

use cartback_core::InboundRequest;
use cartback_kit::{Secret, SecretList};
use cartback_shopify::{verify::sign, ShopifySettings};
use chrono::{DateTime, TimeZone, Utc};

pub const SECRET: &str = "test_secret_key";

/// The shop every delivery comes from (header and privacy bodies).
pub const SHOP: &str = "test-shop.myshopify.com";

/// `X-Shopify-Triggered-At` of every delivery unless a test says otherwise: [`now`].
pub const TRIGGERED_AT: &str = "2026-11-20T16:00:00Z";

/// The recommended setup: the secret, and the shop pinned with `shop_domain`.
pub fn settings() -> ShopifySettings {
    let mut s = unpinned();
    s.shop_domain = Some(SHOP.into());
    s
}

/// The secret only (`shop_domain` not set).
pub fn unpinned() -> ShopifySettings {
    ShopifySettings::new(SecretList::new(vec![Secret::new(SECRET)]))
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).unwrap()
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A delivery as Shopify sends it: signed, with topic, ids, shop domain and triggered-at.
/// `headers` replace those; an empty value removes the header.
pub fn request(topic: &str, body: &[u8], headers: &[(&str, &str)]) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert("x-shopify-topic", topic.parse().unwrap());
    h.insert("x-shopify-hmac-sha256", sign(SECRET, body).parse().unwrap());
    h.insert(
        "x-shopify-webhook-id",
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".parse().unwrap(),
    );
    h.insert(
        "x-shopify-event-id",
        "98880550-7158-44d4-b7cd-2c97c8a091b5".parse().unwrap(),
    );
    h.insert("x-shopify-shop-domain", SHOP.parse().unwrap());
    h.insert("x-shopify-triggered-at", TRIGGERED_AT.parse().unwrap());
    for (k, v) in headers {
        let name: http::HeaderName = k.parse().unwrap();
        if v.is_empty() {
            h.remove(&name);
        } else {
            h.insert(name, v.parse().unwrap());
        }
    }
    InboundRequest {
        source_id: "shop".into(),
        method: http::Method::POST,
        url: "https://hub.example/webhooks/shop".into(),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        received_at: now(),
    }
}
