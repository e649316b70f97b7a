//! The `type = "drip"` table: a typo is refused, every problem has its key, the token never
//! shows in `Debug`, and the connector is a hand-off channel.
#![allow(clippy::unwrap_used)]

use cartback_core::AddressKind;
use cartback_drip::config::CartAction;
use cartback_drip::{Drip, DripSettings};
use cartback_kit::plugin::{parse, Connector, Role};

#[test]
fn a_typo_is_refused() {
    let err = parse::<DripSettings>(serde_json::json!({
        "api_token": "t-1234567890",
        "account_id": "9999999",
        "acount_id": "9999999",
    }))
    .unwrap_err();
    assert_eq!(err.path, "acount_id", "{err:?}");
    assert!(parse::<DripSettings>(serde_json::json!({"api_token": "t-1234567890"})).is_err());
    let err = parse::<DripSettings>(serde_json::json!({
        "api_token": "t-1234567890", "account_id": "1", "cart_action": "abandoned",
    }))
    .unwrap_err();
    assert_eq!(err.path, "cart_action", "{err:?}");
}

#[test]
fn a_full_table_reads_and_validates() {
    let s: DripSettings = parse(serde_json::json!({
        "api_token": "t-1234567890",
        "account_id": "9999999",
        "provider": "my_store",
        "cart_action": "updated",
        "base_url": "https://api.getdrip.com",
    }))
    .unwrap();
    assert!(Drip::validate(&s).is_empty());
    assert_eq!(s.cart_action, CartAction::Updated);
    assert!(!format!("{s:?}").contains("t-1234567890"));
    assert_eq!(Drip::TYPE, "drip");
    assert_eq!(Drip::ROLE, Role::Channel);
    assert_eq!(Drip::address(&s), Some(AddressKind::HandOff));
}
