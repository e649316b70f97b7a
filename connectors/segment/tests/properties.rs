//! Property tests over hostile input that are Segment's own (the suite in `conformance.rs` has
//! the rest): messages shaped like the fixtures in every envelope, on every mount, with every
//! kind of credential; hostile `X-Signature` and `Authorization` together; write keys with any
//! password, and in the body.
//!
//! `PROPTEST_CASES` sets the number of cases (`cartback_testkit::conformance::property_config`).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, InboundRequest, Source};
use cartback_kit::{Secret, SecretList};
use cartback_segment::verify::{basic_auth, first_array_element, sign};
use cartback_segment::{SegmentSettings, SegmentSource};
use cartback_testkit::conformance::gen::{
    any_json, b64, bytes_of, edges, header_value, inbound, json_of, shaped, Kind,
};
use cartback_testkit::conformance::property_config;
use common::{fixture, SHARED_SECRET, WRITE_KEY};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

/// The Webhooks destination and every API mount (one with a case variant, trailing slash and
/// query).
const PATHS: &[&str] = &[
    "/webhooks/seg",
    "/v1/batch",
    "/v1/track",
    "/v1/identify",
    "/v1/page",
    "/V1/Track/?x=1",
];
const TYPES: &[&str] = &["track", "identify", "page", "TRACK", "screen", "group"];
const EVENTS: &[&str] = &[
    "Cart Viewed",
    "Viewed Cart",
    "Product Added",
    "Removed Product",
    "Checkout Started",
    "started checkout",
    "Order Completed",
    "Completed Order",
    "Product Viewed",
];
const FIELDS: &[(&str, Kind)] = &[
    ("/type", Kind::OneOf(TYPES)),
    ("/event", Kind::OneOf(EVENTS)),
    ("/messageId", Kind::Id),
    ("/timestamp", Kind::Time),
    ("/sentAt", Kind::Time),
    ("/receivedAt", Kind::Time),
    ("/userId", Kind::Id),
    ("/anonymousId", Kind::Id),
    ("/context", Kind::Any),
    ("/context/traits", Kind::Any),
    ("/context/traits/email", Kind::Email),
    ("/context/traits/phone", Kind::Phone),
    ("/context/locale", Kind::Text),
    ("/context/timezone", Kind::Text),
    ("/traits", Kind::Any),
    ("/traits/email", Kind::Email),
    ("/traits/phone", Kind::Phone),
    ("/traits/firstName", Kind::Text),
    ("/traits/last_name", Kind::Text),
    ("/properties", Kind::Any),
    ("/properties/currency", Kind::Currency),
    ("/properties/value", Kind::Amount),
    ("/properties/revenue", Kind::Amount),
    ("/properties/total", Kind::Amount),
    ("/properties/subtotal", Kind::Amount),
    ("/properties/order_id", Kind::Id),
    ("/properties/checkout_id", Kind::Id),
    ("/properties/cart_id", Kind::Id),
    ("/properties/email", Kind::Email),
    ("/properties/checkout_url", Kind::Text),
    ("/properties/products", Kind::Any),
    ("/properties/products/0", Kind::Any),
    ("/properties/products/0/price", Kind::Amount),
    ("/properties/products/0/quantity", Kind::Count),
    ("/properties/products/0/name", Kind::Text),
    ("/properties/products/0/product_id", Kind::Id),
    ("/properties/products/0/id", Kind::Id),
    ("/properties/products/1/price", Kind::Amount),
    ("/properties/products/1/quantity", Kind::Count),
];

/// A browser write key and the shared secret (no server key).
fn source() -> SegmentSource {
    SegmentSource::new(SegmentSettings {
        write_keys: Some(SecretList::new(vec![Secret::new(WRITE_KEY)])),
        server_write_keys: None,
        shared_secret: Some(SecretList::new(vec![Secret::new(SHARED_SECRET)])),
        default_currency: None,
    })
}

/// How a Segment request proves itself.
#[derive(Debug, Clone, Copy)]
enum Auth {
    /// Webhook mode: `X-Signature` (over the first element for an array body, as Segment signs
    /// batches); API mode: `Authorization: Basic`.
    Signature,
    /// `Authorization: Basic` with the write key (both modes).
    Basic,
    /// API mode: the body's `writeKey` when the body is an object; else `Basic`.
    BodyKey,
}

fn auth() -> impl Strategy<Value = Auth> {
    select(vec![Auth::Signature, Auth::Basic, Auth::BodyKey])
}

fn url(path: &str) -> String {
    format!("https://hub.example{path}")
}

fn request(path: &str, auth: Auth, mut body: Value) -> InboundRequest {
    let webhook = path.starts_with("/webhooks/");
    let basic = basic_auth(WRITE_KEY);
    match (webhook, auth) {
        (true, Auth::Signature) => {
            let bytes = bytes_of(&body);
            let signed = first_array_element(&bytes).unwrap_or(&bytes);
            let sig = sign(SHARED_SECRET, signed);
            inbound(&url(path), &[("x-signature", sig.as_bytes())], bytes)
        }
        (false, Auth::BodyKey) if body.is_object() => {
            body["writeKey"] = json!(WRITE_KEY);
            inbound(&url(path), &[], bytes_of(&body))
        }
        _ => inbound(
            &url(path),
            &[("authorization", basic.as_bytes())],
            bytes_of(&body),
        ),
    }
}

/// A message shaped like the fixtures' `Checkout Started`, with identify traits.
fn message() -> impl Strategy<Value = Value> {
    let mut msg = json_of(fixture("checkout_started.json"))["batch"][0].clone();
    msg["traits"] = json_of(fixture("identify.json"))["batch"][0]["traits"].clone();
    msg["context"]["locale"] = json!("en-US");
    msg["context"]["timezone"] = json!("Europe/Paris");
    msg["receivedAt"] = json!("2026-11-20T15:04:31Z");
    shaped(msg, FIELDS)
}

/// Messages in each envelope Segment sends: a batch, a bare array (Webhooks destination
/// batches), a single message, and a `batch` that is not an array.
fn body() -> impl Strategy<Value = Value> {
    (vec(message(), 0..3), 0u8..4, select(edges(Kind::Time))).prop_map(
        |(msgs, envelope, sent_at)| match envelope {
            0 => json!({"batch": msgs, "sentAt": sent_at}),
            1 => Value::Array(msgs),
            2 => msgs.into_iter().next().unwrap_or_else(|| json!({})),
            _ => json!({"batch": msgs.into_iter().next().unwrap_or(Value::Null)}),
        },
    )
}

/// `Authorization` values that never name the write key: arbitrary text, and `Basic` with
/// arbitrary credentials, with the key as the password, or with the key followed by more.
fn bad_authorization() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        header_value(),
        "(Basic|basic|BASIC|Bearer|Basic  )".prop_flat_map(|scheme| {
            vec(any::<u8>(), 0..40)
                .prop_map(move |cred| format!("{scheme} {}", b64(&cred)).into_bytes())
        }),
        ".{0,20}".prop_map(|user| format!(
            "Basic {}",
            b64(format!("{user}:{WRITE_KEY}").as_bytes())
        )
        .into_bytes()),
        "[^:]{1,20}".prop_map(|more| format!(
            "Basic {}",
            b64(format!("{WRITE_KEY}{more}").as_bytes())
        )
        .into_bytes()),
    ]
}

proptest! {
    #![proptest_config(property_config())]

    #[test]
    fn messages_never_panic(body in body(), path in select(PATHS), auth in auth()) {
        let src = source();
        let req = request(path, auth, body);
        let v = verify(&src, &req).unwrap();
        let _ = src.translate(v);
    }

    #[test]
    fn refuses_hostile_signatures(
        sig in header_value(),
        auth in prop::option::of(bad_authorization()),
        body in vec(any::<u8>(), 0..64),
    ) {
        let mut headers: Vec<(&str, &[u8])> = vec![("x-signature", &sig)];
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        let req = inbound(&url("/webhooks/seg"), &headers, body);
        prop_assert!(source().verify(&req).is_err());
    }

    #[test]
    fn api_refuses_hostile_basic_auth(
        auth in bad_authorization(),
        path in select(&PATHS[1..]),
        body in vec(any::<u8>(), 0..64),
    ) {
        let req = inbound(&url(path), &[("authorization", &auth)], body);
        prop_assert!(source().verify(&req).is_err());
    }

    #[test]
    fn api_accepts_the_write_key_with_any_password(
        password in ".{0,40}",
        path in select(&PATHS[1..]),
        body in vec(any::<u8>(), 0..64),
    ) {
        let auth = format!("Basic {}", b64(format!("{WRITE_KEY}:{password}").as_bytes()));
        let req = inbound(&url(path), &[("authorization", auth.as_bytes())], body);
        prop_assert!(source().verify(&req).is_ok());
    }

    #[test]
    fn api_body_write_keys(key in any_json(), path in select(&PATHS[1..])) {
        let body = bytes_of(&json!({"writeKey": key, "type": "track"}));
        let accepted = source().verify(&inbound(&url(path), &[], body)).is_ok();
        prop_assert_eq!(accepted, key.as_str().map(str::trim) == Some(WRITE_KEY));
    }
}
