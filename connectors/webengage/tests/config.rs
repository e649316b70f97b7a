//! The `type = "webengage"` table: a typo is refused, every problem has its key, the key never
//! shows in `Debug`, and the connector is a hand-off channel.
#![allow(clippy::unwrap_used)]

use cartback_core::AddressKind;
use cartback_kit::plugin::{parse, Connector, Role};
use cartback_webengage::{UserId, WebEngage, WebEngageSettings};

#[test]
fn a_typo_is_refused() {
    let err = parse::<WebEngageSettings>(serde_json::json!({
        "license_code": "~10a5cb78d",
        "api_key": "k-1234567890",
        "licence_code": "x",
    }))
    .unwrap_err();
    assert_eq!(err.path, "licence_code", "{err:?}");
    assert!(parse::<WebEngageSettings>(serde_json::json!({})).is_err());
}

#[test]
fn a_full_table_reads_and_validates() {
    let s: WebEngageSettings = parse(serde_json::json!({
        "license_code": "in~10a5cb78d",
        "api_key": "k-1234567890",
        "data_center": "in",
        "event_name": "Checkout Abandoned",
        "converted_event_name": "Checkout Completed",
        "user_id": "platform",
    }))
    .unwrap();
    assert!(WebEngage::validate(&s).is_empty());
    assert_eq!(s.user_id, UserId::Platform);
    assert_eq!(
        s.events_url(),
        "https://api.in.webengage.com/v1/accounts/in~10a5cb78d/events"
    );
    assert!(!format!("{s:?}").contains("k-1234567890"));
    assert_eq!(WebEngage::TYPE, "webengage");
    assert_eq!(WebEngage::ROLE, Role::Channel);
    assert_eq!(WebEngage::address(&s), Some(AddressKind::HandOff));
}

#[test]
fn bad_values_are_reported_at_their_keys() {
    let s: WebEngageSettings = parse(serde_json::json!({
        "license_code": "a/b",
        "api_key": "  ",
        "data_center": "eu",
        "base_url": "api.webengage.com",
        "event_name": "we_cart",
        "converted_event_name": "x".repeat(50),
    }))
    .unwrap();
    let paths: Vec<String> = WebEngage::validate(&s)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(
        paths,
        [
            "license_code",
            "api_key",
            "data_center",
            "base_url",
            "event_name",
            "converted_event_name"
        ]
    );
}
