//! Translation of Segment messages, compared with reviewed golden files.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, EventKind, Source, TranslateError, Translation};
use cartback_segment::verify::sign;
use cartback_segment::SegmentSource;
use common::{api_request, fixture, now, request, settings, SHARED_SECRET};

fn translate_at(path: &str, body: &[u8]) -> Result<Translation, TranslateError> {
    let src = SegmentSource::new(settings());
    let req = api_request(path, body);
    let verified = verify(&src, &req).unwrap();
    src.translate(verified)
}

fn translate(body: &[u8]) -> Result<Translation, TranslateError> {
    translate_at("/v1/batch", body)
}

fn golden(name: &str) -> Translation {
    let t = translate(&fixture(&format!("{name}.json"))).unwrap();
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
fn cart_viewed() {
    let t = golden("cart_viewed");
    assert_eq!(t.topic, "batch");
    assert!(t.delivery_ids.is_empty());
    let EventKind::CartUpdated(snap) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!(
        t.events[0].event_id,
        "ajs-next-1763650931482-5f0b3e1c-8e2a-4d57-9a1b-2c3d4e5f6a7b"
    );
    assert_eq!(snap.key, "cart_8f14e45f");
    assert_eq!(snap.items.len(), 2);
    assert_eq!(snap.items[0].line_price.minor, 5000);
    assert_eq!(snap.items[1].unit_price.minor, 1250);
    assert_eq!((snap.total.minor, snap.currency.code()), (6250, "USD"));
    let c = snap.contact.as_ref().unwrap();
    assert_eq!(
        c.external_id.as_deref(),
        Some("anon:0e3ad4c3-6c1a-4d8b-9a6e-2f1b7c9d0e11"),
        "userId null: the anonymous id stitches the cart"
    );
    assert_eq!(c.email, None);
}

#[test]
fn checkout_started() {
    let t = golden("checkout_started");
    let EventKind::CheckoutStarted(snap) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!(
        snap.key, "anon:0e3ad4c3-6c1a-4d8b-9a6e-2f1b7c9d0e11",
        "no cart_id: the browser's cart"
    );
    assert_eq!(
        snap.checkout_token.as_deref(),
        Some("50314b8e9bcf000000000000")
    );
    assert_eq!((snap.total.minor, snap.currency.code()), (6950, "EUR"));
    assert_eq!(snap.subtotal.unwrap().minor, 6250);
    let c = snap.contact.as_ref().unwrap();
    assert_eq!(c.email.as_deref(), Some("Ann.Lee@Example.com"));
    assert_eq!(c.phone.as_deref(), Some("+14158675309"));
    assert_eq!(c.external_id.as_deref(), Some("user_1042"));
}

#[test]
fn order_completed() {
    let t = golden("order_completed");
    let EventKind::OrderPlaced(o) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!(o.order_id, "50314b8e9bcf000000000000");
    assert_eq!(o.checkout_token.as_deref(), Some("fksdjfsdjfisjf9sdfjsd9f"));
    assert_eq!(
        o.total.minor, 6952,
        "69.52000000000001 is a float artefact, rounded on its text"
    );
    assert_eq!(o.items.len(), 2);
    assert_eq!(
        t.events[0].occurred_at.to_rfc3339(),
        "2026-11-20T15:09:02.771+00:00"
    );
}

#[test]
fn identify_stitches_the_anonymous_contact() {
    let t = golden("identify");
    assert_eq!(t.events.len(), 2);
    let ids: Vec<_> = t.events.iter().map(|e| e.event_id.as_str()).collect();
    let m = "ajs-next-1763651020007-8d2c1b0a-4f3e-4a2b-9c8d-7e6f5a4b3c2d";
    assert_eq!(ids, vec![m.to_string(), format!("{m}:user")]);
    let contacts: Vec<_> = t
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::ContactUpdated(c) => c.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        contacts[0].external_id.as_deref(),
        Some("anon:0e3ad4c3-6c1a-4d8b-9a6e-2f1b7c9d0e11")
    );
    assert_eq!(contacts[1].external_id.as_deref(), Some("user_1042"));
    for c in &contacts {
        assert_eq!(c.email.as_deref(), Some("Ann.Lee@Example.com"));
        assert_eq!(c.phone.as_deref(), Some("+14158675309"));
        assert_eq!(c.last_name.as_deref(), Some("Lee"));
    }
}

#[test]
fn unknown_events_are_ignored() {
    let t = translate(&fixture("unknown_event.json")).unwrap();
    assert!(t.events.is_empty());
    assert!(t.ignored.is_some());
    assert_eq!(t.topic, "batch");
}

#[test]
fn single_products_change_the_cart_and_other_events_are_tracked() {
    let t = golden("product_events");
    let kinds: Vec<&str> = t.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["cart_changed", "cart_changed", "tracked"]);
    let EventKind::CartChanged(add) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    // Keyed like the cart's snapshots; ordered by the event's own time.
    assert_eq!(add.key, "cart_8f14e45f");
    assert_eq!(add.op, cartback_core::LineOp::Add);
    assert_eq!((add.line.quantity, add.line.line_price.minor), (2, 5000));
    assert_eq!(add.at.to_rfc3339(), "2026-11-20T15:01:05.300+00:00");
    let EventKind::CartChanged(remove) = &t.events[1].kind else {
        panic!("{t:?}")
    };
    assert_eq!(remove.key, "anon:0e3ad4c3-6c1a-4d8b-9a6e-2f1b7c9d0e11");
    assert_eq!(remove.op, cartback_core::LineOp::Remove);
    let EventKind::Tracked(wish) = &t.events[2].kind else {
        panic!("{t:?}")
    };
    assert_eq!(wish.name, "Wishlist Product Added");
    assert_eq!(wish.properties["wishlist_id"], "w-1");
    // A product event that names no product is refused with the reason.
    let nameless = br#"{"type":"track","event":"Product Added","messageId":"m1","anonymousId":"a1",
        "properties":{"cart_id":"c1","price":5}}"#;
    let err = translate_at("/v1/track", nameless).unwrap_err().to_string();
    assert!(err.contains("product_id, sku or name"), "{err}");
}

#[test]
fn product_added_with_the_whole_cart_replaces_it() {
    let whole = br#"{"event":"Added Product","messageId":"m2","anonymousId":"a1",
        "properties":{"cart_id":"c1","product_id":"p1","products":[
            {"product_id":"p1","name":"Mug","price":5,"quantity":1},
            {"product_id":"p2","name":"Tea","price":"2.25","quantity":2}]}}"#;
    // A bare /v1/track body: the type comes from the path.
    let t = translate_at("/v1/track", whole).unwrap();
    assert_eq!(t.topic, "Added Product");
    let EventKind::CartUpdated(snap) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!((snap.key.as_str(), snap.total.minor), ("c1", 950));
}

#[test]
fn webhook_destination_arrays() {
    let src = SegmentSource::new(settings());
    let first = br#"{"type":"track","event":"Order Completed","messageId":"w1","userId":"u9","timestamp":"2026-11-20T10:00:00Z","properties":{"order_id":"o9","revenue":"10.00","currency":"GBP"}}"#;
    let body = [&b"["[..], first, br#",{"type":"screen","messageId":"w2"}]"#].concat();
    let req = request(
        "/webhooks/seg",
        &body,
        &[("x-signature", &sign(SHARED_SECRET, first))],
    );
    let t = src.translate(verify(&src, &req).unwrap()).unwrap();
    assert_eq!(t.events.len(), 1);
    let EventKind::OrderPlaced(o) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!((o.total.minor, o.total.currency.code()), (1000, "GBP"));
    assert_eq!(
        o.checkout_token.as_deref(),
        Some("o9"),
        "no checkout_id: the order id"
    );
    assert_eq!(
        o.contact.as_ref().unwrap().external_id.as_deref(),
        Some("u9")
    );
}

#[test]
fn times_fall_back_in_order() {
    let with = |fields: &str| {
        let body = format!(
            r#"{{"batch":[{{"type":"identify","messageId":"m","userId":"u","traits":{{"email":"a@b.io"}}{fields}}}],"sentAt":"2026-11-20T09:00:00Z"}}"#
        );
        translate(body.as_bytes()).unwrap().events[0]
            .occurred_at
            .to_rfc3339()
    };
    assert_eq!(
        with(r#","timestamp":"2026-11-20T06:00:00Z","receivedAt":"2026-11-20T07:00:00Z""#),
        "2026-11-20T06:00:00+00:00"
    );
    assert_eq!(
        with(r#","timestamp":"garbage","receivedAt":"2026-11-20T07:00:00Z""#),
        "2026-11-20T07:00:00+00:00"
    );
    assert_eq!(
        with(r#","sentAt":"2026-11-20T08:00:00Z""#),
        "2026-11-20T08:00:00+00:00"
    );
    assert_eq!(with(""), "2026-11-20T09:00:00+00:00", "the batch's sentAt");
    let single = br#"{"type":"identify","messageId":"m","userId":"u","traits":{"email":"a@b.io"}}"#;
    assert_eq!(
        translate_at("/v1/identify", single).unwrap().events[0].occurred_at,
        now()
    );
}

#[test]
fn identify_edge_cases() {
    // Only a userId: one event, the user.
    let t = translate_at(
        "/v1/identify",
        br#"{"messageId":"m","userId":"u","traits":{"email":"a@b.io"}}"#,
    )
    .unwrap();
    assert_eq!(t.events.len(), 1);
    assert_eq!(t.events[0].event_id, "m");
    // No traits the hub reads: skipped.
    let t = translate_at(
        "/v1/identify",
        br#"{"messageId":"m","userId":"u","traits":{"plan":"pro"}}"#,
    )
    .unwrap();
    assert!(t.ignored.is_some());
    // Unreadable email and phone are dropped; names still update the contact.
    let t = translate_at(
        "/v1/identify",
        br#"{"messageId":"m","anonymousId":"a","traits":{"email":"nope","phone":"call me","first_name":"Bo"}}"#,
    )
    .unwrap();
    let EventKind::ContactUpdated(c) = &t.events[0].kind else {
        panic!()
    };
    assert_eq!((c.email.clone(), c.phone.clone()), (None, None));
    assert_eq!(c.first_name.as_deref(), Some("Bo"));
    assert_eq!(c.external_id.as_deref(), Some("anon:a"));
}

#[test]
fn bad_payloads_are_clear_errors() {
    assert!(matches!(
        translate(b"{not json"),
        Err(TranslateError::Json(_))
    ));
    for body in [
        &b"42"[..],
        b"\"x\"",
        b"null",
        br#"{"batch": 3}"#,
        br#"{"batch": [1]}"#,
    ] {
        assert!(
            matches!(translate(body), Err(TranslateError::Schema { .. })),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let cases: &[(&[u8], &str)] = &[
        (
            br#"{"batch":[{"type":"track","event":"Cart Viewed","anonymousId":"a","properties":{"products":[]}}]}"#,
            "batch[0]: messageId is missing",
        ),
        (
            br#"{"batch":[{},{"type":"track","event":"Order Completed","messageId":"m","properties":{"total":1}}]}"#,
            "batch[1]: properties.order_id is missing",
        ),
        (
            br#"{"batch":[{"type":"track","event":"Order Completed","messageId":"m","properties":{"order_id":"o"}}]}"#,
            "no properties.total",
        ),
        (
            br#"{"batch":[{"type":"track","event":"Cart Viewed","messageId":"m","anonymousId":"a","properties":{"products":[{"price":"one"}]}}]}"#,
            "properties.products[0].price",
        ),
        (
            br#"{"batch":[{"type":"track","event":"Cart Viewed","messageId":"m","anonymousId":"a","properties":{"products":[{"price":1,"quantity":1.5}]}}]}"#,
            "properties.products[0].quantity",
        ),
        (
            br#"{"batch":[{"type":"track","event":"Cart Viewed","messageId":"m","anonymousId":"a","properties":{"products":["x"]}}]}"#,
            "properties.products[0] is not an object",
        ),
        (
            br#"{"batch":[{"type":"track","event":"Cart Viewed","messageId":"m","anonymousId":"a","properties":{"currency":"dollars","products":[]}}]}"#,
            "currency",
        ),
        (
            br#"{"batch":[{"type":"track","event":"Cart Viewed","messageId":"m","properties":{"products":[]}}]}"#,
            "no cart_id",
        ),
    ];
    for (body, needle) in cases {
        match translate(body) {
            Err(TranslateError::Schema { reason, .. }) => {
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}")
            }
            other => panic!("{needle}: {other:?}"),
        }
    }
}
