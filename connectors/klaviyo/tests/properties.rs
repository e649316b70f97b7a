//! Property tests over hostile input that are Klaviyo's own (the suite in `conformance.rs` has
//! the rest): system and flow webhooks shaped like the fixtures, in every mode and at a time in
//! every form; hostile values in all three credential headers; the replay window.
//!
//! `PROPTEST_CASES` sets the number of cases (`cartback_testkit::conformance::property_config`).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, InboundRequest, Source};
use cartback_klaviyo::verify::{parse_timestamp, sign};
use cartback_klaviyo::KlaviyoSource;
use cartback_testkit::conformance::gen::{
    accepted_outside_window, bytes_of, header_text, header_value, inbound, json_of, shaped, Kind,
};
use cartback_testkit::conformance::{property_config, NOW_SECS};
use common::{fixture, settings, SECRET, WEBHOOK_ID};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

const URL: &str = "https://hub.example/webhooks/kl";
/// Signed with `Klaviyo-Webhook-Id`, signed without it, and a flow webhook's shared secret.
const MODES: &[&str] = &["signed", "signed-no-id", "flow"];
/// Timestamps within the window in each form Klaviyo may send.
const TIMESTAMPS: &[&str] = &[
    "2026-11-20T15:59:30Z",
    "1795190370",
    "1795190370000",
    "1795190370.25",
];
const TOPICS: &[&str] = &[
    "event:klaviyo.unsubscribed_from_email_marketing",
    "marked_email_as_spam",
    "event:klaviyo.subscribed_to_email_marketing",
    "EVENT:KLAVIYO.UNSUBSCRIBED_FROM_SMS_MARKETING",
    "subscribed_to_sms_marketing",
    "updated_email_preferences",
    "profile.created",
    "profile:merged",
    "event:klaviyo.email_delivered",
];
const CONSENTS: &[&str] = &[
    "SUBSCRIBED",
    "unsubscribed",
    "NEVER_SUBSCRIBED",
    "not_subscribed",
    "maybe",
];
const SYSTEM_FIELDS: &[(&str, Kind)] = &[
    ("/data", Kind::Any),
    ("/data/0/external_id", Kind::Id),
    ("/data/0/topic", Kind::OneOf(TOPICS)),
    ("/data/0/payload", Kind::Any),
    ("/data/0/payload/data/attributes/datetime", Kind::Time),
    ("/data/0/payload/data/attributes/timestamp", Kind::Time),
    ("/data/0/payload/included", Kind::Any),
    (
        "/data/0/payload/included/0/type",
        Kind::OneOf(&["profile", "event"]),
    ),
    ("/data/0/payload/included/0/attributes/email", Kind::Email),
    (
        "/data/0/payload/included/0/attributes/phone_number",
        Kind::Phone,
    ),
    (
        "/data/0/payload/included/0/attributes/external_id",
        Kind::Id,
    ),
    ("/data/1/topic", Kind::OneOf(TOPICS)),
    (
        "/data/1/payload/data/attributes/event_properties/$phone_number",
        Kind::Phone,
    ),
    ("/data/3/topic", Kind::OneOf(TOPICS)),
    (
        "/data/3/payload/data/type",
        Kind::OneOf(&["profile", "event"]),
    ),
    ("/data/3/payload/data/attributes/email", Kind::Email),
    ("/data/3/payload/data/attributes/first_name", Kind::Text),
    ("/data/3/payload/data/attributes/locale", Kind::Text),
    ("/data/3/payload/data/attributes/location", Kind::Any),
    (
        "/data/3/payload/data/attributes/location/timezone",
        Kind::Text,
    ),
    ("/data/3/payload/data/attributes/updated", Kind::Time),
    (
        "/data/3/payload/data/attributes/subscriptions/email/marketing/consent",
        Kind::OneOf(CONSENTS),
    ),
    (
        "/data/3/payload/data/attributes/subscriptions/sms/marketing/consent",
        Kind::OneOf(CONSENTS),
    ),
    ("/meta", Kind::Any),
    (
        "/meta/klaviyo_webhook_id",
        Kind::OneOf(&[WEBHOOK_ID, "other"]),
    ),
    ("/meta/timestamp", Kind::Time),
];
const FLOW_FIELDS: &[(&str, Kind)] = &[
    ("/event_id", Kind::Id),
    ("/email", Kind::Email),
    ("/phone_number", Kind::Phone),
    ("/first_name", Kind::Text),
    ("/last_name", Kind::Text),
    ("/email_consent", Kind::OneOf(CONSENTS)),
    ("/sms_consent", Kind::OneOf(CONSENTS)),
    ("/occurred_at", Kind::Time),
    ("/external_id", Kind::Id),
];

fn source() -> KlaviyoSource {
    KlaviyoSource::new(settings())
}

/// A delivery in `mode`, signed at `ts` as Klaviyo signs it (or carrying the flow secret).
fn request(mode: &str, ts: &str, body: Vec<u8>) -> InboundRequest {
    let sig = sign(SECRET, &body, ts);
    let mut headers: Vec<(&str, &[u8])> = match mode {
        "flow" => vec![("x-cartback-secret", SECRET.as_bytes())],
        _ => vec![
            ("klaviyo-signature", sig.as_bytes()),
            ("klaviyo-timestamp", ts.as_bytes()),
        ],
    };
    if mode == "signed" {
        headers.push(("klaviyo-webhook-id", WEBHOOK_ID.as_bytes()));
    }
    inbound(URL, &headers, body)
}

fn translate(mode: &str, ts: &str, body: Vec<u8>) {
    let src = source();
    let req = request(mode, ts, body);
    let v = verify(&src, &req).unwrap();
    let _ = src.translate(v);
}

proptest! {
    #![proptest_config(property_config())]

    #[test]
    fn system_webhooks_never_panic(
        body in shaped(json_of(fixture("system_batch.json")), SYSTEM_FIELDS),
        mode in select(MODES),
        ts in select(TIMESTAMPS),
    ) {
        translate(mode, ts, bytes_of(&body));
    }

    #[test]
    fn flow_webhooks_never_panic(
        body in shaped(json_of(fixture("flow_webhook.json")), FLOW_FIELDS),
        mode in select(MODES),
        ts in select(TIMESTAMPS),
    ) {
        translate(mode, ts, bytes_of(&body));
    }

    #[test]
    fn refuses_hostile_signatures(
        sig in prop::option::of(header_value()),
        ts in prop::option::of(header_value()),
        shared in prop::option::of(header_value()),
        body in vec(any::<u8>(), 0..64),
    ) {
        let mut headers: Vec<(&str, &[u8])> = Vec::new();
        for (name, value) in [
            ("klaviyo-signature", &sig),
            ("klaviyo-timestamp", &ts),
            ("x-cartback-secret", &shared),
        ] {
            if let Some(v) = value {
                headers.push((name, v));
            }
        }
        prop_assert!(source().verify(&inbound(URL, &headers, body)).is_err());
    }

    #[test]
    fn accepts_only_timestamps_in_the_window(
        ts in prop_oneof![header_value(), (-700i64..700).prop_map(|d| (NOW_SECS + d).to_string().into_bytes())],
        body in vec(any::<u8>(), 0..64),
    ) {
        let signed = header_text(&ts).unwrap_or_default();
        let sig = sign(SECRET, &body, &signed);
        let req = inbound(URL, &[("klaviyo-signature", sig.as_bytes()), ("klaviyo-timestamp", &ts)], body);
        let accepted = source().verify(&req).is_ok();
        prop_assert!(!accepted_outside_window(accepted, &ts, 600, parse_timestamp));
    }
}
