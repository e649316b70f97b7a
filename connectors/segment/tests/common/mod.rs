//! Builders shared by the Segment tests.
#![allow(dead_code)]

use cartback_core::{
    Cart, CartStatus, ContactInfo, Currency, InboundRequest, LineItem, Money, OutboundMessage,
    Purpose, Recipient,
};
use cartback_kit::{Secret, SecretList};
use cartback_segment::verify::basic_auth;
use cartback_segment::{SegmentChannelSettings, SegmentSettings};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;

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

/// The hand-off channel's write key: a server source's (long enough for the conformance suite
/// to look for it).
pub const CHANNEL_KEY: &str = "wk_hub_server_5c9e1a7f";
/// The hub's message id of [`message`].
pub const MESSAGE_ID: &str = "0193a6f0-7c1e-7b7a-9f00-00000000c8f2";

/// A hand-off channel sending to `base_url`.
pub fn channel(base_url: &str) -> SegmentChannelSettings {
    let mut s = SegmentChannelSettings::new(Secret::new(CHANNEL_KEY));
    s.base_url = Some(base_url.to_string());
    s
}

/// The cart of platforms-out.md's Segment example: two mugs at 29.99 EUR.
pub fn cart() -> Cart {
    let eur = Currency::parse("EUR").unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
    Cart {
        id: "cart_8f2c".into(),
        source_id: "shop".into(),
        key: "c1-token".into(),
        cart_token: Some("c1-token".into()),
        checkout_token: None,
        platform_id: None,
        status: CartStatus::Abandoned,
        contact_id: Some("contact_42".into()),
        items: vec![LineItem {
            product_id: Some("p1".into()),
            variant_id: Some("v1".into()),
            sku: Some("MUG-1".into()),
            title: "Mug".into(),
            variant_title: Some("Blue".into()),
            quantity: 2,
            unit_price: Money::new(2999, eur),
            line_price: Money::new(5998, eur),
            url: Some("https://hub.example/t/abc1".into()),
            image_url: Some("https://cdn.example/mug.jpg".into()),
        }],
        currency: eur,
        subtotal: Some(Money::new(5998, eur)),
        total: Money::new(5998, eur),
        recovery_url: Some("https://hub.example/r/8f2c?t=abc".into()),
        updated_at: at,
        completed_at: None,
        converted_at: None,
        order_id: None,
        created_at: at,
    }
}

/// A reminder hand-off of [`cart`] for Ann (the shop's user `cust_42`), with a discount code,
/// step 1 of flow `abandoned`, variant `b`.
pub fn message() -> OutboundMessage {
    let contact: ContactInfo = serde_json::from_value(serde_json::json!({
        "email": "ann@example.com",
        "phone": "+15555550100",
        "first_name": "Ann",
        "last_name": "Lee",
        "locale": "en-US",
        "time_zone": "Europe/Paris",
        "email_consent": "subscribed",
        "external_id": "cust_42",
    }))
    .unwrap();
    OutboundMessage {
        id: MESSAGE_ID.into(),
        channel_id: "segment".into(),
        to: Recipient {
            email: Some("ann@example.com".into()),
            phone: Some("+15555550100".into()),
            name: Some("Ann Lee".into()),
        },
        subject: None,
        html: None,
        text: None,
        headers: BTreeMap::new(),
        metadata: BTreeMap::from([
            ("flow_id".to_string(), "abandoned".to_string()),
            ("run_id".to_string(), "run_1".to_string()),
            ("step".to_string(), "1".to_string()),
            ("cart_id".to_string(), "cart_8f2c".to_string()),
            ("variant".to_string(), "b".to_string()),
        ]),
        contact: Some(contact),
        cart: Some(cart()),
        test: false,
        discount_code: Some("COMEBACK10".into()),
        purpose: Purpose::Reminder,
    }
}

/// The news that [`message`]'s cart was bought: order `1001` for 54.98 EUR.
pub fn converted() -> OutboundMessage {
    let mut m = message();
    m.id = "0193a6f0-7c1e-7b7a-9f00-00000000c8f3".into();
    m.purpose = Purpose::Converted {
        order_id: "1001".into(),
        total: Some(Money::new(5498, Currency::parse("EUR").unwrap())),
        placed_at: Utc.with_ymd_and_hms(2026, 11, 27, 12, 30, 5).unwrap(),
    };
    m
}
