//! Translation of Event Webhook batches, compared with a reviewed golden file.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{
    verify, EventKind, MessageStatus, OptOut, OptOutChannel, Source, TranslateError, Translation,
};
use cartback_sendgrid::SendGridEvents;
use chrono::Utc;
use common::{fixture, request, settings, unix};

fn translate(body: &[u8]) -> Result<Translation, TranslateError> {
    // Unsigned deliveries explicitly allowed, so translation is tested alone.
    let mut s = settings("http://127.0.0.1:1");
    s.allow_unsigned_events = true;
    let src = SendGridEvents::new(s);
    let req = request(body, &[], Utc::now());
    let verified = verify(&src, &req).unwrap();
    src.translate(verified)
}

fn status(kind: &EventKind) -> MessageStatus {
    match kind {
        EventKind::MessageStatus(u) => u.status,
        other => panic!("{other:?}"),
    }
}

#[test]
fn batch_matches_golden() {
    let t = translate(&fixture("events_batch.json")).unwrap();
    let actual = serde_json::to_string_pretty(&t.events).unwrap() + "\n";
    let path = format!(
        "{}/tests/fixtures/events_batch.expected.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {path}; run with UPDATE_GOLDEN=1 and review"));
    assert_eq!(
        actual, expected,
        "events_batch differs from its golden file"
    );

    assert!(t.delivery_ids.is_empty());
    assert_eq!(t.topic, "event");
    assert_eq!(t.ignored, None);
    // processed is skipped; spamreport gives two events.
    let ids: Vec<&str> = t.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "ZGVsaXZlcmVkLTAtNDc5MDI3OS1sbXFBM012Ug",
            "b3Blbi0xLTQ3OTAyNzktbG1xQTNNdlJ",
            "Y2xpY2stMS00NzkwMjc5LWxtcUEzTXZS",
            "Ym91bmNlLTAtNDc5MDI3OS1sbXFBM012Ug",
            "c3BhbXJlcG9ydC00NzkwMjc5LWxtcUEzTXZS",
            "c3BhbXJlcG9ydC00NzkwMjc5LWxtcUEzTXZS:optout",
            "dW5zdWJzY3JpYmUtNDc5MDI3OS1sbXFBM012Ug",
        ]
    );
    let statuses: Vec<MessageStatus> = t.events[..5].iter().map(|e| status(&e.kind)).collect();
    assert_eq!(
        statuses,
        vec![
            MessageStatus::Delivered,
            MessageStatus::Opened,
            MessageStatus::Clicked,
            MessageStatus::Bounced,
            MessageStatus::Complained,
        ]
    );
    let EventKind::MessageStatus(delivered) = &t.events[0].kind else {
        panic!()
    };
    assert_eq!(
        delivered.message_id.as_deref(),
        Some("0193a6f0-7c1e-7b7a-9f00-000000000001")
    );
    assert_eq!(
        delivered.provider_message_id.as_deref(),
        Some("Hk2Yk7pUQSeXrDzAq0e6cA"),
        "sg_message_id is cut at its first '.'"
    );
    assert_eq!(t.events[0].occurred_at, unix(1_763_654_403));
    assert_eq!(t.events[0].topic, "delivered");
    assert_eq!(t.events[0].source_id, "sendgrid");
    let EventKind::MessageStatus(click) = &t.events[2].kind else {
        panic!()
    };
    assert_eq!(
        click.url.as_deref(),
        Some("https://hub.example.com/r/cjA6MDE5M2E2ZjA.9Jm2")
    );
    assert_eq!(
        t.events[5].kind,
        EventKind::OptOut(OptOut {
            channel: OptOutChannel::Email,
            address: "angry@example.org".into(),
            resubscribe: false
        })
    );
    assert_eq!(t.events[5].topic, "spamreport");
    assert!(matches!(
        &t.events[6].kind,
        EventKind::OptOut(OptOut { address, resubscribe: false, .. }) if address == "Leaver@Example.com"
    ));
}

#[test]
fn group_events_and_dropped() {
    let body = br#"[
        {"email":"a@example.com","timestamp":1763656100,"event":"group_unsubscribe","sg_event_id":"g1","asm_group_id":10,"sg_message_id":"x.y"},
        {"email":"a@example.com","timestamp":1763656200,"event":"group_resubscribe","sg_event_id":"g2","asm_group_id":10},
        {"email":"b@example.com","timestamp":1763656300,"event":"dropped","sg_event_id":"d1","reason":"Bounced Address","sg_message_id":"abc.def","message_id":"m-9"},
        {"email":"b@example.com","timestamp":1763656300,"event":"deferred","sg_event_id":"d2","response":"400 try again later"},
        {"email":"b@example.com","timestamp":1763656300,"event":"something_new","sg_event_id":"n1"}
    ]"#;
    let t = translate(body).unwrap();
    assert_eq!(t.events.len(), 3);
    assert!(matches!(
        &t.events[0].kind,
        EventKind::OptOut(OptOut {
            resubscribe: false,
            channel: OptOutChannel::Email,
            ..
        })
    ));
    assert!(matches!(
        &t.events[1].kind,
        EventKind::OptOut(OptOut {
            resubscribe: true,
            ..
        })
    ));
    let EventKind::MessageStatus(dropped) = &t.events[2].kind else {
        panic!("{t:?}")
    };
    assert_eq!(dropped.status, MessageStatus::Bounced);
    assert_eq!(dropped.message_id.as_deref(), Some("m-9"));
    assert_eq!(dropped.provider_message_id.as_deref(), Some("abc"));
}

#[test]
fn only_skipped_events_are_ignored() {
    let t = translate(
        br#"[{"email":"a@example.com","timestamp":1763656100,"event":"processed","sg_event_id":"p1"},
             {"email":"a@example.com","timestamp":1763656100,"event":"deferred","sg_event_id":"p2"}]"#,
    )
    .unwrap();
    assert!(t.events.is_empty());
    assert_eq!(t.ignored.as_deref(), Some("no event the hub uses"));
    assert_eq!(t.topic, "event");
    assert_eq!(
        translate(b"[]").unwrap().ignored.as_deref(),
        Some("no event the hub uses")
    );
}

#[test]
fn malformed_bodies() {
    assert!(matches!(
        translate(b"not json"),
        Err(TranslateError::Json(_))
    ));
    assert!(matches!(
        translate(br#"{"event":"delivered"}"#),
        Err(TranslateError::Schema { .. })
    ));
    assert!(matches!(
        translate(b"[1]"),
        Err(TranslateError::Schema { .. })
    ));
    // A used event without sg_event_id cannot be deduplicated.
    assert!(matches!(
        translate(br#"[{"email":"a@example.com","timestamp":1763656100,"event":"delivered"}]"#),
        Err(TranslateError::Schema { .. })
    ));
    assert!(matches!(
        translate(br#"[{"email":"a@example.com","event":"delivered","sg_event_id":"x"}]"#),
        Err(TranslateError::Schema { .. })
    ));
    assert!(matches!(
        translate(br#"[{"timestamp":1763656100,"event":"unsubscribe","sg_event_id":"x"}]"#),
        Err(TranslateError::Schema { .. })
    ));
}
