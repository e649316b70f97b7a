//! The `type = "moengage"` table: a typo is refused, every problem has its key, the key never
//! shows in `Debug`, and the connector is a hand-off channel.
#![allow(clippy::unwrap_used)]

use cartback_core::AddressKind;
use cartback_kit::plugin::{parse, Connector, Role};
use cartback_moengage::{CustomerId, MoEngage, MoEngageSettings};

#[test]
fn a_typo_is_refused() {
    let err = parse::<MoEngageSettings>(serde_json::json!({
        "workspace_id": "WS1",
        "api_key": "k-1234567890",
        "data_centre": "01",
    }))
    .unwrap_err();
    assert_eq!(err.path, "data_centre", "{err:?}");
    assert!(parse::<MoEngageSettings>(serde_json::json!({})).is_err());
}

#[test]
fn a_full_table_reads_and_validates() {
    let s: MoEngageSettings = parse(serde_json::json!({
        "app_id": "WS1",
        "api_key": "k-1234567890",
        "data_center": "DC-02",
        "event_name": "Checkout Abandoned",
        "converted_event_name": "Order Recovered",
        "customer_id": "platform",
    }))
    .unwrap();
    assert!(MoEngage::validate(&s).is_empty());
    assert_eq!(s.workspace_id, "WS1");
    assert_eq!(s.customer_id, CustomerId::Platform);
    assert_eq!(s.event_url(), "https://api-02.moengage.com/v1/event/WS1");
    assert!(!format!("{s:?}").contains("k-1234567890"));
    assert_eq!(MoEngage::TYPE, "moengage");
    assert_eq!(MoEngage::ROLE, Role::Channel);
    assert_eq!(MoEngage::address(&s), Some(AddressKind::HandOff));
}

#[test]
fn bad_values_are_reported_at_their_keys() {
    let s: MoEngageSettings = parse(serde_json::json!({
        "workspace_id": " ",
        "api_key": "  ",
        "data_center": "07",
        "base_url": "api-01.moengage.com",
        "event_name": "moe_cart",
        "converted_event_name": "",
    }))
    .unwrap();
    let paths: Vec<String> = MoEngage::validate(&s).into_iter().map(|p| p.path).collect();
    assert_eq!(
        paths,
        [
            "workspace_id",
            "api_key",
            "data_center",
            "base_url",
            "event_name",
            "converted_event_name"
        ]
    );

    // The data centre is required unless a base URL names the host.
    let s: MoEngageSettings =
        parse(serde_json::json!({"workspace_id": "WS1", "api_key": "k-1"})).unwrap();
    let paths: Vec<String> = MoEngage::validate(&s).into_iter().map(|p| p.path).collect();
    assert_eq!(paths, ["data_center"]);
}
