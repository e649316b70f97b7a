//! Builders shared by the Bloomreach sink tests: the cart of platforms-out.md's documented
//! example (Ann's two mugs), as the engine hands it off.
#![allow(dead_code)]

use cartback_core::{
    Cart, CartStatus, Consent, ContactInfo, Currency, LineItem, Money, OutboundMessage, Purpose,
    Recipient,
};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;

pub const KEY_ID: &str = "kid-0123456789";
pub const SECRET: &str = "bloomreach-secret-0123456789";
pub const TOKEN: &str = "12345678-aaaa-bbbb-cccc-1234567890ab";
pub const MESSAGE_ID: &str = "7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0001";

pub fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn cart() -> Cart {
    let t = Utc.timestamp_opt(1_795_600_000, 0).unwrap();
    Cart {
        id: "cart_8f2c".into(),
        source_id: "shop".into(),
        key: "8f2c".into(),
        cart_token: Some("8f2c".into()),
        checkout_token: None,
        platform_id: None,
        status: CartStatus::Abandoned,
        contact_id: Some("contact_7".into()),
        items: vec![LineItem {
            product_id: Some("p1".into()),
            variant_id: None,
            sku: Some("MUG-1".into()),
            title: "Mug".into(),
            variant_title: None,
            quantity: 2,
            unit_price: Money::new(2999, eur()),
            line_price: Money::new(5998, eur()),
            url: Some("https://shop.example/p/mug".into()),
            image_url: Some("https://cdn.example/mug.jpg".into()),
        }],
        currency: eur(),
        subtotal: Some(Money::new(5998, eur())),
        total: Money::new(5998, eur()),
        recovery_url: Some("https://shop.example/r/8f2c?t=abc".into()),
        updated_at: t,
        completed_at: None,
        converted_at: None,
        order_id: None,
        created_at: t,
    }
}

pub fn contact() -> ContactInfo {
    ContactInfo {
        email: Some("ann@example.com".into()),
        phone: Some("+37060000000".into()),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        email_consent: Consent::Subscribed,
        sms_consent: Consent::Unknown,
        ..Default::default()
    }
}

/// The reminder hand-off of the documented example.
pub fn message() -> OutboundMessage {
    OutboundMessage {
        id: MESSAGE_ID.into(),
        channel_id: "bloomreach".into(),
        to: Recipient {
            email: Some("ann@example.com".into()),
            phone: Some("+37060000000".into()),
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
        contact: Some(contact()),
        cart: Some(cart()),
        test: false,
        discount_code: Some("COMEBACK10".into()),
        purpose: Purpose::Reminder,
    }
}

/// The news that the handed-off cart was bought.
pub fn converted() -> OutboundMessage {
    let mut m = message();
    m.id = "7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0002".into();
    m.purpose = Purpose::Converted {
        order_id: "1001".into(),
        total: Some(Money::new(5398, eur())),
        placed_at: at("2026-11-27T12:00:00Z"),
    };
    m
}

/// Fails unless every key of `expected` is in `actual` with the same value (recursively;
/// arrays element by element, of equal length): `actual` may carry more.
pub fn assert_contains(actual: &serde_json::Value, expected: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let av = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k} is missing in {actual}"));
                assert_contains(av, ev, &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{at}: {actual} vs {expected}");
            for (i, (av, ev)) in a.iter().zip(e).enumerate() {
                assert_contains(av, ev, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(e)) => {
            assert_eq!(a.as_f64(), e.as_f64(), "{at}: {actual} vs {expected}")
        }
        _ => assert_eq!(actual, expected, "{at}"),
    }
}
