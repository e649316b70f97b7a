//! Shopify signature checks, including Shopify's published vector.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{Source, VerifyError};
use cartback_kit::{Secret, SecretList};
use cartback_shopify::{verify::sign, ShopifySettings, ShopifySource};
use common::{request, settings, unpinned, SECRET};

#[test]
fn published_vector() {
    // shopify-api-js lib/webhooks/__tests__/validate.test.ts
    assert_eq!(
        sign("test_secret_key", br#"{"foo": "bar"}"#),
        "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="
    );
    let req = request(
        "products/create",
        br#"{"foo": "bar"}"#,
        &[(
            "x-shopify-hmac-sha256",
            "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
        )],
    );
    ShopifySource::new(settings()).verify(&req).unwrap();
}

#[test]
fn valid_and_tampered() {
    let src = ShopifySource::new(settings());
    let body = br#"{"token":"t"}"#;
    src.verify(&request("checkouts/create", body, &[])).unwrap();
    let mut tampered = request("checkouts/create", body, &[]);
    tampered.body = bytes::Bytes::from_static(br#"{"token":"u"}"#);
    assert_eq!(src.verify(&tampered), Err(VerifyError::Mismatch));
}

#[test]
fn wrong_secret_missing_and_malformed_headers() {
    let body = br#"{"token":"t"}"#;
    let other = ShopifySource::new(ShopifySettings::new(SecretList::new(vec![Secret::new(
        "not-the-secret",
    )])));
    assert_eq!(
        other.verify(&request("checkouts/create", body, &[])),
        Err(VerifyError::Mismatch)
    );
    let src = ShopifySource::new(settings());
    assert!(matches!(
        src.verify(&request(
            "checkouts/create",
            body,
            &[("x-shopify-hmac-sha256", "")]
        )),
        Err(VerifyError::MissingHeader(_))
    ));
    assert!(matches!(
        src.verify(&request(
            "checkouts/create",
            body,
            &[("x-shopify-hmac-sha256", "%%%")]
        )),
        Err(VerifyError::MalformedHeader(_))
    ));
}

#[test]
fn newer_unprefixed_header_names() {
    let body = br#"{"token":"t"}"#;
    let sig = sign(SECRET, body);
    let req = request(
        "checkouts/create",
        body,
        &[("x-shopify-hmac-sha256", ""), ("shopify-hmac-sha256", &sig)],
    );
    ShopifySource::new(settings()).verify(&req).unwrap();
}

#[test]
fn replay_window_on_triggered_at() {
    let src = ShopifySource::new(settings());
    let body = br#"{"token":"t"}"#;
    // Within 48 h of receipt (common::now() is 16:00Z).
    src.verify(&request(
        "checkouts/create",
        body,
        &[("x-shopify-triggered-at", "2026-11-20T12:00:00Z")],
    ))
    .unwrap();
    assert_eq!(
        src.verify(&request(
            "checkouts/create",
            body,
            &[("x-shopify-triggered-at", "2026-11-17T12:00:00Z")]
        )),
        Err(VerifyError::Stale)
    );
    assert!(matches!(
        src.verify(&request(
            "checkouts/create",
            body,
            &[("x-shopify-triggered-at", "yesterday")]
        )),
        Err(VerifyError::MalformedHeader(_))
    ));
}

#[test]
fn rotated_secrets_are_all_accepted() {
    let body = br#"{"token":"t"}"#;
    let rotated = ShopifySource::new(ShopifySettings::new(SecretList::new(vec![
        Secret::new("the-new-one"),
        Secret::new(SECRET),
    ])));
    rotated
        .verify(&request("checkouts/create", body, &[]))
        .unwrap();
    let req = request(
        "checkouts/create",
        body,
        &[("x-shopify-hmac-sha256", &sign("the-new-one", body))],
    );
    rotated.verify(&req).unwrap();
}

#[test]
fn shop_domain_must_match_when_configured() {
    let mut s = settings();
    s.shop_domain = Some("test-shop.myshopify.com".into());
    let src = ShopifySource::new(s.clone());
    src.verify(&request("checkouts/create", b"{}", &[]))
        .unwrap();
    let req = request(
        "checkouts/create",
        b"{}",
        &[("x-shopify-shop-domain", "evil.myshopify.com")],
    );
    assert_eq!(src.verify(&req), Err(VerifyError::Mismatch));
}

#[test]
fn settings_reject_unknown_keys_and_bad_regions() {
    let typo: Result<ShopifySettings, _> = serde_json::from_str(r#"{"secret":"s","secert":"x"}"#);
    assert!(typo
        .unwrap_err()
        .to_string()
        .contains("unknown field `secert`"));
    let s: ShopifySettings =
        serde_json::from_str(r#"{"secret":["a","b"],"default_phone_region":"ZZ"}"#).unwrap();
    assert!(s.validate().is_err());
    let s: ShopifySettings =
        serde_json::from_str(r#"{"secret":"a","default_phone_region":"fr","replay_window":"1h"}"#)
            .unwrap();
    s.validate().unwrap();
}

#[test]
fn body_is_never_parsed_and_blank_headers_count_as_missing() {
    let src = ShopifySource::new(settings());
    // Not JSON at all: the signature still decides.
    src.verify(&request("orders/create", b"\xff\x00not json", &[]))
        .unwrap();
    assert!(matches!(
        src.verify(&request(
            "orders/create",
            b"{}",
            &[("x-shopify-hmac-sha256", " ")]
        )),
        Err(VerifyError::MissingHeader(_))
    ));
}

#[test]
fn missing_triggered_at_is_refused() {
    // The header is required: a captured body re-sent without it no longer passes.
    let src = ShopifySource::new(settings());
    for headers in [
        &[("x-shopify-triggered-at", "")][..],
        &[("x-shopify-triggered-at", " ")][..],
    ] {
        assert_eq!(
            src.verify(&request("orders/create", b"{}", headers)),
            Err(VerifyError::MissingHeader("X-Shopify-Triggered-At".into()))
        );
    }
    // The unprefixed spelling of newer deliveries counts.
    src.verify(&request(
        "orders/create",
        b"{}",
        &[
            ("x-shopify-triggered-at", ""),
            ("shopify-triggered-at", "2026-11-20T15:59:00Z"),
        ],
    ))
    .unwrap();
}

#[test]
fn triggered_at_window_follows_replay_window() {
    let mut s = settings();
    s.replay_window = cartback_core::duration::HumanDuration(std::time::Duration::from_secs(1));
    let src = ShopifySource::new(s);
    src.verify(&request("orders/create", b"{}", &[])).unwrap();
    let mut late = request("orders/create", b"{}", &[]);
    late.received_at = common::now() + chrono::Duration::days(365);
    assert_eq!(src.verify(&late), Err(VerifyError::Stale));
    let stale = request(
        "orders/create",
        b"{}",
        &[
            ("x-shopify-triggered-at", ""),
            ("shopify-triggered-at", "2026-11-20T15:59:00Z"),
        ],
    );
    assert_eq!(src.verify(&stale), Err(VerifyError::Stale));
}

#[test]
fn unpinned_settings_accept_any_shop_header_and_warn() {
    let src = ShopifySource::new(unpinned());
    src.verify(&request(
        "orders/create",
        b"{}",
        &[("x-shopify-shop-domain", "other.myshopify.com")],
    ))
    .unwrap();
    let warnings = unpinned().warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("shop_domain") && warnings[0].contains("shop/redact"));
    assert!(settings().warnings().is_empty());
}

#[test]
fn settings_defaults_and_validation() {
    let s: ShopifySettings = serde_json::from_str(r#"{"secret": "a"}"#).unwrap();
    assert_eq!(s.replay_window.0, std::time::Duration::from_secs(48 * 3600));
    assert_eq!((s.default_phone_region, s.shop_domain), (None, None));
    for bad in [
        r#"{"secret": ""}"#,
        r#"{"secret": "a", "default_phone_region": "USA"}"#,
        r#"{"secret": "a", "shop_domain": "https://x.myshopify.com/"}"#,
        r#"{"secret": "a", "shop_domain": "x.myshopify.com:443"}"#,
        r#"{"secret": "a", "shop_domain": " "}"#,
        r#"{"secret": "a", "replay_window": "0s"}"#,
    ] {
        // Rejected when read or when validated; either way never accepted.
        let checked = serde_json::from_str::<ShopifySettings>(bad)
            .map_err(|e| e.to_string())
            .and_then(|s| s.validate());
        assert!(checked.is_err(), "{bad}");
    }
}
