//! Builders shared by the Mailchimp tests: the cart of platforms-out.md section 4's example
//! (ann@example.com, cart_8f2c, one Mug × 2 at 29.99 EUR).
#![allow(dead_code)]

use cartback_core::{
    Cart, CartStatus, ContactInfo, Currency, LineItem, Money, OutboundMessage, Purpose, Recipient,
    SinkContext,
};
use cartback_kit::Secret;
use cartback_mailchimp::{MailchimpSettings, MailchimpSink};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

pub const KEY: &str = "0123456789abcdef0123456789abcdef-us6";
pub const STORE: &str = "cartback";
pub const LIST: &str = "a1b2c3d4e5";
pub const MESSAGE_ID: &str = "0193a6f0-7c1e-7b7a-9f00-000000000001";
pub const RECOVERY: &str = "https://shop.example/r/8f2c?t=abc";

/// Settings pointing at `base_url`, with neither audience nor product sync (one request a cart).
pub fn bare(base_url: &str) -> MailchimpSettings {
    let mut s = MailchimpSettings::new(Secret::new(KEY), STORE);
    s.base_url = Some(base_url.to_string());
    s.sync_products = false;
    s
}

/// Settings pointing at `base_url` with the audience and product sync on.
pub fn full(base_url: &str) -> MailchimpSettings {
    let mut s = bare(base_url);
    s.list_id = Some(LIST.into());
    s.sync_products = true;
    s
}

pub fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "mailchimp".into(),
        public_url: "https://hub.example".into(),
        timeout: Duration::from_secs(5),
    }
}

pub fn sink(settings: MailchimpSettings) -> MailchimpSink {
    MailchimpSink::new(settings, ctx()).unwrap()
}

pub fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

pub fn mug() -> LineItem {
    LineItem {
        product_id: Some("p1".into()),
        variant_id: None,
        sku: Some("MUG-1".into()),
        title: "Mug".into(),
        variant_title: None,
        quantity: 2,
        unit_price: Money::new(2999, eur()),
        line_price: Money::new(5998, eur()),
        url: Some("https://hub.example/r/0193a6f0/1".into()),
        image_url: Some("https://cdn.example/mug.jpg".into()),
    }
}

pub fn cart() -> Cart {
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 9, 30, 0).unwrap();
    Cart {
        id: "cart_8f2c".into(),
        source_id: "shop".into(),
        key: "8f2c".into(),
        cart_token: Some("8f2c".into()),
        checkout_token: None,
        platform_id: None,
        status: CartStatus::Abandoned,
        contact_id: Some("cust_42".into()),
        items: vec![mug()],
        currency: eur(),
        subtotal: Some(Money::new(5998, eur())),
        total: Money::new(5998, eur()),
        recovery_url: Some(RECOVERY.into()),
        updated_at: at,
        completed_at: None,
        converted_at: None,
        order_id: None,
        created_at: at,
    }
}

pub fn contact() -> ContactInfo {
    serde_json::from_value(serde_json::json!({
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "email_consent": "not_subscribed",
    }))
    .unwrap()
}

pub fn message() -> OutboundMessage {
    OutboundMessage {
        id: MESSAGE_ID.into(),
        channel_id: "mailchimp".into(),
        to: Recipient {
            email: Some("ann@example.com".into()),
            phone: None,
            name: Some("Ann Lee".into()),
        },
        subject: None,
        html: None,
        text: None,
        headers: BTreeMap::new(),
        metadata: BTreeMap::from([
            ("flow_id".to_string(), "abandoned".to_string()),
            ("step".to_string(), "0".to_string()),
            ("cart_id".to_string(), "cart_8f2c".to_string()),
        ]),
        contact: Some(contact()),
        cart: Some(cart()),
        test: false,
        discount_code: None,
        purpose: Purpose::Reminder,
    }
}

pub fn placed_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

pub fn converted() -> OutboundMessage {
    OutboundMessage {
        id: "0193a6f0-7c1e-7b7a-9f00-000000000002".into(),
        purpose: Purpose::Converted {
            order_id: "order_1001".into(),
            total: Some(Money::new(5998, eur())),
            placed_at: placed_at(),
        },
        ..message()
    }
}

pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
