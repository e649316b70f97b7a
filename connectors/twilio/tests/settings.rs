//! Settings: `deny_unknown_fields`, sender exclusivity, sid shapes, defaults.
#![allow(clippy::unwrap_used)]

use cartback_twilio::TwilioSettings;

fn parse(json: serde_json::Value) -> Result<TwilioSettings, serde_json::Error> {
    serde_json::from_value(json)
}

fn base() -> serde_json::Value {
    serde_json::json!({
        "account_sid": "AC0123456789abcdef0123456789abcdef",
        "auth_token": "12345",
        "from": "+15017122661",
    })
}

#[test]
fn defaults_and_valid() {
    let s = parse(base()).unwrap();
    s.validate().unwrap();
    assert!(s.status_callback);
    assert_eq!(s.base_url(), "https://api.twilio.com");
    assert_eq!(
        s.messages_url(),
        "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
    );
    assert!(
        format!("{s:?}").contains("auth_token: Secret(***)"),
        "token is redacted"
    );
}

#[test]
fn typo_is_rejected() {
    let mut v = base();
    v["status_callbak"] = serde_json::json!(false);
    let err = parse(v).unwrap_err().to_string();
    assert!(err.contains("status_callbak"), "{err}");
}

#[test]
fn exactly_one_sender() {
    let mut both = base();
    both["messaging_service_sid"] = serde_json::json!("MG0123456789abcdef0123456789abcdef");
    assert!(parse(both).unwrap().validate().is_err());

    let mut neither = base();
    neither.as_object_mut().unwrap().remove("from");
    assert!(parse(neither.clone()).unwrap().validate().is_err());

    neither["messaging_service_sid"] = serde_json::json!("MG0123456789abcdef0123456789abcdef");
    parse(neither.clone()).unwrap().validate().unwrap();
    neither["messaging_service_sid"] = serde_json::json!("MGshort");
    assert!(parse(neither).unwrap().validate().is_err());
}

#[test]
fn bad_account_sid_and_sender_and_base_url() {
    for sid in ["", "AC123", "SK0123456789abcdef0123456789abcdef"] {
        let mut v = base();
        v["account_sid"] = serde_json::json!(sid);
        let err = parse(v).unwrap().validate().unwrap_err();
        assert!(err.contains("account_sid"), "{err}");
    }
    let mut v = base();
    v["from"] = serde_json::json!("555-0100 ext 2");
    assert!(parse(v).unwrap().validate().is_err());
    let mut v = base();
    v["base_url"] = serde_json::json!("ftp://x");
    assert!(parse(v).unwrap().validate().is_err());
    let mut v = base();
    v["auth_token"] = serde_json::json!("");
    assert!(parse(v).is_err(), "an empty secret is refused");
}
