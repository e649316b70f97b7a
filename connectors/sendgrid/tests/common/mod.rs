//! Builders shared by the SendGrid tests.
#![allow(dead_code)]

use cartback_core::{InboundRequest, OutboundMessage, Recipient};
use cartback_kit::Secret;
use cartback_sendgrid::SendGridSettings;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;

pub const API_KEY: &str = "SG.test-key.secret-part";

/// SendGrid's official Signed Event Webhook vector (sendgrid-python `test/unit/test_eventwebhook.py`).
pub mod vector {
    pub const PUBLIC_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    pub const SIGNATURE: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
    pub const TIMESTAMP: &str = "1600112502";
    pub const PAYLOAD: &str = "[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";
    pub const WRONG_SIGNATURE: &str = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0=";
    pub const WRONG_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==";
}

pub fn settings(base_url: &str) -> SendGridSettings {
    let mut s = SendGridSettings::new(Secret::new(API_KEY), "Shop <shop@example.com>");
    s.base_url = Some(base_url.to_string());
    s.reply_to = Some("help@example.com".into());
    s.categories = vec!["reminders".into()];
    s
}

pub fn message() -> OutboundMessage {
    let headers = BTreeMap::from([
        (
            "List-Unsubscribe".to_string(),
            "<https://hub.example.com/u/dTA6MDE5M2E2ZjA.k2Zq>".to_string(),
        ),
        (
            "List-Unsubscribe-Post".to_string(),
            "List-Unsubscribe=One-Click".to_string(),
        ),
    ]);
    let metadata = BTreeMap::from([
        ("flow_id".to_string(), "abandoned".to_string()),
        (
            "run_id".to_string(),
            "0193a6f0-7c1e-7b7a-9f00-0000000000aa".to_string(),
        ),
        ("step".to_string(), "1".to_string()),
        ("cart_id".to_string(), "cart_42".to_string()),
        ("variant".to_string(), "a".to_string()),
    ]);
    OutboundMessage {
        id: "0193a6f0-7c1e-7b7a-9f00-000000000001".into(),
        channel_id: "email".into(),
        to: Recipient {
            email: Some("ann.lee@example.com".into()),
            phone: None,
            name: Some("Ann Lee".into()),
        },
        subject: Some("You left something in your cart".into()),
        html: Some("<p>Hi Ann, your cart is waiting.</p>".into()),
        text: Some("Hi Ann, your cart is waiting.".into()),
        headers,
        metadata,
        contact: None,
        cart: None,
        test: false,
        discount_code: None,
        purpose: Default::default(),
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn unix(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

/// An event-webhook request; `headers` with an empty value are left out.
pub fn request(
    body: &[u8],
    headers: &[(&str, &str)],
    received_at: DateTime<Utc>,
) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    for (k, v) in headers {
        if !v.is_empty() {
            let name: http::HeaderName = k.parse().unwrap();
            h.insert(name, v.parse().unwrap());
        }
    }
    InboundRequest {
        source_id: "sendgrid".into(),
        method: http::Method::POST,
        url: "https://hub.example.com/webhooks/sendgrid".into(),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        received_at,
    }
}
