//! HubSpot's official signature vectors and the failure cases.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{Source, VerifyError};
use cartback_hubspot::verify::{decode_v3_uri, signature_v1, signature_v2, signature_v3};
use cartback_hubspot::{HubSpotSettings, HubSpotSource};
use cartback_kit::{Secret, SecretList};
use chrono::DateTime;
use common::{now, request, settings, unsigned, with_headers, SECRET, URL};
use http::Method;

// HubSpot/hubspot-api-python tests/spec/utils/test_signature.py (the body is literally this
// Python-repr text, single quotes included).
const BODY: &[u8] = b"{'example_field':'example_value'}";
const URI: &str = "https://www.example.com/webhook_uri";
const TS: &str = "15000000";
const V1: &str = "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750";
const V2: &str = "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383";
const V2_GET: &str = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e";
const V3: &str = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=";

fn src() -> HubSpotSource {
    HubSpotSource::new(settings())
}

#[test]
fn official_vectors_as_computed() {
    assert_eq!(signature_v1(SECRET, BODY), V1);
    assert_eq!(signature_v2(SECRET, "POST", URI, BODY), V2);
    assert_eq!(signature_v2(SECRET, "GET", URI, b""), V2_GET);
    assert_eq!(signature_v3(SECRET, "POST", URI, BODY, TS), V3);
}

#[test]
fn official_v1_vector_verifies() {
    // No version header: v1 (what CRM webhook subscriptions send).
    let req = with_headers(
        unsigned(Method::POST, URI, BODY),
        &[("x-hubspot-signature", V1)],
    );
    src().verify(&req).unwrap();
    let req = with_headers(req, &[("x-hubspot-signature-version", "v1")]);
    src().verify(&req).unwrap();
    let upper = with_headers(req, &[("x-hubspot-signature", &V1.to_uppercase())]);
    src().verify(&upper).unwrap();
}

#[test]
fn official_v2_vectors_verify() {
    let req = with_headers(
        unsigned(Method::POST, URI, BODY),
        &[
            ("x-hubspot-signature", V2),
            ("x-hubspot-signature-version", "v2"),
        ],
    );
    src().verify(&req).unwrap();
    let get = with_headers(
        unsigned(Method::GET, URI, b""),
        &[
            ("x-hubspot-signature", V2_GET),
            ("x-hubspot-signature-version", "v2"),
        ],
    );
    src().verify(&get).unwrap();
    // A v2 signature read as v1 does not match.
    let as_v1 = with_headers(req, &[("x-hubspot-signature-version", "")]);
    assert_eq!(src().verify(&as_v1), Err(VerifyError::Mismatch));
}

#[test]
fn official_v3_vector_verifies_at_its_own_time() {
    let mut req = with_headers(
        unsigned(Method::POST, URI, BODY),
        &[
            ("x-hubspot-signature-v3", V3),
            ("x-hubspot-request-timestamp", TS),
        ],
    );
    // The vector's timestamp is 1970: received "then", the window check passes.
    req.received_at = DateTime::from_timestamp_millis(15_000_000).unwrap();
    src().verify(&req).unwrap();
    // Received today, the same request is a replay.
    req.received_at = now();
    assert_eq!(src().verify(&req), Err(VerifyError::Stale));
}

#[test]
fn v3_signs_the_url_with_listed_escapes_decoded() {
    assert_eq!(
        decode_v3_uri("https://h.example/w%3Fa%3Db%2Cc?x=%2F%25%20%3a"),
        "https://h.example/w?a%3Db,c?x=/%25%20:"
    );
    let url = "https://hub.example/webhooks/hubspot?portal=%2A42%2A&q=a%20b";
    let ts = now().timestamp_millis().to_string();
    let sig = signature_v3(SECRET, "POST", url, b"[]", &ts);
    assert_eq!(
        sig,
        signature_v3(
            SECRET,
            "POST",
            "https://hub.example/webhooks/hubspot?portal=*42*&q=a%20b",
            b"[]",
            &ts
        )
    );
    let req = with_headers(
        unsigned(Method::POST, url, b"[]"),
        &[
            ("x-hubspot-signature-v3", &sig),
            ("x-hubspot-request-timestamp", &ts),
        ],
    );
    src().verify(&req).unwrap();
    // Another URL (a proxy rewriting the path, say) does not match.
    let mut moved = req.clone();
    moved.url = "https://hub.example/webhooks/other".into();
    assert_eq!(src().verify(&moved), Err(VerifyError::Mismatch));
}

#[test]
fn valid_tampered_and_wrong_secret() {
    let body = br#"[{"eventId":1}]"#;
    src().verify(&request(body)).unwrap();
    let mut tampered = request(body);
    tampered.body = bytes::Bytes::from_static(br#"[{"eventId":2}]"#);
    assert_eq!(src().verify(&tampered), Err(VerifyError::Mismatch));
    let other = HubSpotSource::new(HubSpotSettings::new(SecretList::new(vec![Secret::new(
        "another-client-secret",
    )])));
    assert_eq!(other.verify(&request(body)), Err(VerifyError::Mismatch));
    let v1 = with_headers(
        unsigned(Method::POST, URL, body),
        &[(
            "x-hubspot-signature",
            &signature_v1("another-client-secret", body),
        )],
    );
    assert_eq!(src().verify(&v1), Err(VerifyError::Mismatch));
    other.verify(&v1).unwrap();
}

#[test]
fn rotated_secrets_are_all_accepted() {
    let rotated = HubSpotSource::new(HubSpotSettings::new(SecretList::new(vec![
        Secret::new("the-new-one"),
        Secret::new(SECRET),
    ])));
    rotated.verify(&request(b"[]")).unwrap();
    let v1 = with_headers(
        unsigned(Method::POST, URL, b"[]"),
        &[("x-hubspot-signature", &signature_v1("the-new-one", b"[]"))],
    );
    rotated.verify(&v1).unwrap();
}

#[test]
fn stale_and_future_v3_timestamps() {
    let body = b"[]";
    for offset_secs in [-301_i64, 301] {
        let ts = (now().timestamp_millis() + offset_secs * 1000).to_string();
        let req = with_headers(
            unsigned(Method::POST, URL, body),
            &[
                (
                    "x-hubspot-signature-v3",
                    &signature_v3(SECRET, "POST", URL, body, &ts),
                ),
                ("x-hubspot-request-timestamp", &ts),
            ],
        );
        assert_eq!(src().verify(&req), Err(VerifyError::Stale), "{offset_secs}");
    }
    // Within a configured longer window.
    let mut s = settings();
    s.max_age = Some(cartback_core::duration::HumanDuration(
        std::time::Duration::from_secs(600),
    ));
    let ts = (now().timestamp_millis() - 400_000).to_string();
    let req = with_headers(
        unsigned(Method::POST, URL, body),
        &[
            (
                "x-hubspot-signature-v3",
                &signature_v3(SECRET, "POST", URL, body, &ts),
            ),
            ("x-hubspot-request-timestamp", &ts),
        ],
    );
    HubSpotSource::new(s).verify(&req).unwrap();
}

#[test]
fn missing_and_malformed_headers() {
    let body = b"[]";
    assert_eq!(
        src().verify(&unsigned(Method::POST, URL, body)),
        Err(VerifyError::MissingHeader("X-HubSpot-Signature".into()))
    );
    let no_ts = with_headers(request(body), &[("x-hubspot-request-timestamp", "")]);
    assert_eq!(
        src().verify(&no_ts),
        Err(VerifyError::MissingHeader(
            "X-HubSpot-Request-Timestamp".into()
        ))
    );
    let sig = signature_v3(SECRET, "POST", URL, body, "yesterday");
    let bad_ts = with_headers(
        request(body),
        &[
            ("x-hubspot-signature-v3", &sig),
            ("x-hubspot-request-timestamp", "yesterday"),
        ],
    );
    assert!(matches!(
        src().verify(&bad_ts),
        Err(VerifyError::MalformedHeader(_))
    ));
    let not_hex = with_headers(
        unsigned(Method::POST, URL, body),
        &[("x-hubspot-signature", "zz")],
    );
    assert!(matches!(
        src().verify(&not_hex),
        Err(VerifyError::MalformedHeader(_))
    ));
    let bad_version = with_headers(
        unsigned(Method::POST, URL, body),
        &[
            ("x-hubspot-signature", &signature_v1(SECRET, body)),
            ("x-hubspot-signature-version", "v9"),
        ],
    );
    assert!(matches!(
        src().verify(&bad_version),
        Err(VerifyError::MalformedHeader(_))
    ));
}

#[test]
fn settings_reject_unknown_keys_and_validate() {
    let typo = serde_json::from_str::<HubSpotSettings>(r#"{"client_secret":"s","max_agee":"1m"}"#);
    assert!(typo
        .unwrap_err()
        .to_string()
        .contains("unknown field `max_agee`"));
    let s: HubSpotSettings = serde_json::from_str(r#"{"client_secret": ["a", "b"]}"#).unwrap();
    s.validate().unwrap();
    assert_eq!(s.max_age(), std::time::Duration::from_secs(300));
    for bad in [
        r#"{}"#,
        r#"{"client_secret": ""}"#,
        r#"{"client_secret": " "}"#,
        r#"{"client_secret": "a", "max_age": "0s"}"#,
        r#"{"client_secret": "a", "max_age": "soon"}"#,
    ] {
        let checked = serde_json::from_str::<HubSpotSettings>(bad)
            .map_err(|e| e.to_string())
            .and_then(|s| s.validate());
        assert!(checked.is_err(), "{bad}");
    }
}
