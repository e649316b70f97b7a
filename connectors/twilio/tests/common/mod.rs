//! Builders shared by the Twilio tests.
#![allow(dead_code)]

use cartback_core::InboundRequest;
use cartback_kit::Secret;
use cartback_twilio::{signature, TwilioSettings};
use chrono::{DateTime, TimeZone, Utc};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "12345";
pub const FROM: &str = "+15017122661";
pub const URL: &str = "https://hub.example/webhooks/sms";

pub fn settings() -> TwilioSettings {
    TwilioSettings::with_from(ACCOUNT_SID, Secret::new(TOKEN), FROM)
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

pub fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A form-encoded request to `url`, signed with `TOKEN` unless `signature` is given.
pub fn form_request(url: &str, body: &[u8], sig: Option<&str>) -> InboundRequest {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let sig = sig
        .map(str::to_string)
        .unwrap_or_else(|| signature(TOKEN, url, &pairs));
    let mut h = http::HeaderMap::new();
    h.insert(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8"
            .parse()
            .unwrap(),
    );
    h.insert("x-twilio-signature", sig.parse().unwrap());
    InboundRequest {
        source_id: "sms".into(),
        method: http::Method::POST,
        url: url.into(),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        received_at: now(),
    }
}

pub fn encode(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}
