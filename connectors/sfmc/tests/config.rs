//! The `type = "sfmc"` table: a typo is refused, a full table reads and validates, the secret
//! never shows in `Debug`, and the connector is a hand-off channel.
#![allow(clippy::unwrap_used)]

use cartback_core::AddressKind;
use cartback_kit::plugin::{parse, Connector, Role};
use cartback_sfmc::config::ContactKeyFrom;
use cartback_sfmc::{Sfmc, SfmcSettings};

fn table() -> serde_json::Value {
    serde_json::json!({
        "client_id": "4mcvb3l1b0ftd8ugwc8nr8sa",
        "client_secret": "s3cr3t-0123456789",
        "subdomain": "mc563885gzs27c5t9-63k636ttgm",
        "event_definition_key": "APIEvent-cart-abandoned",
    })
}

#[test]
fn a_typo_is_refused() {
    let mut t = table();
    t["event_defintion_key"] = "x".into();
    let err = parse::<SfmcSettings>(t).unwrap_err();
    assert_eq!(err.path, "event_defintion_key", "{err:?}");
    let mut t = table();
    t["contact_key"] = "phone".into();
    assert_eq!(parse::<SfmcSettings>(t).unwrap_err().path, "contact_key");
    let mut t = table();
    t.as_object_mut().unwrap().remove("event_definition_key");
    assert!(parse::<SfmcSettings>(t).is_err());
}

#[test]
fn a_full_table_reads_and_validates() {
    let mut t = table();
    t["account_id"] = "514009000".into();
    t["scope"] = "journeys_execute data_extensions_write".into();
    t["converted_event_definition_key"] = "APIEvent-cart-recovered".into();
    t["contact_key"] = "contact_id".into();
    t["max_items"] = 5.into();
    t["rest_base_url"] = "https://mc563885gzs27c5t9-63k636ttgm.rest.marketingcloudapis.com/".into();
    let s: SfmcSettings = parse(t).unwrap();
    assert!(Sfmc::validate(&s).is_empty(), "{:?}", Sfmc::validate(&s));
    assert_eq!(s.contact_key, ContactKeyFrom::ContactId);
    assert_eq!(s.max_items(), 5);
    assert_eq!(
        s.rest_base_url().as_deref(),
        Some("https://mc563885gzs27c5t9-63k636ttgm.rest.marketingcloudapis.com")
    );
    assert!(!format!("{s:?}").contains("s3cr3t-0123456789"));
    assert_eq!(Sfmc::TYPE, "sfmc");
    assert_eq!(Sfmc::ROLE, Role::Channel);
    assert_eq!(Sfmc::address(&s), Some(AddressKind::HandOff));
}
