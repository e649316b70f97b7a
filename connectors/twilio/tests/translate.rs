//! Translation of status callbacks and inbound messages, compared with reviewed golden files.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{
    verify, EventKind, MessageStatus, OptOut, OptOutChannel, Source, TranslateError, Translation,
};
use cartback_twilio::TwilioEvents;
use common::{encode, fixture, form_request, settings, URL};

fn translate(body: &[u8]) -> Result<Translation, TranslateError> {
    let src = TwilioEvents::new(settings());
    let req = form_request(URL, body, None);
    let verified = verify(&src, &req).unwrap();
    src.translate(verified)
}

fn golden(name: &str) -> Translation {
    let t = translate(&fixture(&format!("{name}.form"))).unwrap();
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

fn status_of(t: &Translation) -> (Option<&str>, MessageStatus) {
    let EventKind::MessageStatus(u) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    (u.provider_message_id.as_deref(), u.status)
}

#[test]
fn status_delivered() {
    let t = golden("status_delivered");
    assert_eq!(
        status_of(&t),
        (
            Some("SM1f0e8ae6ade43cb3c0ce4525424e404f"),
            MessageStatus::Delivered
        )
    );
    assert_eq!(
        t.delivery_ids,
        vec!["SM1f0e8ae6ade43cb3c0ce4525424e404f:delivered"]
    );
    assert_eq!(t.events[0].event_id, t.delivery_ids[0]);
    assert_eq!(t.events[0].occurred_at, common::now());
    assert_eq!(t.events.len(), 1);
}

#[test]
fn status_undelivered() {
    let t = golden("status_undelivered");
    assert_eq!(status_of(&t).1, MessageStatus::Failed);
    assert_eq!(
        t.delivery_ids,
        vec!["SM2a0e8ae6ade43cb3c0ce4525424e404f:undelivered"]
    );
    assert_eq!(t.events.len(), 1, "30003 is not an opt-out");
}

#[test]
fn status_failed_21610_also_opts_out() {
    let t = golden("status_failed_21610");
    assert_eq!(status_of(&t).1, MessageStatus::Failed);
    assert_eq!(t.events.len(), 2);
    assert_eq!(
        t.events[1].kind,
        EventKind::OptOut(OptOut {
            channel: OptOutChannel::Sms,
            address: "+14155550100".into(),
            resubscribe: false,
        })
    );
    assert_ne!(t.events[0].event_id, t.events[1].event_id);
}

#[test]
fn status_sent_is_ignored() {
    let t = translate(&fixture("status_sent.form")).unwrap();
    assert!(t.ignored.is_some(), "{t:?}");
    assert!(t.events.is_empty());
    for status in ["queued", "sending", "accepted", "scheduled"] {
        let t = translate(&encode(&[("MessageSid", "SM1"), ("MessageStatus", status)])).unwrap();
        assert!(t.ignored.is_some() && t.events.is_empty(), "{status}");
    }
}

#[test]
fn inbound_stop_opts_out() {
    let t = golden("inbound_stop");
    assert_eq!(
        t.events[0].kind,
        EventKind::OptOut(OptOut {
            channel: OptOutChannel::Sms,
            address: "+14155550100".into(),
            resubscribe: false,
        })
    );
    assert_eq!(t.events[0].event_id, "SM9c0e8ae6ade43cb3c0ce4525424e40a1");
    assert_eq!(t.delivery_ids, vec!["SM9c0e8ae6ade43cb3c0ce4525424e40a1"]);
}

#[test]
fn inbound_start_opts_back_in() {
    let t = golden("inbound_start");
    let EventKind::OptOut(o) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert!(o.resubscribe);
    assert_eq!(o.address, "+14155550100");
}

#[test]
fn inbound_reply_is_ignored() {
    let t = translate(&fixture("inbound_reply.form")).unwrap();
    assert!(t.ignored.is_some(), "{t:?}");
    assert!(t.events.is_empty());
}

#[test]
fn every_opt_out_keyword() {
    for kw in [
        "STOP",
        "stopall",
        "Unsubscribe",
        "cancel",
        "END",
        "quit",
        "REVOKE",
        "optout",
    ] {
        let t = translate(&encode(&[
            ("MessageSid", "SM5"),
            ("From", "+14155550100"),
            ("Body", kw),
        ]))
        .unwrap();
        assert!(
            matches!(&t.events[..], [e] if matches!(&e.kind, EventKind::OptOut(o) if !o.resubscribe)),
            "{kw}: {t:?}"
        );
    }
}

#[test]
fn missing_sid_or_bad_phone_is_a_schema_error() {
    assert!(matches!(
        translate(&encode(&[("MessageStatus", "delivered")])),
        Err(TranslateError::Schema { .. })
    ));
    assert!(matches!(
        translate(&encode(&[("From", "+14155550100"), ("Body", "STOP")])),
        Err(TranslateError::Schema { .. })
    ));
    assert!(matches!(
        translate(&encode(&[
            ("MessageSid", "SM6"),
            ("From", "not a phone"),
            ("Body", "STOP")
        ])),
        Err(TranslateError::Schema { .. })
    ));
    // SmsSid alone is accepted.
    let t = translate(&encode(&[
        ("SmsSid", "SM7"),
        ("MessageStatus", "delivered"),
    ]))
    .unwrap();
    assert_eq!(t.delivery_ids, vec!["SM7:delivered"]);
}

#[test]
fn other_account_is_ignored() {
    let t = translate(&encode(&[
        ("MessageSid", "SM8"),
        ("MessageStatus", "delivered"),
        ("AccountSid", "ACffffffffffffffffffffffffffffffff"),
    ]))
    .unwrap();
    assert!(t.ignored.is_some() && t.events.is_empty());
}
