//! The `type = "activecampaign"` table: a typo is refused (in `contact_fields` too), every
//! problem has its key, the token never shows in `Debug`, and the connector is a hand-off
//! channel.
#![allow(clippy::unwrap_used)]

use cartback_activecampaign::{ActiveCampaign, ActiveCampaignSettings};
use cartback_core::AddressKind;
use cartback_kit::plugin::{parse, Connector, Role};

#[test]
fn a_typo_is_refused() {
    let base = serde_json::json!({
        "base_url": "https://acme.api-us1.com",
        "api_token": "key-1234567890",
        "connection_id": "1",
    });
    let mut typo = base.clone();
    typo["conection_id"] = "1".into();
    assert_eq!(
        parse::<ActiveCampaignSettings>(typo).unwrap_err().path,
        "conection_id"
    );
    let mut field_typo = base.clone();
    field_typo["contact_fields"] = serde_json::json!({"discount": "12"});
    assert_eq!(
        parse::<ActiveCampaignSettings>(field_typo)
            .unwrap_err()
            .path,
        "contact_fields.discount"
    );
    // The account's URL is required: there is no default host.
    let mut no_url = base;
    no_url.as_object_mut().unwrap().remove("base_url");
    assert!(parse::<ActiveCampaignSettings>(no_url).is_err());
}

#[test]
fn a_full_table_reads_and_validates() {
    let s: ActiveCampaignSettings = parse(serde_json::json!({
        "base_url": "https://acme.api-us1.com/api/3/",
        "api_token": "key-1234567890",
        "connection_id": "3",
        "contact_fields": {"discount_code": "12", "recovery_url": "13", "step": "15"},
    }))
    .unwrap();
    assert!(ActiveCampaign::validate(&s).is_empty());
    assert_eq!(s.api_root(), "https://acme.api-us1.com/api/3");
    assert!(!format!("{s:?}").contains("key-1234567890"));
    assert_eq!(ActiveCampaign::TYPE, "activecampaign");
    assert_eq!(ActiveCampaign::ROLE, Role::Channel);
    assert_eq!(ActiveCampaign::address(&s), Some(AddressKind::HandOff));
}
