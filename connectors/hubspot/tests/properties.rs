//! Property tests over hostile input that are HubSpot's own (the suite in `conformance.rs` has
//! the rest): batches shaped like the fixture under every signature version, hostile values in
//! all four signature headers, v3's replay window, and signatures over any URL.
//!
//! `PROPTEST_CASES` sets the number of cases (`cartback_testkit::conformance::property_config`).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, InboundRequest, Source};
use cartback_hubspot::verify::{signature_v1, signature_v2, signature_v3};
use cartback_hubspot::HubSpotSource;
use cartback_testkit::conformance::gen::{
    accepted_outside_window, bytes_of, header_text, header_value, hostile_path, inbound, json_of,
    shaped_one_of, Kind,
};
use cartback_testkit::conformance::{property_config, NOW_SECS};
use chrono::DateTime;
use common::{fixture, settings, SECRET, URL};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// The signature versions: v1 without and with `X-HubSpot-Signature-Version`, v2, v3.
const VERSIONS: &[&str] = &["v1-implicit", "v1", "v2", "v3"];
const TYPES: &[&str] = &[
    "contact.creation",
    "contact.propertyChange",
    "contact.deletion",
    "contact.privacyDeletion",
    "deal.creation",
];
const PROPERTIES: &[&str] = &[
    "email",
    "phone",
    "mobilephone",
    "firstname",
    "lastname",
    "hs_email_optout",
    "EMAIL",
    "company",
];
const VALUES: &[&str] = &[
    "true",
    "false",
    "TRUE",
    "Ann.Lee@Example.com",
    "+1 (415) 867-5309",
    "(415) 555-0100",
    "not an email",
];
const FIELDS: &[(&str, Kind)] = &[
    ("/eventId", Kind::Id),
    ("/subscriptionId", Kind::Id),
    ("/portalId", Kind::Id),
    ("/occurredAt", Kind::Time),
    ("/subscriptionType", Kind::OneOf(TYPES)),
    ("/attemptNumber", Kind::Count),
    ("/objectId", Kind::Id),
    ("/propertyName", Kind::OneOf(PROPERTIES)),
    ("/propertyValue", Kind::OneOf(VALUES)),
    ("/changeSource", Kind::Text),
];

fn source() -> HubSpotSource {
    HubSpotSource::new(settings())
}

/// A delivery to `url` signed with `version`, as HubSpot signs it.
fn request(version: &str, url: &str, body: Vec<u8>) -> InboundRequest {
    match version {
        "v3" => {
            let ts = (NOW_SECS * 1000).to_string();
            let sig = signature_v3(SECRET, "POST", url, &body, &ts);
            inbound(
                url,
                &[
                    ("x-hubspot-signature-v3", sig.as_bytes()),
                    ("x-hubspot-request-timestamp", ts.as_bytes()),
                ],
                body,
            )
        }
        "v2" => {
            let sig = signature_v2(SECRET, "POST", url, &body);
            inbound(
                url,
                &[
                    ("x-hubspot-signature", sig.as_bytes()),
                    ("x-hubspot-signature-version", b"v2"),
                ],
                body,
            )
        }
        "v1" => {
            let sig = signature_v1(SECRET, &body);
            inbound(
                url,
                &[
                    ("x-hubspot-signature", sig.as_bytes()),
                    ("x-hubspot-signature-version", b"V1"),
                ],
                body,
            )
        }
        _ => {
            let sig = signature_v1(SECRET, &body);
            inbound(url, &[("x-hubspot-signature", sig.as_bytes())], body)
        }
    }
}

/// A batch of 0 to 4 events, each one of the fixture's with fields swapped.
fn batch() -> impl Strategy<Value = Value> {
    let events = json_of(fixture("contact_batch.json"))
        .as_array()
        .unwrap()
        .clone();
    vec(shaped_one_of(events, FIELDS), 0..5).prop_map(Value::Array)
}

proptest! {
    #![proptest_config(property_config())]

    #[test]
    fn events_never_panic(body in batch(), version in select(VERSIONS)) {
        let src = source();
        let req = request(version, URL, bytes_of(&body));
        let v = verify(&src, &req).unwrap();
        let _ = src.translate(v);
    }

    #[test]
    fn refuses_hostile_signatures(
        v3 in prop::option::of(header_value()),
        ts in prop::option::of(header_value()),
        v1 in prop::option::of(header_value()),
        version in prop::option::of(prop_oneof![header_value(), select(vec![b"v1".to_vec(), b"v2".to_vec(), b"v3".to_vec()])]),
        body in vec(any::<u8>(), 0..64),
    ) {
        let mut headers: Vec<(&str, &[u8])> = Vec::new();
        for (name, value) in [
            ("x-hubspot-signature-v3", &v3),
            ("x-hubspot-request-timestamp", &ts),
            ("x-hubspot-signature", &v1),
            ("x-hubspot-signature-version", &version),
        ] {
            if let Some(v) = value {
                headers.push((name, v));
            }
        }
        prop_assert!(source().verify(&inbound(URL, &headers, body)).is_err());
    }

    #[test]
    fn v3_accepts_only_timestamps_in_the_window(
        ts in prop_oneof![header_value(), (-400_000i64..400_000).prop_map(|d| (NOW_SECS * 1000 + d).to_string().into_bytes())],
        body in vec(any::<u8>(), 0..64),
    ) {
        let signed = header_text(&ts).unwrap_or_default();
        let sig = signature_v3(SECRET, "POST", URL, &body, &signed);
        let req = inbound(URL, &[("x-hubspot-signature-v3", sig.as_bytes()), ("x-hubspot-request-timestamp", &ts)], body);
        let accepted = source().verify(&req).is_ok();
        let millis = |t: &str| t.parse::<i64>().ok().and_then(DateTime::from_timestamp_millis);
        prop_assert!(!accepted_outside_window(accepted, &ts, 300, millis));
    }

    #[test]
    fn signatures_over_any_url_verify(
        path in hostile_path(),
        version in select(&VERSIONS[1..]),
        body in vec(any::<u8>(), 0..64),
    ) {
        let url = format!("{URL}{path}");
        prop_assert!(source().verify(&request(version, &url, body)).is_ok());
    }
}
