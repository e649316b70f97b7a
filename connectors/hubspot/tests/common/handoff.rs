//! Builders for the hand-off channel's tests: the cart of platforms-out.md section 2's example
//! (ann@example.com, cart_8f2c, one Mug × 2 at 29.99 EUR).

use cartback_core::{
    Cart, CartStatus, ContactInfo, Currency, LineItem, Money, OutboundMessage, Purpose, Recipient,
};
use cartback_hubspot::{HubSpotChannelSettings, HubSpotSink};
use cartback_kit::Secret;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

pub const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
pub const MESSAGE_ID: &str = "0193a6f0-7c1e-7b7a-9f00-000000000001";
pub const RECOVERY: &str = "https://shop.example/r/8f2c?t=abc";

pub fn settings(base_url: &str) -> HubSpotChannelSettings {
    let mut s = HubSpotChannelSettings::new(Secret::new(TOKEN));
    s.base_url = base_url.to_string();
    s
}

pub fn sink(settings: HubSpotChannelSettings) -> HubSpotSink {
    HubSpotSink::new(
        settings,
        cartback_core::SinkContext {
            channel_id: "hubspot".into(),
            public_url: "https://hub.example".into(),
            timeout: Duration::from_secs(5),
        },
    )
    .unwrap()
}

pub fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
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
        contact_id: Some("contact_42".into()),
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
        "phone": "+15555550100",
        "first_name": "Ann",
        "last_name": "Lee",
        "email_consent": "subscribed",
    }))
    .unwrap()
}

pub fn message() -> OutboundMessage {
    OutboundMessage {
        id: MESSAGE_ID.into(),
        channel_id: "hubspot".into(),
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
            ("step".to_string(), "0".to_string()),
            ("cart_id".to_string(), "cart_8f2c".to_string()),
            ("variant".to_string(), "b".to_string()),
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
