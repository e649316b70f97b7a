//! Builders shared by the HubSpot tests.
#![allow(dead_code)]

pub mod handoff;

use cartback_core::InboundRequest;
use cartback_hubspot::verify::signature_v3;
use cartback_hubspot::HubSpotSettings;
use cartback_kit::{Secret, SecretList};
use chrono::{DateTime, TimeZone, Utc};

pub const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
pub const URL: &str = "https://hub.example/webhooks/hubspot";

pub fn settings() -> HubSpotSettings {
    HubSpotSettings::new(SecretList::new(vec![Secret::new(SECRET)]))
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

/// A bare request (no signature headers).
pub fn unsigned(method: http::Method, url: &str, body: &[u8]) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    InboundRequest {
        source_id: "hubspot".into(),
        method,
        url: url.into(),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        received_at: now(),
    }
}

pub fn with_headers(mut req: InboundRequest, headers: &[(&str, &str)]) -> InboundRequest {
    for (k, v) in headers {
        let name: http::HeaderName = k.parse().unwrap();
        if v.is_empty() {
            req.headers.remove(&name);
        } else {
            req.headers.insert(name, v.parse().unwrap());
        }
    }
    req
}

/// A v3-signed POST to [`URL`] sent at [`now`].
pub fn request(body: &[u8]) -> InboundRequest {
    let ts = now().timestamp_millis().to_string();
    let sig = signature_v3(SECRET, "POST", URL, body, &ts);
    with_headers(
        unsigned(http::Method::POST, URL, body),
        &[
            ("x-hubspot-signature-v3", &sig),
            ("x-hubspot-request-timestamp", &ts),
        ],
    )
}
