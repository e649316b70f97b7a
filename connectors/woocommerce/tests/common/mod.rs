//! Builders shared by the WooCommerce tests.
#![allow(dead_code)]

use cartback_core::InboundRequest;
use cartback_kit::{Secret, SecretList};
use cartback_woocommerce::{verify::sign, WooSettings};
use chrono::{DateTime, TimeZone, Utc};

pub const SECRET: &str = "test_secret_key";
pub const STORE: &str = "https://shop.example";

pub fn settings() -> WooSettings {
    WooSettings {
        store_url: Some(STORE.into()),
        ..WooSettings::new(SecretList::new(vec![Secret::new(SECRET)]))
    }
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

/// A signed delivery as WooCommerce sends it; `headers` with an empty value remove that header.
pub fn request(topic: &str, body: &[u8], headers: &[(&str, &str)]) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    h.insert(
        "user-agent",
        "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"
            .parse()
            .unwrap(),
    );
    h.insert(
        "x-wc-webhook-source",
        "https://shop.example/".parse().unwrap(),
    );
    h.insert("x-wc-webhook-topic", topic.parse().unwrap());
    if let Some((resource, event)) = topic.split_once('.') {
        h.insert("x-wc-webhook-resource", resource.parse().unwrap());
        h.insert("x-wc-webhook-event", event.parse().unwrap());
    }
    h.insert(
        "x-wc-webhook-signature",
        sign(SECRET, body).parse().unwrap(),
    );
    h.insert("x-wc-webhook-id", "12".parse().unwrap());
    h.insert(
        "x-wc-webhook-delivery-id",
        "9c1d3ee5f0d4a2b3c8e7f6a5b4c3d2e1".parse().unwrap(),
    );
    for (k, v) in headers {
        let name: http::HeaderName = k.parse().unwrap();
        if v.is_empty() {
            h.remove(&name);
        } else {
            h.insert(name, v.parse().unwrap());
        }
    }
    InboundRequest {
        source_id: "woo".into(),
        method: http::Method::POST,
        url: "https://hub.example/webhooks/woo".into(),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        received_at: now(),
    }
}
