//! The `type = "intercom"` table: a typo is refused, every problem has its key, the token never
//! shows in `Debug`, and the connector is a hand-off channel.
#![allow(clippy::unwrap_used)]

use cartback_core::AddressKind;
use cartback_intercom::config::{ContactRole, Region};
use cartback_intercom::{Intercom, IntercomSettings};
use cartback_kit::plugin::{parse, Connector, Role};

#[test]
fn a_typo_is_refused() {
    let err = parse::<IntercomSettings>(serde_json::json!({
        "access_token": "tok-1234567890",
        "regoin": "eu",
    }))
    .unwrap_err();
    assert_eq!(err.path, "regoin", "{err:?}");
    let err = parse::<IntercomSettings>(serde_json::json!({
        "access_token": "tok-1234567890",
        "region": "asia",
    }))
    .unwrap_err();
    assert_eq!(err.path, "region", "{err:?}");
    assert!(parse::<IntercomSettings>(serde_json::json!({})).is_err());
}

#[test]
fn a_full_table_reads_and_validates() {
    let s: IntercomSettings = parse(serde_json::json!({
        "access_token": "tok-1234567890",
        "region": "au",
        "api_version": "2.11",
        "role": "lead",
        "event_name": "abandoned-cart",
        "converted_event_name": "cart-recovered",
    }))
    .unwrap();
    assert!(Intercom::validate(&s).is_empty());
    assert_eq!(s.region, Region::Au);
    assert_eq!(s.role, ContactRole::Lead);
    assert_eq!(s.base_url(), "https://api.au.intercom.io");
    assert!(!format!("{s:?}").contains("tok-1234567890"));
    assert_eq!(Intercom::TYPE, "intercom");
    assert_eq!(Intercom::ROLE, Role::Channel);
    assert_eq!(Intercom::address(&s), Some(AddressKind::HandOff));
}
