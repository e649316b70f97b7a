//! Builders shared by the Segment tests.
#![allow(dead_code)]

use cartback_core::InboundRequest;
use cartback_kit::{Secret, SecretList};
use cartback_segment::verify::basic_auth;
use cartback_segment::SegmentSettings;
use chrono::{DateTime, TimeZone, Utc};

/// A browser source's write key (public: what it says about a shopper is a claim).
pub const WRITE_KEY: &str = "wk_9f2c4e7a1b";
/// A server source's write key (believed).
pub const SERVER_KEY: &str = "wk_srv_77d1e0c9";
pub const SHARED_SECRET: &str = "abc123";

pub fn settings() -> SegmentSettings {
    SegmentSettings {
        write_keys: Some(SecretList::new(vec![Secret::new(WRITE_KEY)])),
        server_write_keys: Some(SecretList::new(vec![Secret::new(SERVER_KEY)])),
        shared_secret: Some(SecretList::new(vec![Secret::new(SHARED_SECRET)])),
        default_currency: None,
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

/// A request to `https://hub.example{path}` with `headers` (an empty value removes a header).
pub fn request(path: &str, body: &[u8], headers: &[(&str, &str)]) -> InboundRequest {
    let mut h = http::HeaderMap::new();
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
        source_id: "seg".into(),
        method: http::Method::POST,
        url: format!("https://hub.example{path}"),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        received_at: now(),
    }
}

/// An API-mode request authorized with the test write key.
pub fn api_request(path: &str, body: &[u8]) -> InboundRequest {
    request(path, body, &[("authorization", &basic_auth(WRITE_KEY))])
}
