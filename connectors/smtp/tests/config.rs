//! Settings: deserialization and pure validation.
#![allow(clippy::unwrap_used)]

use cartback_smtp::{Security, SmtpSettings};

fn parse(json: serde_json::Value) -> Result<SmtpSettings, String> {
    serde_json::from_value::<SmtpSettings>(json).map_err(|e| e.to_string())
}

#[test]
fn defaults_and_ports() {
    let s = parse(serde_json::json!({
        "host": "smtp.example.com",
        "from": "Shop <shop@example.com>",
    }))
    .unwrap();
    s.validate().unwrap();
    assert_eq!(s.security_mode().unwrap(), Security::StartTls);
    assert_eq!(s.effective_port().unwrap(), 587);

    let mut tls = s.clone();
    tls.security = "tls".into();
    assert_eq!(tls.effective_port().unwrap(), 465);
    let mut plain = s.clone();
    plain.security = "plain".into();
    assert_eq!(plain.effective_port().unwrap(), 25);
    plain.port = Some(2525);
    assert_eq!(plain.effective_port().unwrap(), 2525);
    assert_eq!(
        s.from_mailbox().unwrap().email.to_string(),
        "shop@example.com"
    );
}

#[test]
fn full_settings_validate() {
    let s = parse(serde_json::json!({
        "host": "smtp.example.com",
        "port": 2587,
        "security": "starttls",
        "username": "apikey",
        "password": "s3cret",
        "from": "shop@example.com",
        "reply_to": "Help <help@example.com>",
    }))
    .unwrap();
    s.validate().unwrap();
    assert!(!format!("{s:?}").contains("s3cret"));
}

#[test]
fn typo_is_rejected() {
    let err = parse(serde_json::json!({
        "host": "smtp.example.com",
        "from": "shop@example.com",
        "usernme": "apikey",
    }))
    .unwrap_err();
    assert!(err.contains("usernme"), "{err}");
}

#[test]
fn bad_values_are_rejected() {
    let ok = SmtpSettings::new("smtp.example.com", "Shop <shop@example.com>");
    ok.validate().unwrap();

    let mut bad_from = ok.clone();
    bad_from.from = "Shop <not-an-address>".into();
    assert!(bad_from.validate().unwrap_err().contains("from"));

    let mut bad_reply = ok.clone();
    bad_reply.reply_to = Some("nobody".into());
    assert!(bad_reply.validate().unwrap_err().contains("reply_to"));

    let mut user_only = ok.clone();
    user_only.username = Some("apikey".into());
    assert!(user_only.validate().unwrap_err().contains("password"));

    let mut password_only = ok.clone();
    password_only.password = Some(cartback_kit::Secret::new("s3cret"));
    assert!(password_only.validate().unwrap_err().contains("username"));

    let mut bad_security = ok.clone();
    bad_security.security = "ssl".into();
    assert!(bad_security.validate().unwrap_err().contains("security"));

    let mut bad_host = ok.clone();
    bad_host.host = "smtp://smtp.example.com".into();
    assert!(bad_host.validate().unwrap_err().contains("host"));

    let mut zero_port = ok;
    zero_port.port = Some(0);
    assert!(zero_port.validate().is_err());
}

#[test]
fn sink_refuses_invalid_settings() {
    let mut s = SmtpSettings::new("smtp.example.com", "bad");
    s.security = "plain".into();
    let ctx = cartback_core::SinkContext {
        channel_id: "email".into(),
        public_url: "https://hub.example.com".into(),
        timeout: std::time::Duration::from_secs(5),
    };
    assert!(cartback_smtp::SmtpSink::new(s, ctx).is_err());
}

#[test]
fn sink_builds_for_every_security_mode() {
    for security in ["starttls", "tls", "plain"] {
        let mut s = SmtpSettings::new("smtp.example.com", "Shop <shop@example.com>");
        s.security = security.into();
        s.username = Some("apikey".into());
        s.password = Some(cartback_kit::Secret::new("s3cret"));
        let ctx = cartback_core::SinkContext {
            channel_id: "email".into(),
            public_url: "https://hub.example.com".into(),
            timeout: std::time::Duration::from_secs(5),
        };
        let sink = cartback_smtp::SmtpSink::new(s, ctx).unwrap();
        let debug = format!("{sink:?}");
        assert!(
            debug.contains("smtp.example.com") && !debug.contains("s3cret"),
            "{debug}"
        );
    }
}
