//! Settings: deserialization and pure validation.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_sendgrid::SendGridSettings;
use common::vector;

fn parse(json: serde_json::Value) -> Result<SendGridSettings, serde_json::Error> {
    serde_json::from_value(json)
}

#[test]
fn minimal_and_full_settings() {
    let s = parse(serde_json::json!({"api_key": "SG.x", "from": "shop@example.com"})).unwrap();
    s.validate().unwrap();
    assert_eq!(s.base_url(), "https://api.sendgrid.com");
    assert!(!s.sandbox_mode);

    let full = parse(serde_json::json!({
        "api_key": "SG.x",
        "from": "Shop <shop@example.com>",
        "reply_to": "Help <help@example.com>",
        "base_url": "https://api.eu.sendgrid.com/",
        "categories": ["reminders"],
        "event_webhook_public_key": vector::PUBLIC_KEY,
        "sandbox_mode": true
    }))
    .unwrap();
    full.validate().unwrap();
    assert_eq!(
        full.mail_send_url(),
        "https://api.eu.sendgrid.com/v3/mail/send"
    );
    assert!(!format!("{full:?}").contains("SG.x"), "api key is redacted");
}

#[test]
fn unsigned_events_are_opt_in_and_exclusive_with_a_key() {
    let s = parse(serde_json::json!({"api_key": "SG.x", "from": "shop@example.com"})).unwrap();
    assert!(!s.allow_unsigned_events, "off by default");
    assert!(s.warnings().is_empty());

    let open = parse(serde_json::json!({
        "api_key": "SG.x",
        "from": "shop@example.com",
        "allow_unsigned_events": true
    }))
    .unwrap();
    open.validate().unwrap();
    let warnings = open.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("allow_unsigned_events"),
        "{warnings:?}"
    );
    assert!(!warnings[0].contains('\n'));

    let both = parse(serde_json::json!({
        "api_key": "SG.x",
        "from": "shop@example.com",
        "event_webhook_public_key": vector::PUBLIC_KEY,
        "allow_unsigned_events": true
    }))
    .unwrap();
    let err = both.validate().unwrap_err();
    assert!(
        err.contains("allow_unsigned_events") && err.contains("event_webhook_public_key"),
        "{err}"
    );
}

#[test]
fn typo_is_rejected() {
    let err = parse(serde_json::json!({
        "api_key": "SG.x",
        "from": "shop@example.com",
        "sandbox": true
    }))
    .unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

#[test]
fn empty_api_key_is_rejected() {
    assert!(parse(serde_json::json!({"api_key": "", "from": "shop@example.com"})).is_err());
}

#[test]
fn bad_values_fail_validation() {
    let base = serde_json::json!({"api_key": "SG.x", "from": "shop@example.com"});
    let with = |k: &str, v: serde_json::Value| {
        let mut j = base.clone();
        j[k] = v;
        parse(j).unwrap()
    };
    for from in [
        "Shop",
        "Shop <shop@example.com",
        "shop@",
        "",
        "a <b@c.d>\nBcc: e@f.g",
    ] {
        let err = with("from", from.into()).validate().unwrap_err();
        assert!(err.contains("from"), "{from:?}: {err}");
    }
    assert!(with("reply_to", "nope".into()).validate().is_err());
    assert!(with("base_url", "api.sendgrid.com".into())
        .validate()
        .is_err());
    assert!(with("categories", serde_json::json!([""]))
        .validate()
        .is_err());
    let ten: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    assert!(with("categories", serde_json::json!(ten))
        .validate()
        .is_err());
    assert!(with("event_webhook_public_key", "bm90IGEga2V5".into())
        .validate()
        .is_err());
    assert!(with("api_key", " SG.x ".into()).validate().is_err());
}
