//! Property tests over hostile input that are SendGrid's own (the suite in `conformance.rs`
//! has the rest): event batches shaped like the fixture, DER-shaped signatures, the replay
//! window, and arbitrary bytes signed as SendGrid signs them.
//!
//! `PROPTEST_CASES` sets the number of cases (`cartback_testkit::conformance::property_config`).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, InboundRequest, Source};
use cartback_kit::Secret;
use cartback_sendgrid::verify::{public_key_base64, sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use cartback_sendgrid::{SendGridEvents, SendGridSettings};
use cartback_testkit::conformance::gen::{
    accepted_outside_window, b64, bytes_of, header_value, hostile_bytes, inbound, json_of,
    shaped_one_of, Kind,
};
use cartback_testkit::conformance::{property_config, NOW_SECS};
use chrono::DateTime;
use common::fixture;
use p256::ecdsa::SigningKey;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;
use std::sync::OnceLock;

const URL: &str = "https://hub.example.com/webhooks/sendgrid";

const NAMES: &[&str] = &[
    "processed",
    "deferred",
    "delivered",
    "open",
    "click",
    "bounce",
    "dropped",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
    "Delivered",
];

const FIELDS: &[(&str, Kind)] = &[
    ("/email", Kind::Email),
    ("/timestamp", Kind::Time),
    ("/event", Kind::OneOf(NAMES)),
    ("/sg_event_id", Kind::Id),
    (
        "/sg_message_id",
        Kind::OneOf(&[".", "abc.def", ".x", "x.", "..", " . "]),
    ),
    ("/url", Kind::Text),
    ("/reason", Kind::Text),
    ("/message_id", Kind::Id),
    ("/category", Kind::Any),
];

fn settings() -> SendGridSettings {
    SendGridSettings::new(
        Secret::new("SG.test-key.secret-part"),
        "Shop <shop@example.com>",
    )
}

/// A fixed signing key and a receiver configured with its public half.
fn signed_receiver() -> &'static (SigningKey, SendGridEvents) {
    static SOURCE: OnceLock<(SigningKey, SendGridEvents)> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let mut s = settings();
        s.event_webhook_public_key = Some(public_key_base64(&key).unwrap());
        let src = SendGridEvents::new(s);
        assert!(src.requires_signature());
        (key, src)
    })
}

/// A receiver that takes unsigned events (explicitly allowed): translation does not depend on
/// the key, and ECDSA costs milliseconds in a debug build.
fn unsigned_receiver() -> &'static SendGridEvents {
    static SOURCE: OnceLock<SendGridEvents> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let mut s = settings();
        s.allow_unsigned_events = true;
        SendGridEvents::new(s)
    })
}

fn request(ts: &[u8], sig: &[u8], body: Vec<u8>) -> InboundRequest {
    inbound(
        URL,
        &[(SIGNATURE_HEADER, sig), (TIMESTAMP_HEADER, ts)],
        body,
    )
}

fn events() -> impl Strategy<Value = Value> {
    let events = json_of(fixture("events_batch.json"))
        .as_array()
        .unwrap()
        .clone();
    vec(shaped_one_of(events, FIELDS), 0..5).prop_map(Value::Array)
}

/// Signatures that are not SendGrid's: arbitrary headers, base64 of arbitrary bytes, and DER
/// `SEQUENCE` headers with arbitrary contents.
fn bad_signature() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        header_value(),
        (any::<u8>(), vec(any::<u8>(), 0..80)).prop_map(|(len, rest)| {
            let mut der = vec![0x30, len, 0x02];
            der.extend(rest);
            b64(&der).into_bytes()
        }),
    ]
}

proptest! {
    #![proptest_config(property_config())]

    #[test]
    fn signed_arbitrary_bytes_verify_and_never_panic(body in hostile_bytes(fixture("events_batch.json"))) {
        let (key, src) = signed_receiver();
        let ts = NOW_SECS.to_string();
        let sig = sign(key, &ts, &body);
        let req = request(ts.as_bytes(), sig.as_bytes(), body);
        let v = verify(src, &req).unwrap();
        let _ = src.translate(v);
    }


    #[test]
    fn events_never_panic(body in events()) {
        let req = inbound(URL, &[], bytes_of(&body));
        let src = unsigned_receiver();
        let v = verify(src, &req).unwrap();
        let _ = src.translate(v);
    }

    #[test]
    fn refuses_hostile_signatures(
        sig in bad_signature(),
        ts in prop_oneof![header_value(), Just(NOW_SECS.to_string().into_bytes())],
        body in vec(any::<u8>(), 0..64),
    ) {
        let (_, src) = signed_receiver();
        prop_assert!(src.verify(&request(&ts, &sig, body)).is_err());
    }


    #[test]
    fn accepts_only_timestamps_in_the_window(
        ts in prop_oneof![header_value(), (-700i64..700).prop_map(|d| (NOW_SECS + d).to_string().into_bytes())],
        body in vec(any::<u8>(), 0..64),
    ) {
        let (key, src) = signed_receiver();
        // SendGrid signs the timestamp header exactly as sent (untrimmed).
        let signed = http::HeaderValue::from_bytes(&ts)
            .ok()
            .and_then(|v| v.to_str().ok().map(str::to_string))
            .unwrap_or_default();
        let sig = sign(key, &signed, &body);
        let accepted = src.verify(&request(&ts, sig.as_bytes(), body)).is_ok();
        let secs = |t: &str| t.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0));
        prop_assert!(!accepted_outside_window(accepted, &ts, 600, secs));
    }
}
