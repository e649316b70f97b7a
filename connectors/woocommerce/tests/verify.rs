//! Signature checks and the creation ping.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{Handshake, Source, VerifyError};
use cartback_kit::{Secret, SecretList};
use cartback_woocommerce::verify::{is_ping, sign};
use cartback_woocommerce::{WooSettings, WooSource};
use common::{request, settings, SECRET};

#[test]
fn derived_vector_from_platforms_md() {
    // Same primitive as Shopify: secret test_secret_key, body {"foo": "bar"}.
    assert_eq!(
        sign("test_secret_key", br#"{"foo": "bar"}"#),
        "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="
    );
    let req = request(
        "order.updated",
        br#"{"foo": "bar"}"#,
        &[(
            "x-wc-webhook-signature",
            "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
        )],
    );
    WooSource::new(settings()).verify(&req).unwrap();
}

#[test]
fn valid_and_tampered() {
    let src = WooSource::new(settings());
    let body = br#"{"id":727}"#;
    src.verify(&request("order.updated", body, &[])).unwrap();
    let mut tampered = request("order.updated", body, &[]);
    tampered.body = bytes::Bytes::from_static(br#"{"id":728}"#);
    assert_eq!(src.verify(&tampered), Err(VerifyError::Mismatch));
}

#[test]
fn wrong_secret_missing_and_malformed_header() {
    let body = br#"{"id":727}"#;
    let other = WooSource::new(WooSettings::new(SecretList::new(vec![Secret::new(
        "not-the-secret",
    )])));
    assert_eq!(
        other.verify(&request("order.updated", body, &[])),
        Err(VerifyError::Mismatch)
    );
    let src = WooSource::new(settings());
    assert_eq!(
        src.verify(&request(
            "order.updated",
            body,
            &[("x-wc-webhook-signature", "")]
        )),
        Err(VerifyError::MissingHeader("X-WC-Webhook-Signature".into()))
    );
    assert!(matches!(
        src.verify(&request(
            "order.updated",
            body,
            &[("x-wc-webhook-signature", "%%%")]
        )),
        Err(VerifyError::MalformedHeader(_))
    ));
}

#[test]
fn rotated_secrets_are_all_accepted() {
    let body = br#"{"id":727}"#;
    let rotated = WooSource::new(WooSettings::new(SecretList::new(vec![
        Secret::new("the-new-one"),
        Secret::new(SECRET),
    ])));
    rotated
        .verify(&request("order.updated", body, &[]))
        .unwrap();
    let req = request(
        "order.updated",
        body,
        &[("x-wc-webhook-signature", &sign("the-new-one", body))],
    );
    rotated.verify(&req).unwrap();
}

#[test]
fn polling_only_source_refuses_webhooks() {
    let polling = WooSettings {
        secret: None,
        store_url: Some("https://shop.example".into()),
        consumer_key: Some(Secret::new("ck_1")),
        consumer_secret: Some(Secret::new("cs_1")),
        ..WooSettings::default()
    };
    polling.validate().unwrap();
    let src = WooSource::new(polling);
    assert_eq!(
        src.verify(&request("order.updated", b"{}", &[])),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn creation_ping_is_answered_before_any_check() {
    let src = WooSource::new(settings());
    let mut ping = request("order.updated", b"webhook_id=12", &[]);
    ping.headers = http::HeaderMap::new();
    ping.headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    assert_eq!(
        src.handshake(&ping),
        Some(Handshake {
            status: 200,
            content_type: "text/plain",
            body: "ok".into()
        })
    );
    // The ping carries no signature: verification alone would refuse it.
    assert!(src.verify(&ping).is_err());
    // A signed delivery is never a ping, nor is anything but `webhook_id=<digits>`.
    assert_eq!(
        src.handshake(&request("order.updated", b"webhook_id=12", &[])),
        None
    );
    for body in [
        &b"webhook_id="[..],
        b"webhook_id=12&x=1",
        b"webhook_id=abc",
        b"{\"webhook_id\":12}",
    ] {
        assert!(!is_ping(body), "{body:?}");
    }
    assert!(is_ping(b"webhook_id=0"));
}

#[test]
fn body_is_never_parsed() {
    let src = WooSource::new(settings());
    src.verify(&request("order.updated", b"\xff\x00not json", &[]))
        .unwrap();
}

#[test]
fn settings_reject_unknown_keys_and_validate() {
    let typo = serde_json::from_str::<WooSettings>(r#"{"secret":"s","secert":"x"}"#);
    assert!(typo
        .unwrap_err()
        .to_string()
        .contains("unknown field `secert`"));
    let s: WooSettings = serde_json::from_str(r#"{"secret": ["a", "b"]}"#).unwrap();
    s.validate().unwrap();
    assert_eq!(s.interval(), std::time::Duration::from_secs(300));
    let s: WooSettings = serde_json::from_str(
        r#"{"store_url": "https://shop.example/", "consumer_key": "ck_1",
            "consumer_secret": "cs_1", "poll_interval": "2m", "default_phone_region": "gb"}"#,
    )
    .unwrap();
    s.validate().unwrap();
    assert!(s.polls());
    assert_eq!(s.base_url(), Some("https://shop.example"));
    assert_eq!(s.interval(), std::time::Duration::from_secs(120));
    for bad in [
        r#"{}"#,
        r#"{"store_url": "https://shop.example"}"#,
        r#"{"secret": "a", "consumer_key": "ck_1"}"#,
        r#"{"store_url": "https://shop.example", "consumer_key": "ck_1"}"#,
        r#"{"store_url": "https://shop.example", "consumer_secret": "cs_1"}"#,
        r#"{"secret": "a", "store_url": "shop.example"}"#,
        r#"{"secret": "a", "store_url": "ftp://shop.example"}"#,
        r#"{"secret": "a", "store_url": "https://shop.example/?a=1"}"#,
        r#"{"secret": "a", "poll_interval": "0s"}"#,
        r#"{"secret": "a", "default_phone_region": "USA"}"#,
        r#"{"secret": ""}"#,
        r#"{"secret": " "}"#,
    ] {
        let checked = serde_json::from_str::<WooSettings>(bad)
            .map_err(|e| e.to_string())
            .and_then(|s| s.validate());
        assert!(checked.is_err(), "{bad}");
    }
}
