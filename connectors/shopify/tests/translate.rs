//! Translation of each topic, compared with reviewed golden files.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, Consent, EventKind, Source, TranslateError, Translation};
use cartback_shopify::ShopifySource;
use common::{fixture, request, settings};

fn translate(
    topic: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Result<Translation, TranslateError> {
    let src = ShopifySource::new(settings());
    let req = request(topic, body, headers);
    let verified = verify(&src, &req).unwrap();
    src.translate(verified)
}

fn golden(name: &str, topic: &str) -> Translation {
    let t = translate(topic, &fixture(&format!("{name}.json")), &[]).unwrap();
    let actual = serde_json::to_string_pretty(&t.events).unwrap() + "\n";
    let path = format!(
        "{}/tests/fixtures/{name}.expected.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {path}; run with UPDATE_GOLDEN=1 and review"));
    assert_eq!(actual, expected, "{name} differs from its golden file");
    t
}

#[test]
fn checkout_create() {
    let t = golden("checkouts_create", "checkouts/create");
    assert_eq!(
        t.delivery_ids,
        vec![
            "webhook:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            "event:98880550-7158-44d4-b7cd-2c97c8a091b5"
        ]
    );
    let EventKind::CheckoutStarted(snap) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!(
        snap.platform_id.as_deref(),
        Some("35283839852752431"),
        "ids above 2^53 are exact"
    );
    assert_eq!(
        snap.key,
        "Z2NwLXVzLWVhc3QxOjAxSjlYNUE2QjdDOEQ5RTBGMUcySDNKNEs1"
    );
    assert_eq!(snap.items.len(), 3);
    assert_eq!(snap.total.minor, 6847);
    assert_eq!(
        snap.items[2].line_price.minor, 597,
        "3 x 1.99 without line_price"
    );
    let c = snap.contact.as_ref().unwrap();
    assert_eq!(c.phone.as_deref(), Some("+14158675309"));
    assert_eq!(
        c.email_consent,
        Consent::Subscribed,
        "the consent object wins over buyer_accepts_marketing"
    );
    assert_eq!(c.sms_consent, Consent::Subscribed);
    assert_eq!(c.external_id.as_deref(), Some("6987654321012"));
}

#[test]
fn checkout_update_completed() {
    let t = golden("checkouts_update", "checkouts/update");
    let EventKind::CheckoutStarted(snap) = &t.events[0].kind else {
        panic!()
    };
    assert!(snap.completed_at.is_some());
    assert_eq!(
        snap.contact.as_ref().unwrap().phone.as_deref(),
        Some("+442079460958")
    );
    assert_eq!(
        snap.contact.as_ref().unwrap().email_consent,
        Consent::Subscribed
    );
}

#[test]
fn checkout_in_yen_has_no_minor_unit() {
    let t = golden("checkouts_create_jpy", "checkouts/create");
    let EventKind::CheckoutStarted(snap) = &t.events[0].kind else {
        panic!()
    };
    assert_eq!(snap.total.minor, 3980);
    assert_eq!(snap.items[1].unit_price.minor, 980);
    assert_eq!(
        snap.key, "jp-token-1",
        "an empty cart_token falls back to the checkout token"
    );
    assert_eq!(
        snap.contact.as_ref().unwrap().phone.as_deref(),
        Some("+819012345678")
    );
}

#[test]
fn cart_update() {
    let t = golden("carts_update", "carts/update");
    let EventKind::CartUpdated(snap) = &t.events[0].kind else {
        panic!()
    };
    assert!(snap.contact.is_none());
    assert_eq!(snap.total.minor, 2500);
    assert_eq!(snap.total.currency.code(), "EUR");
}

#[test]
fn order_create() {
    let t = golden("orders_create", "orders/create");
    let EventKind::OrderPlaced(o) = &t.events[0].kind else {
        panic!()
    };
    assert_eq!(o.order_id, "820982911946154508");
    assert_eq!(
        o.checkout_token.as_deref(),
        Some("4d8e3c1b2a9f4e6d8c7b5a4f3e2d1c0b")
    );
    assert_eq!(o.total.minor, 6847);
}

#[test]
fn customer_update_and_privacy_topics() {
    let t = golden("customers_update", "customers/update");
    let EventKind::ContactUpdated(c) = &t.events[0].kind else {
        panic!()
    };
    assert_eq!(c.email_consent, Consent::Unsubscribed);
    assert_eq!(c.sms_consent, Consent::NotSubscribed);
    let t = golden("customers_redact", "customers/redact");
    let EventKind::Erasure(cartback_core::Erasure::Contact {
        email,
        phone,
        external_id,
        order_ids,
    }) = &t.events[0].kind
    else {
        panic!()
    };
    assert_eq!(email.as_deref(), Some("Ann.Lee@Example.com"));
    assert_eq!(phone, &None, "no country to read the phone with");
    assert_eq!(external_id.as_deref(), Some("6987654321012"));
    assert_eq!(order_ids.len(), 3);
    let t = golden("shop_redact", "shop/redact");
    assert!(matches!(
        t.events[0].kind,
        EventKind::Erasure(cartback_core::Erasure::Source)
    ));
    let t = translate(
        "customers/data_request",
        &fixture("customers_data_request.json"),
        &[],
    )
    .unwrap();
    assert!(t.ignored.is_some() && t.events.is_empty());
}

#[test]
fn event_ids_are_stable_across_redeliveries() {
    let body = fixture("checkouts_create.json");
    let a = translate(
        "checkouts/create",
        &body,
        &[("x-shopify-webhook-id", "first-attempt")],
    )
    .unwrap();
    let b = translate(
        "checkouts/create",
        &body,
        &[("x-shopify-webhook-id", "second-attempt")],
    )
    .unwrap();
    assert_eq!(a.events[0].event_id, b.events[0].event_id);
    assert_eq!(a.events[0].occurred_at, b.events[0].occurred_at);
}

#[test]
fn bad_payloads_are_clear_errors() {
    assert!(matches!(
        translate("checkouts/create", b"{not json", &[]),
        Err(TranslateError::Json(_))
    ));
    let no_token =
        br#"{"updated_at":"2026-11-20T10:00:00Z","total_price":"1.00","currency":"USD"}"#;
    let err = translate("checkouts/create", no_token, &[]).unwrap_err();
    assert!(
        matches!(&err, TranslateError::Schema { reason, .. } if reason.contains("token")),
        "{err}"
    );
    let bad_price = br#"{"token":"t","updated_at":"2026-11-20T10:00:00Z","total_price":"1.005","currency":"USD"}"#;
    assert!(matches!(
        translate("checkouts/create", bad_price, &[]),
        Err(TranslateError::Schema { .. })
    ));
    let bad_time =
        br#"{"token":"t","updated_at":"last tuesday","total_price":"1.00","currency":"USD"}"#;
    assert!(matches!(
        translate("checkouts/create", bad_time, &[]),
        Err(TranslateError::Schema { .. })
    ));
    let no_currency = br#"{"token":"t","updated_at":"2026-11-20T10:00:00Z","total_price":"1.00"}"#;
    assert!(matches!(
        translate("checkouts/create", no_currency, &[]),
        Err(TranslateError::Schema { .. })
    ));
    let array = br#"[1,2,3]"#;
    assert!(matches!(
        translate("orders/create", array, &[]),
        Err(TranslateError::Schema { .. })
    ));
}

#[test]
fn unknown_topics_are_ignored_and_headers_required() {
    let t = translate("products/update", b"not even json", &[]).unwrap();
    assert_eq!(t.ignored.as_deref(), Some("topic not used"));
    assert!(matches!(
        translate("", b"{}", &[("x-shopify-topic", "")]),
        Err(TranslateError::MissingHeader(_))
    ));
    let body = fixture("checkouts_create.json");
    let none = translate(
        "checkouts/create",
        &body,
        &[("x-shopify-webhook-id", ""), ("x-shopify-event-id", "")],
    );
    assert!(matches!(none, Err(TranslateError::MissingHeader(_))));
    let only_webhook = translate("checkouts/create", &body, &[("x-shopify-event-id", "")]).unwrap();
    assert_eq!(
        only_webhook.delivery_ids,
        vec!["webhook:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"]
    );
}
