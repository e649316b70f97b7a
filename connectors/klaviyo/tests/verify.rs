//! Klaviyo signature and shared-secret checks.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{Source, VerifyError};
use cartback_kit::{Secret, SecretList};
use cartback_klaviyo::verify::sign;
use cartback_klaviyo::{KlaviyoSettings, KlaviyoSource};
use common::{flow, now, settings, signed, SECRET, TIMESTAMP};

const BODY: &[u8] = br#"{"data":[],"meta":{"klaviyo_webhook_id":"x"}}"#;

#[test]
fn valid_signature() {
    let src = KlaviyoSource::new(settings());
    assert_eq!(src.kind(), "klaviyo");
    assert!(src.mounts().is_empty());
    src.verify(&signed(BODY, &[])).unwrap();
    // The signed content is body + timestamp: recompute by hand.
    let by_hand = hex::encode(cartback_kit::hmac_sha256(
        SECRET.as_bytes(),
        &[&[BODY, TIMESTAMP.as_bytes()].concat()],
    ));
    assert_eq!(sign(SECRET, BODY, TIMESTAMP), by_hand);
    // Upper-case hex is the same digest.
    let upper = by_hand.to_uppercase();
    src.verify(&signed(BODY, &[("klaviyo-signature", &upper)]))
        .unwrap();
}

#[test]
fn tampered_body_timestamp_or_secret() {
    let src = KlaviyoSource::new(settings());
    let mut tampered = signed(BODY, &[]);
    tampered.body = bytes::Bytes::from_static(br#"{"data":[1],"meta":{"klaviyo_webhook_id":"x"}}"#);
    assert_eq!(src.verify(&tampered), Err(VerifyError::Mismatch));
    // Moving the timestamp (still fresh) breaks the signature.
    assert_eq!(
        src.verify(&signed(
            BODY,
            &[("klaviyo-timestamp", "2026-11-20T15:59:31Z")]
        )),
        Err(VerifyError::Mismatch)
    );
    let other = KlaviyoSource::new(KlaviyoSettings::new(SecretList::new(vec![Secret::new(
        "someone-else",
    )])));
    assert_eq!(other.verify(&signed(BODY, &[])), Err(VerifyError::Mismatch));
    assert!(matches!(
        src.verify(&signed(BODY, &[("klaviyo-signature", "not-hex")])),
        Err(VerifyError::MalformedHeader(_))
    ));
}

#[test]
fn stale_and_future_timestamps() {
    let src = KlaviyoSource::new(settings());
    for ts in ["2026-11-20T15:49:00Z", "2026-11-20T16:11:00Z"] {
        let req = signed(
            BODY,
            &[
                ("klaviyo-timestamp", ts),
                ("klaviyo-signature", &sign(SECRET, BODY, ts)),
            ],
        );
        assert_eq!(src.verify(&req), Err(VerifyError::Stale), "{ts}");
    }
    // A custom window.
    let mut s = settings();
    s.max_age = Some(cartback_core::duration::HumanDuration(
        std::time::Duration::from_secs(20),
    ));
    assert_eq!(
        KlaviyoSource::new(s).verify(&signed(BODY, &[])),
        Err(VerifyError::Stale)
    );
    // Unreadable timestamp, correctly signed.
    let req = signed(
        BODY,
        &[
            ("klaviyo-timestamp", "soon"),
            ("klaviyo-signature", &sign(SECRET, BODY, "soon")),
        ],
    );
    assert!(matches!(
        src.verify(&req),
        Err(VerifyError::MalformedHeader(_))
    ));
}

#[test]
fn epoch_seconds_and_milliseconds() {
    let src = KlaviyoSource::new(settings());
    let secs = (now().timestamp() - 60).to_string();
    let millis = (now().timestamp_millis() - 60_000).to_string();
    for ts in [secs, millis] {
        let req = signed(
            BODY,
            &[
                ("klaviyo-timestamp", &ts),
                ("klaviyo-signature", &sign(SECRET, BODY, &ts)),
            ],
        );
        src.verify(&req).unwrap();
    }
    let old = (now().timestamp() - 3600).to_string();
    let req = signed(
        BODY,
        &[
            ("klaviyo-timestamp", &old),
            ("klaviyo-signature", &sign(SECRET, BODY, &old)),
        ],
    );
    assert_eq!(src.verify(&req), Err(VerifyError::Stale));
}

#[test]
fn missing_headers() {
    let src = KlaviyoSource::new(settings());
    assert_eq!(
        src.verify(&signed(
            BODY,
            &[("klaviyo-signature", ""), ("klaviyo-timestamp", "")]
        )),
        Err(VerifyError::MissingHeader("Klaviyo-Signature".into()))
    );
    assert_eq!(
        src.verify(&signed(BODY, &[("klaviyo-timestamp", "")])),
        Err(VerifyError::MissingHeader("Klaviyo-Timestamp".into()))
    );
    assert!(matches!(
        src.verify(&signed(BODY, &[("klaviyo-signature", " ")])),
        Err(VerifyError::MissingHeader(_))
    ));
}

#[test]
fn shared_secret_header_for_flow_webhooks() {
    let src = KlaviyoSource::new(settings());
    src.verify(&flow(b"anything", &[])).unwrap();
    assert_eq!(
        src.verify(&flow(b"anything", &[("x-cartback-secret", "guess")])),
        Err(VerifyError::Mismatch)
    );
    // Rotation: every listed secret is accepted, for both modes.
    let rotated = KlaviyoSource::new(KlaviyoSettings::new(SecretList::new(vec![
        Secret::new("the-new-one"),
        Secret::new(SECRET),
    ])));
    rotated.verify(&flow(b"{}", &[])).unwrap();
    rotated
        .verify(&flow(b"{}", &[("x-cartback-secret", "the-new-one")]))
        .unwrap();
    rotated.verify(&signed(BODY, &[])).unwrap();
    // A signature, when present, is what counts.
    let both = signed(
        BODY,
        &[
            ("klaviyo-signature", &"0".repeat(64)),
            ("x-cartback-secret", SECRET),
        ],
    );
    assert_eq!(src.verify(&both), Err(VerifyError::Mismatch));
}

#[test]
fn settings_are_strict_and_validated() {
    let typo: Result<KlaviyoSettings, _> = serde_json::from_str(r#"{"secret":"s","max_aeg":"1m"}"#);
    assert!(typo
        .unwrap_err()
        .to_string()
        .contains("unknown field `max_aeg`"));
    let s: KlaviyoSettings = serde_json::from_str(r#"{"secret":"s"}"#).unwrap();
    assert_eq!(s.max_age(), std::time::Duration::from_secs(600));
    s.validate().unwrap();
    let s: KlaviyoSettings =
        serde_json::from_str(r#"{"secret":["a","b"],"max_age":"1h"}"#).unwrap();
    assert_eq!(s.max_age(), std::time::Duration::from_secs(3600));
    for bad in [
        r#"{"secret": ""}"#,
        r#"{"secret": " "}"#,
        r#"{"secret": "a", "max_age": "0s"}"#,
        r#"{"secret": "a", "max_age": "soon"}"#,
        r#"{"max_age": "1m"}"#,
    ] {
        let checked = serde_json::from_str::<KlaviyoSettings>(bad)
            .map_err(|e| e.to_string())
            .and_then(|s| s.validate());
        assert!(checked.is_err(), "{bad}");
    }
}
