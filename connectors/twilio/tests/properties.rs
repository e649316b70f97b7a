//! Property tests over hostile input that are Twilio's own (the suite in `conformance.rs` has
//! the rest): callback forms with fields removed, replaced or sent twice; hostile signatures,
//! content types and paths; signatures over any URL.
//!
//! `PROPTEST_CASES` sets the number of cases (`cartback_testkit::conformance::property_config`).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, InboundRequest, Source};
use cartback_testkit::conformance::gen::{
    edits, form_text, header_value, hostile_path, inbound, Edit, Kind,
};
use cartback_testkit::conformance::property_config;
use cartback_twilio::payload::form_pairs;
use cartback_twilio::{signature, TwilioEvents};
use common::{settings, TOKEN, URL};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

const FORMS: &[&str] = &[
    include_str!("fixtures/status_delivered.form"),
    include_str!("fixtures/status_failed_21610.form"),
    include_str!("fixtures/status_undelivered.form"),
    include_str!("fixtures/status_sent.form"),
    include_str!("fixtures/inbound_stop.form"),
    include_str!("fixtures/inbound_start.form"),
    include_str!("fixtures/inbound_reply.form"),
];

/// Form-encoded (as Twilio sends) and without a content type.
const MODES: &[&str] = &["form", "untyped"];

const STATUSES: &[&str] = &[
    "delivered",
    "undelivered",
    "failed",
    "sent",
    "queued",
    "received",
    "DELIVERED",
    " failed ",
];
const CODES: &[&str] = &["21610", "30003", "-1", "99999999999", "21610.0", " 21610 "];
const ACCOUNTS: &[&str] = &[
    common::ACCOUNT_SID,
    "AC",
    " AC0123456789abcdef0123456789abcdef ",
];
const BODIES: &[&str] = &[
    "STOP",
    "stop please",
    "Start",
    "UNSTOP!",
    "yes",
    "  Stop. ",
    "STOP\u{0}",
    "ß stop",
    "ǅ",
    "!!!",
];
const OPT_OUT_TYPES: &[&str] = &["STOP", "START", "HELP", "stop"];
const FIELDS: &[(&str, Kind)] = &[
    ("MessageSid", Kind::Id),
    ("SmsSid", Kind::Id),
    ("MessageStatus", Kind::OneOf(STATUSES)),
    ("SmsStatus", Kind::OneOf(STATUSES)),
    ("ErrorCode", Kind::OneOf(CODES)),
    ("AccountSid", Kind::OneOf(ACCOUNTS)),
    ("MessagingServiceSid", Kind::Id),
    ("From", Kind::Phone),
    ("To", Kind::Phone),
    ("Body", Kind::OneOf(BODIES)),
    ("OptOutType", Kind::OneOf(OPT_OUT_TYPES)),
];

fn source() -> TwilioEvents {
    TwilioEvents::new(settings())
}

/// A request in `mode` to `url`, signed as Twilio signs it.
fn request(mode: &str, url: &str, body: Vec<u8>) -> InboundRequest {
    let sig = signature(TOKEN, url, &form_pairs(&body));
    let mut headers: Vec<(&str, &[u8])> = vec![("x-twilio-signature", sig.as_bytes())];
    if mode == "form" {
        headers.push((
            "content-type",
            b"application/x-www-form-urlencoded; charset=utf-8",
        ));
    }
    inbound(url, &headers, body)
}

/// One of the fixture forms with some fields removed, replaced or sent twice, encoded.
fn callback_form() -> impl Strategy<Value = Vec<u8>> {
    let kinds = FIELDS.iter().map(|(_, k)| *k).collect();
    (
        select(FORMS),
        edits(kinds),
        vec(any::<bool>(), FIELDS.len()),
    )
        .prop_map(|(form, edits, twice)| {
            let mut pairs: Vec<(String, String)> = form_urlencoded::parse(form.trim().as_bytes())
                .into_owned()
                .collect();
            for (((name, _), e), twice) in FIELDS.iter().zip(edits).zip(twice) {
                match e {
                    Edit::Keep => {}
                    Edit::Remove => pairs.retain(|(k, _)| k != name),
                    Edit::Set(v) => {
                        if !twice {
                            pairs.retain(|(k, _)| k != name);
                        }
                        pairs.push((name.to_string(), form_text(v)));
                    }
                }
            }
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes()
        })
}

/// Whether `url`'s query names `name`, as Twilio's check reads it.
fn query_has(url: &str, name: &str) -> bool {
    url.split_once('?').is_some_and(|(_, q)| {
        let q = q.split('#').next().unwrap_or_default();
        form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == name)
    })
}

proptest! {
    #![proptest_config(property_config())]

    #[test]
    fn callbacks_never_panic(body in callback_form(), mode in select(MODES)) {
        let src = source();
        let req = request(mode, URL, body);
        let v = verify(&src, &req).unwrap();
        let _ = src.translate(v);
    }

    #[test]
    fn refuses_hostile_signatures(
        sig in header_value(),
        content_type in prop::option::of(prop_oneof![header_value(), Just(b"application/x-www-form-urlencoded".to_vec())]),
        path in prop_oneof![Just(String::new()), hostile_path()],
        body in prop_oneof![vec(any::<u8>(), 0..64), select(FORMS).prop_map(|f| f.as_bytes().to_vec())],
    ) {
        let url = format!("{URL}{path}");
        let mut headers: Vec<(&str, &[u8])> = vec![("x-twilio-signature", &sig)];
        if let Some(ct) = &content_type {
            headers.push(("content-type", ct));
        }
        prop_assert!(source().verify(&inbound(&url, &headers, body)).is_err());
    }

    #[test]
    fn signatures_over_any_url_verify(
        port in select(vec!["", ":443", ":8443", ":", ":x"]),
        path in hostile_path(),
        body in prop_oneof![select(FORMS).prop_map(|f| f.as_bytes().to_vec()), vec(any::<u8>(), 0..64)],
        mode in select(MODES),
    ) {
        let url = format!("https://hub.example{port}/webhooks/sms{path}");
        let res = source().verify(&request(mode, &url, body));
        // A `bodySHA256` in the query makes the form body's hash the check instead.
        prop_assert!(res.is_ok() || query_has(&url, "bodySHA256"), "{res:?}");
    }
}
