//! The Signed Event Webhook: SendGrid's official vector, its negatives, and the replay window.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, Source, VerifyError};
use cartback_sendgrid::verify::{
    check_freshness, parse_public_key, public_key_base64, sign, verify_signature, SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
};
use cartback_sendgrid::SendGridEvents;
use chrono::Utc;
use common::{request, settings, unix, vector};
use p256::ecdsa::SigningKey;

fn source(key: Option<&str>) -> SendGridEvents {
    let mut s = settings("http://127.0.0.1:1");
    s.event_webhook_public_key = key.map(str::to_string);
    SendGridEvents::new(s)
}

/// The vector's own time, so the replay window passes and only the signature is tested.
fn vector_time() -> chrono::DateTime<Utc> {
    unix(vector::TIMESTAMP.parse().unwrap())
}

fn signed(payload: &str, ts: &str, sig: &str) -> cartback_core::InboundRequest {
    request(
        payload.as_bytes(),
        &[(SIGNATURE_HEADER, sig), (TIMESTAMP_HEADER, ts)],
        vector_time(),
    )
}

#[test]
fn official_vector_verifies() {
    let key = parse_public_key(vector::PUBLIC_KEY).unwrap();
    verify_signature(
        &key,
        vector::TIMESTAMP,
        vector::PAYLOAD.as_bytes(),
        vector::SIGNATURE,
    )
    .unwrap();
    let src = source(Some(vector::PUBLIC_KEY));
    assert!(src.requires_signature());
    let req = signed(vector::PAYLOAD, vector::TIMESTAMP, vector::SIGNATURE);
    let verified = verify(&src, &req).unwrap();
    let t = src.translate(verified).unwrap();
    assert_eq!(t.events.len(), 1, "the vector's dropped event is a bounce");
    assert_eq!(
        t.events[0].event_id,
        "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA"
    );
}

#[test]
fn official_negatives_fail() {
    let src = source(Some(vector::PUBLIC_KEY));
    let cases = [
        ("payload", vector::TIMESTAMP, vector::SIGNATURE),
        (vector::PAYLOAD, "timestamp", vector::SIGNATURE),
        (vector::PAYLOAD, vector::TIMESTAMP, vector::WRONG_SIGNATURE),
    ];
    for (payload, ts, sig) in cases {
        assert_eq!(
            src.verify(&signed(payload, ts, sig)),
            Err(VerifyError::Mismatch),
            "{payload:?} {ts:?} {sig:?}"
        );
    }
    let wrong_key = source(Some(vector::WRONG_KEY));
    assert_eq!(
        wrong_key.verify(&signed(
            vector::PAYLOAD,
            vector::TIMESTAMP,
            vector::SIGNATURE
        )),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn payload_without_trailing_crlf_fails() {
    let src = source(Some(vector::PUBLIC_KEY));
    let trimmed = vector::PAYLOAD.trim_end();
    assert_eq!(
        src.verify(&signed(trimmed, vector::TIMESTAMP, vector::SIGNATURE)),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn stale_timestamp_is_refused() {
    let src = source(Some(vector::PUBLIC_KEY));
    let mut req = signed(vector::PAYLOAD, vector::TIMESTAMP, vector::SIGNATURE);
    req.received_at = Utc::now();
    assert_eq!(src.verify(&req), Err(VerifyError::Stale));
    // Ten minutes either side is accepted; one second more is not.
    let at = vector_time();
    check_freshness(vector::TIMESTAMP, at + chrono::Duration::seconds(600)).unwrap();
    check_freshness(vector::TIMESTAMP, at - chrono::Duration::seconds(600)).unwrap();
    assert_eq!(
        check_freshness(vector::TIMESTAMP, at + chrono::Duration::seconds(601)),
        Err(VerifyError::Stale)
    );
    assert!(matches!(
        check_freshness("soon", at),
        Err(VerifyError::MalformedHeader(_))
    ));
}

#[test]
fn missing_and_malformed_headers() {
    let src = source(Some(vector::PUBLIC_KEY));
    let body = vector::PAYLOAD.as_bytes();
    assert_eq!(
        src.verify(&request(
            body,
            &[(TIMESTAMP_HEADER, vector::TIMESTAMP)],
            vector_time()
        )),
        Err(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))
    );
    assert_eq!(
        src.verify(&request(
            body,
            &[(SIGNATURE_HEADER, vector::SIGNATURE)],
            vector_time()
        )),
        Err(VerifyError::MissingHeader(TIMESTAMP_HEADER.into()))
    );
    assert!(matches!(
        src.verify(&signed(vector::PAYLOAD, vector::TIMESTAMP, "not base64!")),
        Err(VerifyError::MalformedHeader(_))
    ));
    assert!(matches!(
        src.verify(&signed(vector::PAYLOAD, vector::TIMESTAMP, "AAAA")),
        Err(VerifyError::MalformedHeader(_))
    ));
}

#[test]
fn freshly_signed_request_with_a_rotated_key() {
    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let public = public_key_base64(&key).unwrap();
    let src = source(Some(&public));
    let now = Utc::now();
    let ts = now.timestamp().to_string();
    let body = br#"[{"event":"delivered"}]"#;
    let req = request(
        body,
        &[
            (SIGNATURE_HEADER, &sign(&key, &ts, body)),
            (TIMESTAMP_HEADER, &ts),
        ],
        now,
    );
    src.verify(&req).unwrap();
    // The same request against the old (official) key fails.
    assert_eq!(
        source(Some(vector::PUBLIC_KEY)).verify(&req),
        Err(VerifyError::Mismatch)
    );
    // A tampered body fails.
    let mut tampered = req.clone();
    tampered.body = bytes::Bytes::from_static(br#"[{"event":"bounce"}]"#);
    assert_eq!(src.verify(&tampered), Err(VerifyError::Mismatch));
}

#[test]
fn pem_wrapped_key_is_accepted() {
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
        &vector::PUBLIC_KEY[..64],
        &vector::PUBLIC_KEY[64..]
    );
    assert_eq!(
        parse_public_key(&pem).unwrap(),
        parse_public_key(vector::PUBLIC_KEY).unwrap()
    );
    assert!(parse_public_key("bm90IGEga2V5").is_err());
    assert!(parse_public_key("").is_err());
}

#[test]
fn closed_when_no_key_or_a_bad_key() {
    let closed = source(None);
    assert!(closed.requires_signature());
    assert_eq!(
        closed.verify(&request(b"[]", &[], Utc::now())),
        Err(VerifyError::MissingCredentials)
    );
    // Without a key even SendGrid's genuine signature cannot be checked: refused.
    assert_eq!(
        closed.verify(&signed(
            vector::PAYLOAD,
            vector::TIMESTAMP,
            vector::SIGNATURE
        )),
        Err(VerifyError::MissingCredentials)
    );

    let broken = source(Some("not a key"));
    assert_eq!(
        broken.verify(&signed(
            vector::PAYLOAD,
            vector::TIMESTAMP,
            vector::SIGNATURE
        )),
        Err(VerifyError::MissingCredentials)
    );
}
