//! Builders shared by the webhook sink tests.
#![allow(dead_code)]

use cartback_core::{
    Cart, CartStatus, ContactInfo, Currency, LineItem, Money, OutboundMessage, Recipient,
};
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub fn cart() -> Cart {
    let usd = Currency::parse("USD").unwrap();
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    Cart {
        id: "cart_42".into(),
        source_id: "shopify".into(),
        key: "c1-token".into(),
        cart_token: Some("c1-token".into()),
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
            unit_price: Money::new(1250, usd),
            line_price: Money::new(2500, usd),
            url: None,
            image_url: None,
        }],
        currency: usd,
        subtotal: Some(Money::new(2500, usd)),
        total: Money::new(2500, usd),
        recovery_url: Some("https://shop.example.com/cart/recover/c1".into()),
        updated_at: at,
        completed_at: None,
        converted_at: None,
        order_id: None,
        created_at: at,
    }
}

pub fn message() -> OutboundMessage {
    let contact: ContactInfo = serde_json::from_value(serde_json::json!({
        "email": "ann.lee@example.com",
        "first_name": "Ann",
    }))
    .unwrap();
    OutboundMessage {
        id: "0193a6f0-7c1e-7b7a-9f00-000000000001".into(),
        channel_id: "zapier".into(),
        to: Recipient {
            email: Some("ann.lee@example.com".into()),
            phone: None,
            name: Some("Ann Lee".into()),
        },
        subject: Some("You left something in your cart".into()),
        html: None,
        text: Some("Hi Ann, your cart is waiting.".into()),
        headers: BTreeMap::new(),
        metadata: BTreeMap::from([
            ("flow_id".to_string(), "abandoned".to_string()),
            ("step".to_string(), "1".to_string()),
        ]),
        contact: Some(contact),
        cart: Some(cart()),
        test: false,
        discount_code: None,
        purpose: Default::default(),
    }
}
