//! Translation of Klaviyo webhooks, compared with reviewed golden files.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{
    verify, Consent, EventKind, InboundRequest, OptOutChannel, Source, TranslateError, Translation,
};
use cartback_klaviyo::KlaviyoSource;
use common::{fixture, flow, now, settings, signed};

fn run(req: &InboundRequest) -> Result<Translation, TranslateError> {
    let src = KlaviyoSource::new(settings());
    let verified = verify(&src, req).unwrap();
    src.translate(verified)
}

fn golden(name: &str, req: InboundRequest) -> Translation {
    let t = run(&req).unwrap();
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
fn system_webhook_batch() {
    let t = golden("system_batch", signed(&fixture("system_batch.json"), &[]));
    assert_eq!(t.topic, "system");
    assert!(t.delivery_ids.is_empty());
    assert_eq!(t.events.len(), 3, "email_delivered is skipped");
    let e = &t.events[0];
    assert_eq!(e.event_id, "3c4f7a1e-0b2d-11f0-8000-8c1645b1a001");
    assert_eq!(e.topic, "event:klaviyo.unsubscribed_from_email_marketing");
    assert_eq!(e.occurred_at.to_rfc3339(), "2026-11-20T15:50:00+00:00");
    let EventKind::OptOut(o) = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(
        (o.channel, o.address.as_str(), o.resubscribe),
        (OptOutChannel::Email, "Ann.Lee@Example.com", false)
    );
    let EventKind::OptOut(o) = &t.events[1].kind else {
        panic!()
    };
    assert_eq!(
        (o.channel, o.address.as_str(), o.resubscribe),
        (OptOutChannel::Sms, "+442079460958", true),
        "the phone from event_properties, normalized"
    );
    let EventKind::ContactUpdated(c) = &t.events[2].kind else {
        panic!()
    };
    assert_eq!(c.email.as_deref(), Some("bo.chen@example.org"));
    assert_eq!(
        (c.email_consent, c.sms_consent),
        (Consent::Subscribed, Consent::Unsubscribed)
    );
    assert_eq!(c.time_zone.as_deref(), Some("Europe/Paris"));
    assert_eq!(c.external_id, None);
    assert_eq!(
        t.events[2].occurred_at.to_rfc3339(),
        "2026-11-20T15:53:00+00:00"
    );
}

#[test]
fn flow_webhook() {
    let t = golden("flow_webhook", flow(&fixture("flow_webhook.json"), &[]));
    assert_eq!(t.topic, "flow");
    assert_eq!(t.events.len(), 2);
    let EventKind::ContactUpdated(c) = &t.events[0].kind else {
        panic!()
    };
    assert_eq!(
        (c.email_consent, c.sms_consent),
        (Consent::Unsubscribed, Consent::Subscribed)
    );
    assert_eq!(t.events[0].event_id, "flow-01JD80A1-ann-unsub");
    assert_eq!(
        t.events[1].event_id,
        "flow-01JD80A1-ann-unsub:email_opt_out"
    );
    let EventKind::OptOut(o) = &t.events[1].kind else {
        panic!()
    };
    assert_eq!(
        (o.channel, o.address.as_str()),
        (OptOutChannel::Email, "Ann.Lee@Example.com")
    );
}

#[test]
fn an_added_to_cart_flow_changes_the_cart() {
    let t = golden(
        "flow_added_to_cart",
        flow(&fixture("flow_added_to_cart.json"), &[]),
    );
    assert_eq!(t.events.len(), 2);
    assert_eq!(t.events[1].event_id, "01JD81ATC-01JDPROFILE:cart");
    let EventKind::CartChanged(c) = &t.events[1].kind else {
        panic!("{t:?}")
    };
    assert_eq!(c.key, "klaviyo:kim@example.com");
    assert_eq!(c.op, cartback_core::LineOp::Add);
    assert_eq!((c.line.quantity, c.line.line_price.minor), (2, 5000));
    assert_eq!(c.at.to_rfc3339(), "2026-11-20T16:02:11+00:00");
    // A removal without a quantity removes the line; a product nobody names is refused.
    let t = run(&flow(
        br#"{"event_id": "r1", "email": "kim@example.com", "metric": "Removed from Cart", "sku": "MUG-BLUE"}"#,
        &[],
    ))
    .unwrap();
    let EventKind::CartChanged(c) = &t.events[1].kind else {
        panic!("{t:?}")
    };
    assert_eq!((c.op, c.line.quantity), (cartback_core::LineOp::Remove, 0));
    let err = run(&flow(
        br#"{"event_id": "r2", "email": "kim@example.com", "metric": "Added to Cart", "price": "5"}"#,
        &[],
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("product_id, sku or product_name"), "{err}");
    // Any other metric is a profile update only.
    let t = run(&flow(
        br#"{"event_id": "r3", "email": "kim@example.com", "metric": "Viewed Product", "sku": "X"}"#,
        &[],
    ))
    .unwrap();
    assert_eq!(t.events.len(), 1);
}

#[test]
fn flow_webhook_minimal_and_odd_values() {
    let t = run(&flow(br#"{"event_id": 42, "email": "a@b.io", "sms_consent": "UNSUBSCRIBED", "occurred_at": "1795190000"}"#, &[])).unwrap();
    assert_eq!(t.events.len(), 1, "no phone: no SMS opt-out to record");
    assert_eq!(t.events[0].event_id, "42");
    assert_eq!(
        t.events[0].occurred_at.to_rfc3339(),
        "2026-11-20T15:53:20+00:00"
    );
    let EventKind::ContactUpdated(c) = &t.events[0].kind else {
        panic!()
    };
    assert_eq!(
        (c.email_consent, c.sms_consent),
        (Consent::Unknown, Consent::Unsubscribed)
    );
    // Nobody identified: ignored. Unreadable time: receipt time.
    let t = run(&flow(
        br#"{"event_id": "e", "email": "{{ person.email }}", "occurred_at": "later"}"#,
        &[],
    ))
    .unwrap();
    assert!(t.ignored.is_some());
    let t = run(&flow(
        br#"{"event_id": "e", "phone_number": "+14158675309", "occurred_at": "later"}"#,
        &[],
    ))
    .unwrap();
    assert_eq!(t.events[0].occurred_at, now());
}

#[test]
fn only_unknown_topics_is_ignored() {
    let body = br#"{"data":[{"external_id":"x1","topic":"event:klaviyo.email_opened","payload":{}},
        {"external_id":"x2","topic":"event:klaviyo.unsubscribed_from_sms_marketing","payload":{}}],"meta":{}}"#;
    let t = run(&signed(body, &[])).unwrap();
    assert!(
        t.events.is_empty(),
        "an opt-out without an address is skipped"
    );
    assert_eq!(
        t.ignored.as_deref(),
        Some("no consent or profile change the hub uses")
    );
}

#[test]
fn webhook_id_must_match_the_header() {
    let body = br#"{"data":[],"meta":{"klaviyo_webhook_id":"someone-else"}}"#;
    assert!(matches!(
        run(&signed(body, &[])),
        Err(TranslateError::Invalid(_))
    ));
    // Without the header there is nothing to compare.
    run(&signed(body, &[("klaviyo-webhook-id", "")])).unwrap();
}

#[test]
fn bad_payloads_are_clear_errors() {
    assert!(matches!(
        run(&flow(b"{nope", &[])),
        Err(TranslateError::Json(_))
    ));
    for body in [
        &b"[]"[..],
        b"42",
        br#"{"hello":1}"#,
        br#"{"data":{}}"#,
        br#"{"data":[1]}"#,
        br#"{"event_id":""}"#,
        br#"{"event_id":null}"#,
    ] {
        assert!(
            matches!(run(&flow(body, &[])), Err(TranslateError::Schema { .. })),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let no_id = br#"{"data":[{"topic":"event:klaviyo.subscribed_to_email_marketing","payload":{"email":"a@b.io"}}]}"#;
    match run(&flow(no_id, &[])) {
        Err(TranslateError::Schema { reason, .. }) => {
            assert!(reason.contains("data[0].external_id"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
