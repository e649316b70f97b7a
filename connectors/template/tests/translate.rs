//! The template connector end to end at its seam: verify, translate, and what the registry sees.
#![allow(clippy::unwrap_used)]

use cartback_core::{verify, EventKind, InboundRequest, Source, VerifyError};
use cartback_kit::plugin::{Entry, Plugin, Role};
use cartback_kit::{Secret, SecretList};
use cartback_template::verify::sign;
use cartback_template::{Template, TemplateSettings, TemplateSource};
use chrono::{DateTime, Utc};

const SECRET: &str = "acme-test-secret";
const TS: &str = "1795190400"; // 2026-11-20T16:00:00Z

fn source() -> TemplateSource {
    TemplateSource::new(TemplateSettings::new(SecretList::new(vec![Secret::new(
        SECRET,
    )])))
}

fn request(topic: &str, body: &[u8], signature: Option<String>) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert("x-acme-topic", topic.parse().unwrap());
    h.insert("x-acme-timestamp", TS.parse().unwrap());
    h.insert("x-acme-delivery", "d-1".parse().unwrap());
    if let Some(s) = signature {
        h.insert("x-acme-signature", s.parse().unwrap());
    }
    InboundRequest {
        source_id: "acme".into(),
        method: http::Method::POST,
        url: "https://hub.example/webhooks/acme".into(),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        received_at: DateTime::<Utc>::from_timestamp(1_795_190_430, 0).unwrap(),
    }
}

#[test]
fn a_signed_checkout_becomes_a_cart() {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/checkout_updated.json"
    ))
    .unwrap();
    let src = source();
    let req = request("checkout.updated", &body, Some(sign(SECRET, TS, &body)));
    let t = src.translate(verify(&src, &req).unwrap()).unwrap();
    assert_eq!(t.delivery_ids, ["d-1"]);
    let EventKind::CheckoutStarted(cart) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!(cart.key, "90210");
    assert_eq!(cart.total.minor, 3750);
    assert_eq!(cart.items[0].line_price.minor, 3750);
    assert_eq!(
        cart.contact.as_ref().unwrap().email.as_deref(),
        Some("ann@example.com")
    );
}

#[test]
fn forged_and_unused_deliveries() {
    let src = source();
    let body = br#"{"id": 1}"#;
    let forged = request("checkout.updated", body, Some(sign("wrong", TS, body)));
    assert_eq!(src.verify(&forged), Err(VerifyError::Mismatch));
    let unsigned = request("checkout.updated", body, None);
    assert!(matches!(
        src.verify(&unsigned),
        Err(VerifyError::MissingHeader(_))
    ));
    let unused = request("product.updated", body, Some(sign(SECRET, TS, body)));
    let t = src.translate(verify(&src, &unused).unwrap()).unwrap();
    assert!(t.ignored.is_some());
}

#[test]
fn the_registry_sees_a_source_with_checked_settings() {
    let entry = &Entry::<Template>::NEW;
    assert_eq!((entry.kind(), entry.role()), ("template", Role::Source));
    let ok = entry
        .configure(serde_json::json!({ "secret": "s" }), "source.acme")
        .unwrap();
    assert!(ok.source().is_some());
    let err = entry
        .configure(
            serde_json::json!({ "secret": " ", "max_age": "0s" }),
            "source.acme",
        )
        .unwrap_err();
    let paths: Vec<&str> = err.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["source.acme.secret", "source.acme.max_age"]);
}
