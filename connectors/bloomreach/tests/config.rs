//! The `type = "bloomreach"` table: a typo is refused, every problem has its key, the secret
//! never shows in `Debug`, and the connector is a hand-off channel.
#![allow(clippy::unwrap_used)]

use cartback_bloomreach::{Bloomreach, BloomreachSettings, CustomerId};
use cartback_core::AddressKind;
use cartback_kit::plugin::{parse, Connector, Role};

#[test]
fn a_typo_is_refused() {
    let err = parse::<BloomreachSettings>(serde_json::json!({
        "project_token": "p-1",
        "api_key_id": "k-1",
        "api_secret": "s-1234567890",
        "event_type": "cart_update",
    }))
    .unwrap_err();
    assert_eq!(err.path, "event_type", "{err:?}");
    assert!(parse::<BloomreachSettings>(serde_json::json!({})).is_err());
}

#[test]
fn a_full_table_reads_and_validates() {
    let s: BloomreachSettings = parse(serde_json::json!({
        "project_token": "12345678-aaaa",
        "api_key_id": "k-1",
        "api_secret": "s-1234567890",
        "base_url": "https://api.eu1.exponea.com/",
        "event_name": "cartback_cart_abandoned",
        "converted_event_name": "cartback_cart_recovered",
        "customer_id": "hub",
    }))
    .unwrap();
    assert!(Bloomreach::validate(&s).is_empty());
    assert_eq!(s.customer_id, CustomerId::Hub);
    assert_eq!(
        s.customers_url(),
        "https://api.eu1.exponea.com/track/v2/projects/12345678-aaaa/customers"
    );
    assert!(!format!("{s:?}").contains("s-1234567890"));
    assert_eq!(Bloomreach::TYPE, "bloomreach");
    assert_eq!(Bloomreach::ROLE, Role::Channel);
    assert_eq!(Bloomreach::address(&s), Some(AddressKind::HandOff));
}

#[test]
fn bad_values_are_reported_at_their_keys() {
    let s: BloomreachSettings = parse(serde_json::json!({
        "project_token": " ",
        "api_key_id": "a/b",
        "api_secret": "  ",
        "base_url": "api.exponea.com",
        "event_name": "",
        "converted_event_name": "a\nb",
    }))
    .unwrap();
    let paths: Vec<String> = Bloomreach::validate(&s)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(
        paths,
        [
            "project_token",
            "api_key_id",
            "api_secret",
            "base_url",
            "event_name",
            "converted_event_name"
        ]
    );
}
