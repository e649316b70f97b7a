//! Segment credentials: write keys on the API paths, `X-Signature` on the webhook path.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{Source, VerifyError};
use cartback_kit::{Secret, SecretList};
use cartback_segment::verify::{basic_auth, first_array_element, sign};
use cartback_segment::{SegmentSettings, SegmentSource};
use common::{api_request, request, settings, SHARED_SECRET, WRITE_KEY};

const TRACK: &[u8] =
    br#"{"type":"track","event":"Cart Viewed","messageId":"m1","anonymousId":"a1"}"#;

#[test]
fn mounts_the_api_paths() {
    let src = SegmentSource::new(settings());
    assert_eq!(src.kind(), "segment");
    assert_eq!(
        src.mounts(),
        vec!["/v1/batch", "/v1/track", "/v1/identify", "/v1/page"]
    );
}

#[test]
fn basic_auth_with_a_write_key() {
    let src = SegmentSource::new(settings());
    // Segment's documented example: writeKey abc123 ⇒ YWJjMTIzOg==.
    assert_eq!(basic_auth("abc123"), "Basic YWJjMTIzOg==");
    src.verify(&api_request("/v1/batch", TRACK)).unwrap();
    src.verify(&api_request("/v1/track", b"not json: the key decides"))
        .unwrap();
    // The password is ignored.
    let with_password = base64_basic(&format!("{WRITE_KEY}:anything"));
    src.verify(&request(
        "/v1/page",
        TRACK,
        &[("authorization", &with_password)],
    ))
    .unwrap();
    assert_eq!(
        src.verify(&request(
            "/v1/batch",
            TRACK,
            &[("authorization", &basic_auth("wk_wrong"))]
        )),
        Err(VerifyError::Mismatch)
    );
}

fn base64_basic(userpass: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(userpass)
    )
}

#[test]
fn missing_and_malformed_credentials() {
    let src = SegmentSource::new(settings());
    assert_eq!(
        src.verify(&request("/v1/batch", TRACK, &[])),
        Err(VerifyError::MissingCredentials)
    );
    assert_eq!(
        src.verify(&request("/v1/batch", b"{not json", &[])),
        Err(VerifyError::MissingCredentials)
    );
    assert_eq!(
        src.verify(&request(
            "/v1/batch",
            TRACK,
            &[("authorization", &base64_basic(":pw"))]
        )),
        Err(VerifyError::MissingCredentials)
    );
    for bad in ["Bearer abc", "Basic %%%", "Basic"] {
        assert!(
            matches!(
                src.verify(&request("/v1/batch", TRACK, &[("authorization", bad)])),
                Err(VerifyError::MalformedHeader(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn write_key_in_the_body() {
    let src = SegmentSource::new(settings());
    let body = format!(r#"{{"batch":[],"writeKey":"{WRITE_KEY}"}}"#);
    src.verify(&request("/v1/batch", body.as_bytes(), &[]))
        .unwrap();
    assert_eq!(
        src.verify(&request(
            "/v1/batch",
            br#"{"batch":[],"writeKey":"nope"}"#,
            &[]
        )),
        Err(VerifyError::Mismatch)
    );
    // A header, when sent, is what counts.
    assert_eq!(
        src.verify(&request(
            "/v1/batch",
            body.as_bytes(),
            &[("authorization", &basic_auth("nope"))]
        )),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn rotated_write_keys() {
    let mut s = settings();
    s.write_keys = Some(SecretList::new(vec![
        Secret::new("wk_new"),
        Secret::new(WRITE_KEY),
    ]));
    let src = SegmentSource::new(s);
    src.verify(&api_request("/v1/batch", TRACK)).unwrap();
    src.verify(&request(
        "/v1/batch",
        TRACK,
        &[("authorization", &basic_auth("wk_new"))],
    ))
    .unwrap();
}

#[test]
fn derived_webhook_vector() {
    // platforms.md §4: secret abc123, data {"cool":true}.
    assert_eq!(
        sign("abc123", br#"{"cool":true}"#),
        "5099cab379b3be52908387457007040cc934ef86"
    );
    let src = SegmentSource::new(settings());
    let req = request(
        "/webhooks/seg",
        br#"{"cool":true}"#,
        &[("x-signature", "5099cab379b3be52908387457007040cc934ef86")],
    );
    src.verify(&req).unwrap();
    let tampered = request(
        "/webhooks/seg",
        br#"{"cool":false}"#,
        &[("x-signature", "5099cab379b3be52908387457007040cc934ef86")],
    );
    assert_eq!(src.verify(&tampered), Err(VerifyError::Mismatch));
}

#[test]
fn batch_is_signed_over_its_first_element() {
    let src = SegmentSource::new(settings());
    let first = br#"{"type":"track","messageId":"m1","properties":{"z":1,"a":[1,2]}}"#;
    let body = [
        &b"["[..],
        first,
        br#",{"type":"identify","messageId":"m2"}]"#,
    ]
    .concat();
    assert_eq!(first_array_element(&body), Some(&first[..]));
    let sig = sign(SHARED_SECRET, first);
    src.verify(&request("/webhooks/seg", &body, &[("x-signature", &sig)]))
        .unwrap();
    // Pretty-printed: the first element is compared without insignificant whitespace.
    let pretty = b"[\n  {\"type\": \"track\", \"messageId\": \"m1\",\n   \"properties\": {\"z\": 1, \"a\": [1, 2]}},\n  {\"type\": \"identify\"}\n]";
    src.verify(&request("/webhooks/seg", pretty, &[("x-signature", &sig)]))
        .unwrap();
    // A change to a later element is not covered (Segment's scheme), a change to the first is.
    let changed_first = body
        .clone()
        .iter()
        .map(|b| if *b == b'1' { b'7' } else { *b })
        .collect::<Vec<_>>();
    assert_eq!(
        src.verify(&request(
            "/webhooks/seg",
            &changed_first,
            &[("x-signature", &sig)]
        )),
        Err(VerifyError::Mismatch)
    );
    // The signature over the whole array is accepted too.
    let whole = sign(SHARED_SECRET, &body);
    src.verify(&request("/webhooks/seg", &body, &[("x-signature", &whole)]))
        .unwrap();
}

#[test]
fn webhook_mode_headers_and_secrets() {
    let src = SegmentSource::new(settings());
    assert_eq!(
        src.verify(&request("/webhooks/seg", TRACK, &[])),
        Err(VerifyError::MissingHeader("X-Signature".into()))
    );
    assert!(matches!(
        src.verify(&request("/webhooks/seg", TRACK, &[("x-signature", "zz")])),
        Err(VerifyError::MalformedHeader(_))
    ));
    // Upper-case hex is the same digest.
    let sig = sign(SHARED_SECRET, TRACK).to_uppercase();
    src.verify(&request("/webhooks/seg", TRACK, &[("x-signature", &sig)]))
        .unwrap();
    // Without a shared secret configured, signatures cannot match; a write key still works.
    let no_secret = SegmentSource::new(SegmentSettings::new(SecretList::new(vec![Secret::new(
        WRITE_KEY,
    )])));
    assert_eq!(
        no_secret.verify(&request("/webhooks/seg", TRACK, &[("x-signature", &sig)])),
        Err(VerifyError::Mismatch)
    );
    no_secret
        .verify(&request(
            "/webhooks/seg",
            TRACK,
            &[("authorization", &basic_auth(WRITE_KEY))],
        ))
        .unwrap();
    // A write key in the body is an API-mode credential only.
    let body = format!(r#"{{"writeKey":"{WRITE_KEY}"}}"#);
    assert!(matches!(
        src.verify(&request("/webhooks/seg", body.as_bytes(), &[])),
        Err(VerifyError::MissingHeader(_))
    ));
}

#[test]
fn settings_are_strict_and_validated() {
    let typo: Result<SegmentSettings, _> =
        serde_json::from_str(r#"{"write_keys":"k","shared_secert":"x"}"#);
    assert!(typo
        .unwrap_err()
        .to_string()
        .contains("unknown field `shared_secert`"));
    let s: SegmentSettings = serde_json::from_str(
        r#"{"write_keys":["a","b"],"shared_secret":"s","default_currency":"eur"}"#,
    )
    .unwrap();
    s.validate().unwrap();
    assert_eq!(s.currency().code(), "EUR");
    let s: SegmentSettings = serde_json::from_str(r#"{"write_keys":"a"}"#).unwrap();
    assert_eq!(s.currency().code(), "USD");
    for bad in [
        r#"{"write_keys": ""}"#,
        r#"{"write_keys": []}"#,
        r#"{"write_keys": " "}"#,
        r#"{"write_keys": "a", "default_currency": "dollars"}"#,
        r#"{"write_keys": "a", "shared_secret": " "}"#,
        r#"{}"#,
    ] {
        let checked = serde_json::from_str::<SegmentSettings>(bad)
            .map_err(|e| e.to_string())
            .and_then(|s| s.validate());
        assert!(checked.is_err(), "{bad}");
    }
}
