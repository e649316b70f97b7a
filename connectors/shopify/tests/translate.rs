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

fn checkout_started(t: &Translation) -> &cartback_core::CartSnapshot {
    match &t.events[0].kind {
        EventKind::CheckoutStarted(s) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn orders_use_the_shoppers_currency_when_every_amount_has_it() {
    let body = br#"{"id": "9007199254740993", "currency": "USD", "presentment_currency": "EUR",
        "total_price": "54.00", "created_at": "2026-11-20T10:30:00Z",
        "total_price_set": {"shop_money": {"amount": "54.00", "currency_code": "USD"},
                            "presentment_money": {"amount": "50.00", "currency_code": "EUR"}},
        "line_items": [{"title": "Mug", "quantity": 2, "price": "27.00",
            "price_set": {"shop_money": {"amount": "27.00", "currency_code": "USD"},
                          "presentment_money": {"amount": "25.00", "currency_code": "EUR"}}}]}"#;
    let t = translate("orders/paid", body, &[]).unwrap();
    let EventKind::OrderPlaced(o) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!(o.order_id, "9007199254740993");
    assert_eq!((o.total.minor, o.total.currency.code()), (5000, "EUR"));
    assert_eq!(o.items[0].unit_price.minor, 2500);
    assert_eq!(o.items[0].line_price.minor, 5000);

    // A line without the shopper's amount: fall back to the shop's currency throughout.
    let body = br#"{"id": 1, "currency": "USD", "presentment_currency": "EUR",
        "total_price": "54.00", "created_at": "2026-11-20T10:30:00Z",
        "total_price_set": {"presentment_money": {"amount": "50.00", "currency_code": "EUR"}},
        "line_items": [{"title": "Mug", "quantity": 2, "price": "27.00"}]}"#;
    let t = translate("orders/paid", body, &[]).unwrap();
    let EventKind::OrderPlaced(o) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!((o.total.minor, o.total.currency.code()), (5400, "USD"));
    assert_eq!(o.items[0].line_price.minor, 5400);
    assert!(!o.test);
}

#[test]
fn carts_without_any_currency() {
    let empty =
        br#"{"id": "c2", "token": "c2", "line_items": [], "updated_at": "2026-11-20T15:01:02Z"}"#;
    let t = translate("carts/create", empty, &[]).unwrap();
    assert!(t.events.is_empty());
    assert_eq!(t.ignored.as_deref(), Some("empty cart without a currency"));
    assert_eq!(t.delivery_ids.len(), 2, "still deduplicated");
    let bare = br#"{"token": "c2", "updated_at": "2026-11-20T15:01:02Z",
        "line_items": [{"title": "Mug", "quantity": 1, "price": "3.00"}]}"#;
    let err = translate("carts/update", bare, &[]).unwrap_err();
    assert!(
        matches!(&err, TranslateError::Schema { reason, .. } if reason.contains("currency")),
        "{err}"
    );
}

#[test]
fn checkout_consent_phone_and_region_rules() {
    // A consent object on the checkout itself wins; GraphQL-style upper-case states are read.
    let body = br#"{"token": "t1", "updated_at": "2026-11-20T10:00:00Z", "total_price": "1.00",
        "currency": "EUR", "email": "a@b.fr", "buyer_accepts_marketing": true,
        "email_marketing_consent": {"state": "UNSUBSCRIBED"},
        "buyer_accepts_sms_marketing": false, "phone": "06 12 34 56 78",
        "shipping_address": {"country_code": "FR"}}"#;
    let t = translate("checkouts/update", body, &[]).unwrap();
    let c = checkout_started(&t).contact.clone().unwrap();
    assert_eq!(c.email_consent, Consent::Unsubscribed);
    assert_eq!(c.sms_consent, Consent::NotSubscribed);
    assert_eq!(
        c.phone.as_deref(),
        Some("+33612345678"),
        "shipping country read"
    );

    // An unreadable phone is dropped, not an error; an invalid email likewise.
    let body = br#"{"token": "t2", "updated_at": "2026-11-20T10:00:00Z", "total_price": "1.00",
        "currency": "EUR", "email": "not-an-email", "phone": "call me maybe",
        "customer": {"id": "77"}}"#;
    let t = translate("checkouts/update", body, &[]).unwrap();
    let c = checkout_started(&t).contact.clone().unwrap();
    assert_eq!((c.email, c.phone), (None, None));
    assert_eq!(c.external_id.as_deref(), Some("77"));
    assert_eq!(c.email_consent, Consent::Unknown);

    // `default_phone_region` wins over the address country.
    let mut s = settings();
    s.default_phone_region = Some("GB".into());
    let src = ShopifySource::new(s);
    let body = br#"{"token": "t3", "updated_at": "2026-11-20T10:00:00Z", "total_price": "1.00",
        "currency": "GBP", "phone": "020 7946 0958", "billing_address": {"country_code": "US"}}"#;
    let req = request("checkouts/create", body, &[]);
    let t = src.translate(verify(&src, &req).unwrap()).unwrap();
    let c = checkout_started(&t).contact.clone().unwrap();
    assert_eq!(c.phone.as_deref(), Some("+442079460958"));
}

#[test]
fn unprefixed_headers_and_triggered_at() {
    let body = fixture("checkouts_create.json");
    let t = translate(
        "",
        &body,
        &[
            ("x-shopify-topic", ""),
            ("x-shopify-webhook-id", ""),
            ("x-shopify-event-id", ""),
            ("x-shopify-triggered-at", ""),
            ("shopify-topic", "checkouts/create"),
            ("shopify-event-id", "evt-1"),
            ("shopify-triggered-at", "2026-11-20T15:59:00Z"),
        ],
    )
    .unwrap();
    assert_eq!(t.delivery_ids, vec!["event:evt-1"]);
    assert_eq!(t.events[0].event_id, "checkouts/create:evt-1");
    assert_eq!(
        t.events[0].occurred_at.to_rfc3339(),
        "2026-11-20T15:59:00+00:00"
    );
}

#[test]
fn schema_errors_name_the_problem() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "checkouts/create",
            br#"{"token":"t","total_price":"1.00","currency":"USD"}"#,
            "updated_at",
        ),
        (
            "checkouts/create",
            br#"{"token":"t","updated_at":"2026-11-20T10:00:00Z","total_price":"1.00","currency":"USD",
                "line_items":[{"quantity":1,"price":"1.00"}]}"#,
            "title",
        ),
        (
            "checkouts/create",
            br#"{"token":"t","updated_at":"2026-11-20T10:00:00Z","total_price":"1.00","currency":"USD",
                "line_items":[{"title":"x","quantity":1,"price":"one dollar"}]}"#,
            "line_items[0].price",
        ),
        (
            "checkouts/create",
            br#"{"id": 1.5, "token":"t","updated_at":"2026-11-20T10:00:00Z","total_price":"1.00","currency":"USD"}"#,
            "integer or string id",
        ),
        (
            "checkouts/create",
            br#"{"token":"t","updated_at":"2026-11-20T10:00:00Z","total_price":"1.00","currency":"DOLLARS"}"#,
            "presentment_currency",
        ),
        (
            "orders/create",
            br#"{"id": 5, "total_price": "1.00", "currency": "USD"}"#,
            "processed_at",
        ),
        (
            "customers/redact",
            br#"{"shop_id": 1, "shop_domain": "test-shop.myshopify.com", "customer": {},
                "orders_to_redact": []}"#,
            "customer has no id",
        ),
        ("customers/redact", br#"{"customer": {}}"#, "shop_id"),
        ("customers/update", br#"{"email": "a@b.co"}"#, "customer has no id"),
    ];
    for (topic, body, needle) in cases {
        match translate(topic, body, &[]) {
            Err(TranslateError::Schema { reason, .. }) => {
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
                assert!(!reason.contains('\n'), "one line: {reason:?}");
            }
            other => panic!("{topic} {needle}: {other:?}"),
        }
    }
    assert!(matches!(
        translate("customers/data_request", b"<xml/>", &[]),
        Err(TranslateError::Json(_))
    ));
    assert!(matches!(
        translate("shop/redact", b"", &[]),
        Err(TranslateError::Json(_))
    ));
}

/// Odd bodies on every topic (truncated and generated ones: `tests/conformance.rs`).
#[test]
fn never_panics_on_odd_bodies() {
    let topics = [
        "checkouts/create",
        "carts/update",
        "orders/create",
        "customers/update",
        "customers/redact",
        "shop/redact",
        "customers/data_request",
    ];
    let odd: &[&[u8]] = &[
        b"null",
        b"[]",
        b"\"text\"",
        b"18446744073709551616",
        br#"{"line_items": "x"}"#,
        br#"{"token": "", "updated_at": "", "total_price": "", "currency": ""}"#,
        br#"{"token": "t", "updated_at": "2026-11-20T10:00:00Z", "total_price": "99999999999999999999", "currency": "USD"}"#,
        br#"{"token": "t", "updated_at": "2026-11-20T10:00:00Z", "total_price": "1", "currency": "USD",
            "line_items": [{"title": "x", "quantity": 4294967295, "price": "92233720368547758.07"}]}"#,
        "{\"token\": \"\u{1F600}\", \"email\": \"\u{0}@\u{0}\"}".as_bytes(),
    ];
    for topic in topics {
        for body in odd {
            let _ = translate(topic, body, &[]);
        }
    }
}
