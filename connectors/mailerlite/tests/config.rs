//! The `type = "mailerlite"` table: a typo is refused, every problem has its key, the token
//! never shows in `Debug`, and the connector is a hand-off channel.
#![allow(clippy::unwrap_used)]

use cartback_core::AddressKind;
use cartback_kit::plugin::{parse, Connector, Role};
use cartback_mailerlite::{MailerLite, MailerLiteSettings};

#[test]
fn a_typo_is_refused() {
    let err = parse::<MailerLiteSettings>(serde_json::json!({
        "api_token": "t-1234567890",
        "group": "111",
    }))
    .unwrap_err();
    assert_eq!(err.path, "group", "{err:?}");
    assert!(parse::<MailerLiteSettings>(serde_json::json!({})).is_err());
}

#[test]
fn a_full_table_reads_and_validates() {
    let s: MailerLiteSettings = parse(serde_json::json!({
        "api_token": "t-1234567890",
        "group_id": "111222333",
        "fields": {"cart_url": "abandoned_cart_link", "flow_variant": ""},
        "base_url": "https://connect.mailerlite.com/api/",
    }))
    .unwrap();
    assert!(MailerLite::validate(&s).is_empty());
    assert_eq!(
        s.subscribers_url(),
        "https://connect.mailerlite.com/api/subscribers"
    );
    assert!(!format!("{s:?}").contains("t-1234567890"));
    assert_eq!(MailerLite::TYPE, "mailerlite");
    assert_eq!(MailerLite::ROLE, Role::Channel);
    assert_eq!(MailerLite::address(&s), Some(AddressKind::HandOff));
}

#[test]
fn bad_values_are_reported_at_their_keys() {
    let s: MailerLiteSettings = parse(serde_json::json!({
        "api_token": "  ",
        "group_id": "Abandoned carts",
        "fields": {"cart_link": "x", "cart_url": "Cart URL"},
        "base_url": "connect.mailerlite.com",
    }))
    .unwrap();
    let paths: Vec<String> = MailerLite::validate(&s)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(
        paths,
        [
            "api_token",
            "group_id",
            "fields.cart_link",
            "fields.cart_url",
            "base_url"
        ]
    );
}
