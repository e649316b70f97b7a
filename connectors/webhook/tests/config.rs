//! Settings: deserialization and pure validation.
#![allow(clippy::unwrap_used)]

use cartback_kit::Secret;
use cartback_webhook::{WebhookSettings, WebhookSink};

fn parse(json: serde_json::Value) -> Result<WebhookSettings, String> {
    serde_json::from_value::<WebhookSettings>(json).map_err(|e| e.to_string())
}

#[test]
fn full_settings_validate() {
    let s = parse(serde_json::json!({
        "url": "https://hooks.zapier.com/hooks/catch/123/abc/",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "headers": {"X-Api-Key": "k-123"},
    }))
    .unwrap();
    s.validate().unwrap();
    assert!(!format!("{s:?}").contains("MfKQ9r8"));
    let minimal =
        parse(serde_json::json!({"url": "http://localhost:8080/in", "secret": "s"})).unwrap();
    minimal.validate().unwrap();
    assert!(minimal.headers.is_empty());
}

#[test]
fn typo_is_rejected() {
    let err = parse(serde_json::json!({
        "url": "https://example.com/hook",
        "secret": "s",
        "header": {"X-Api-Key": "k"},
    }))
    .unwrap_err();
    assert!(err.contains("header"), "{err}");
    assert!(parse(serde_json::json!({"url": "https://example.com/hook"})).is_err());
    assert!(parse(serde_json::json!({"url": "https://example.com/hook", "secret": ""})).is_err());
}

#[test]
fn bad_values_are_rejected() {
    for url in [
        "not a url",
        "ftp://example.com/hook",
        "/relative/path",
        "https://user:pass@example.com/hook",
        "mailto:ops@example.com",
    ] {
        let s = WebhookSettings::new(url, Secret::new("s"));
        assert!(s.validate().unwrap_err().contains("url"), "{url}");
    }
    let bad_secret = WebhookSettings::new("https://example.com/hook", Secret::new("whsec_%%%"));
    assert!(bad_secret.validate().unwrap_err().contains("secret"));

    let mut reserved = WebhookSettings::new("https://example.com/hook", Secret::new("s"));
    reserved
        .headers
        .insert("Webhook-Signature".into(), "forged".into());
    assert!(reserved.validate().is_err());
    let mut bad_name = WebhookSettings::new("https://example.com/hook", Secret::new("s"));
    bad_name.headers.insert("Bad Header".into(), "v".into());
    assert!(bad_name.validate().is_err());
    let mut bad_value = WebhookSettings::new("https://example.com/hook", Secret::new("s"));
    bad_value.headers.insert("X-Key".into(), "a\r\nb".into());
    assert!(bad_value.validate().is_err());

    let ctx = cartback_core::SinkContext {
        channel_id: "zap".into(),
        public_url: "https://hub.example.com".into(),
        timeout: std::time::Duration::from_secs(5),
    };
    assert!(WebhookSink::new(WebhookSettings::new("nope", Secret::new("s")), ctx).is_err());
}
