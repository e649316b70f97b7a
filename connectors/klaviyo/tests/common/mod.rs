//! Builders shared by the Klaviyo tests.
#![allow(dead_code)]

use cartback_core::InboundRequest;
use cartback_kit::{Secret, SecretList};
use cartback_klaviyo::verify::sign;
use cartback_klaviyo::KlaviyoSettings;
use chrono::{DateTime, TimeZone, Utc};

pub const SECRET: &str = "kl_whsec_4c1f9b2e7d";
pub const WEBHOOK_ID: &str = "01JD7ZQ8W3K5M2N4P6R8T0V2X4";
/// 30 s before [`now`].
pub const TIMESTAMP: &str = "2026-11-20T15:59:30Z";

pub fn settings() -> KlaviyoSettings {
    KlaviyoSettings::new(SecretList::new(vec![Secret::new(SECRET)]))
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

fn base(body: &[u8], mut h: http::HeaderMap, headers: &[(&str, &str)]) -> InboundRequest {
    h.insert("content-type", "application/json".parse().unwrap());
    for (k, v) in headers {
        let name: http::HeaderName = k.parse().unwrap();
        if v.is_empty() {
            h.remove(&name);
        } else {
            h.insert(name, v.parse().unwrap());
        }
    }
    InboundRequest {
        source_id: "kl".into(),
        method: http::Method::POST,
        url: "https://hub.example/webhooks/kl".into(),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        received_at: now(),
    }
}

/// A system webhook delivery signed at [`TIMESTAMP`]; `headers` override (empty removes).
pub fn signed(body: &[u8], headers: &[(&str, &str)]) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert("klaviyo-webhook-id", WEBHOOK_ID.parse().unwrap());
    h.insert("klaviyo-timestamp", TIMESTAMP.parse().unwrap());
    h.insert(
        "klaviyo-signature",
        sign(SECRET, body, TIMESTAMP).parse().unwrap(),
    );
    base(body, h, headers)
}

/// A flow webhook delivery carrying the shared secret.
pub fn flow(body: &[u8], headers: &[(&str, &str)]) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert("x-cartback-secret", SECRET.parse().unwrap());
    base(body, h, headers)
}
