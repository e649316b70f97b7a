//! Translation of each topic, compared with reviewed golden files.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, Consent, EventKind, Source, TranslateError, Translation};
use cartback_woocommerce::{WooSettings, WooSource};
use common::{fixture, request, settings};

fn translate_with(
    settings: WooSettings,
    topic: &str,
    body: &[u8],
) -> Result<Translation, TranslateError> {
    let src = WooSource::new(settings);
    let req = request(topic, body, &[]);
    let verified = verify(&src, &req).unwrap();
    src.translate(verified)
}

fn translate(topic: &str, body: &[u8]) -> Result<Translation, TranslateError> {
    translate_with(settings(), topic, body)
}

fn golden(name: &str, topic: &str) -> Translation {
    let t = translate(topic, &fixture(&format!("{name}.json"))).unwrap();
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

fn snapshot(t: &Translation) -> &cartback_core::CartSnapshot {
    match &t.events[0].kind {
        EventKind::CheckoutStarted(s) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn pending_order_is_a_checkout() {
    let t = golden("order_pending", "order.created");
    assert_eq!(t.delivery_ids, vec!["order:727:2026-11-20T15:14:02"]);
    assert_eq!(t.events[0].event_id, "order:727:2026-11-20T15:14:02");
    assert_eq!(
        t.events[0].occurred_at.to_rfc3339(),
        "2026-11-20T15:14:02+00:00"
    );
    let s = snapshot(&t);
    assert_eq!(s.key, "order:727");
    assert_eq!(s.checkout_token.as_deref(), Some("wc_order_8yHn4qLmZc2Xe"));
    assert_eq!(
        s.recovery_url.as_deref(),
        Some("https://shop.example/checkout/order-pay/727/?pay_for_order=true&key=wc_order_8yHn4qLmZc2Xe")
    );
    assert_eq!((s.total.minor, s.total.currency.code()), (5142, "USD"));
    assert_eq!(
        s.items[0].unit_price.minor, 1250,
        "numeric price read exactly"
    );
    assert_eq!(
        s.items[1].line_price.minor, 1800,
        "line total after the coupon"
    );
    assert_eq!(s.items[1].variant_id, None, "variation_id 0 is none");
    assert_eq!(s.subtotal.map(|m| m.minor), Some(4300));
    let c = s.contact.as_ref().unwrap();
    assert_eq!(c.email.as_deref(), Some("Ann.Lee@Example.com"));
    assert_eq!(
        c.phone.as_deref(),
        Some("+14158675309"),
        "billing country read"
    );
    assert_eq!(c.external_id, None, "guest (customer_id 0)");
    assert_eq!(c.email_consent, Consent::Unknown);
}

#[test]
fn processing_order_is_placed_and_converts_the_same_cart() {
    let t = golden("order_processing", "order.updated");
    let EventKind::OrderPlaced(o) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!(o.order_id, "727");
    assert_eq!(o.checkout_token.as_deref(), Some("wc_order_8yHn4qLmZc2Xe"));
    assert_eq!(o.placed_at.to_rfc3339(), "2026-11-20T15:15:38+00:00");
    assert_eq!(o.total.minor, 5142);
    assert_eq!(
        o.contact.as_ref().unwrap().external_id.as_deref(),
        Some("42")
    );
    assert_eq!(t.events[0].event_id, "order:727:2026-11-20T15:15:40");
    // The pending state of the same order carries the same checkout token.
    let pending = translate("order.created", &fixture("order_pending.json")).unwrap();
    assert_eq!(snapshot(&pending).checkout_token, o.checkout_token);
}

#[test]
fn checkout_draft_from_block_checkout() {
    let t = golden("order_checkout_draft", "order.updated");
    let s = snapshot(&t);
    assert_eq!(s.key, "order:731");
    assert_eq!((s.total.minor, s.total.currency.code()), (1500, "JPY"));
    let c = s.contact.as_ref().unwrap();
    assert_eq!(c.phone.as_deref(), Some("+819012345678"));
    assert_eq!(
        (c.first_name.as_deref(), c.last_name.as_deref()),
        (None, None)
    );
}

#[test]
fn cancelled_order_is_ignored_but_deduplicated() {
    let t = translate("order.updated", &fixture("order_cancelled.json")).unwrap();
    assert!(t.events.is_empty());
    assert_eq!(
        t.ignored.as_deref(),
        Some("order status \"cancelled\" not used")
    );
    assert_eq!(t.delivery_ids, vec!["order:727:2026-11-21T15:12:31"]);
}

#[test]
fn custom_cart_abandoned_topic() {
    let t = golden("cart_abandoned", "action.woocommerce_cart_abandoned");
    assert_eq!(
        t.events[0].event_id,
        "cart:b7f3c2e1a9d84c5fa0e6d2b1c8f47a93:2026-11-20T15:20:11"
    );
    let s = snapshot(&t);
    assert_eq!(s.key, "cart:b7f3c2e1a9d84c5fa0e6d2b1c8f47a93");
    assert_eq!((s.total.minor, s.total.currency.code()), (2600, "GBP"));
    assert_eq!(s.items[1].unit_price.minor, 700);
    let c = s.contact.as_ref().unwrap();
    assert_eq!(c.phone.as_deref(), Some("+447911123456"));
    // The same cart wrapped the way core's `action.<hook>` topics deliver it, and the short topic.
    let cart: serde_json::Value = serde_json::from_slice(&fixture("cart_abandoned.json")).unwrap();
    let wrapped = serde_json::json!({"action": "woocommerce_cart_abandoned", "arg": cart});
    let w = translate(
        "action.woocommerce_cart_abandoned",
        wrapped.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(w.events[0].kind, t.events[0].kind);
    let short = translate("cart_abandoned", &fixture("cart_abandoned.json")).unwrap();
    assert_eq!(short.events[0].kind, t.events[0].kind);
}

#[test]
fn without_store_url_the_stores_payment_url_is_used() {
    let mut s = settings();
    s.store_url = None;
    let t = translate_with(s, "order.created", &fixture("order_pending.json")).unwrap();
    assert_eq!(
        snapshot(&t).recovery_url.as_deref(),
        Some("https://shop.example/checkout/order-pay/727/?pay_for_order=true&key=wc_order_8yHn4qLmZc2Xe")
    );
}

#[test]
fn other_topics_are_ignored_and_topic_required() {
    for topic in [
        "product.updated",
        "order.deleted",
        "customer.created",
        "action.woocommerce_add_to_cart",
    ] {
        let t = translate(topic, b"not json").unwrap();
        assert_eq!(t.ignored.as_deref(), Some("topic not used"), "{topic}");
    }
    let src = WooSource::new(settings());
    let req = request("order.created", b"{}", &[("x-wc-webhook-topic", "")]);
    assert!(matches!(
        src.translate(verify(&src, &req).unwrap()),
        Err(TranslateError::MissingHeader(_))
    ));
}

#[test]
fn bad_payloads_are_clear_errors() {
    assert!(matches!(
        translate("order.created", b"{not json"),
        Err(TranslateError::Json(_))
    ));
    for body in [
        &br#"{"status": "pending", "currency": "USD", "total": "1.00"}"#[..],
        br#"{"id": 1, "currency": "USD", "total": "1.00", "date_modified_gmt": "2026-11-20T15:00:00"}"#,
        br#"{"id": 1, "status": "pending", "currency": "USD", "total": "1.00"}"#,
        br#"{"id": 1, "status": "pending", "currency": "USD", "total": "x", "date_modified_gmt": "2026-11-20T15:00:00"}"#,
        br#"{"id": 1, "status": "pending", "currency": "US", "total": "1", "date_modified_gmt": "2026-11-20T15:00:00"}"#,
        br#"{"id": 1, "status": "pending", "currency": "USD", "total": "1", "date_modified_gmt": "soon"}"#,
        br#"[1, 2]"#,
    ] {
        let r = translate("order.updated", body);
        assert!(
            matches!(r, Err(TranslateError::Schema { .. })),
            "{}: {r:?}",
            String::from_utf8_lossy(body)
        );
    }
    for body in [
        &br#"{"email": "a@b.c", "currency": "USD", "updated_at": "2026-11-20T15:00:00Z"}"#[..],
        br#"{"cart_id": "c1", "currency": "USD"}"#,
        br#"{"cart_id": "c1", "currency": "USD", "updated_at": "2026-11-20T15:00:00Z", "items": [{"name": "x", "quantity": 1}]}"#,
    ] {
        assert!(matches!(
            translate("cart_abandoned", body),
            Err(TranslateError::Schema { .. })
        ));
    }
}

#[test]
fn computed_unit_prices_are_rounded_not_rejected() {
    let body = br#"{"id": 9, "status": "failed", "currency": "EUR", "total": "25.00",
        "order_key": "wc_order_k", "date_modified_gmt": "2026-11-20T15:00:00",
        "billing": {"email": "not-an-email", "phone": "call me"},
        "line_items": [{"name": "Tea", "quantity": 3, "price": 8.333333, "total": "25.00"},
                       {"name": "Free gift", "quantity": 2, "total": "0.00"}]}"#;
    let t = translate("order.updated", body).unwrap();
    let s = snapshot(&t);
    assert_eq!(s.items[0].unit_price.minor, 833);
    assert_eq!(s.items[0].line_price.minor, 2500);
    assert_eq!(s.items[1].unit_price.minor, 0);
    assert_eq!(s.contact, None, "nothing identifies the shopper");
}
