//! The `type = "omnisend"` table: a typo is refused, every problem has its key, the key never
//! shows in `Debug`, and the connector is a hand-off channel.
#![allow(clippy::unwrap_used)]

use cartback_core::AddressKind;
use cartback_kit::plugin::{parse, Connector, Role};
use cartback_omnisend::{Omnisend, OmnisendSettings};

#[test]
fn a_typo_is_refused() {
    let err = parse::<OmnisendSettings>(serde_json::json!({
        "api_key": "k-1234567890",
        "event_nme": "started checkout",
    }))
    .unwrap_err();
    assert_eq!(err.path, "event_nme", "{err:?}");
    assert!(parse::<OmnisendSettings>(serde_json::json!({})).is_err());
}

#[test]
fn a_full_table_reads_and_validates() {
    let s: OmnisendSettings = parse(serde_json::json!({
        "api_key": "k-1234567890",
        "base_url": "https://api.omnisend.com/",
        "event_name": "cart abandoned",
        "converted_event_name": "placed order",
        "origin": "api",
    }))
    .unwrap();
    assert!(Omnisend::validate(&s).is_empty());
    assert_eq!(s.events_url(), "https://api.omnisend.com/v5/events");
    assert!(!format!("{s:?}").contains("k-1234567890"));
    assert_eq!(Omnisend::TYPE, "omnisend");
    assert_eq!(Omnisend::ROLE, Role::Channel);
    assert_eq!(Omnisend::address(&s), Some(AddressKind::HandOff));
}

#[test]
fn bad_values_are_reported_at_their_keys() {
    let s: OmnisendSettings = parse(serde_json::json!({
        "api_key": "  ",
        "base_url": "api.omnisend.com",
    }))
    .unwrap();
    let paths: Vec<String> = Omnisend::validate(&s).into_iter().map(|p| p.path).collect();
    assert_eq!(paths, ["api_key", "base_url"]);
}
