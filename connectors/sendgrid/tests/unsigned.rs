//! "SendGrid events without a key are trusted": with no `event_webhook_public_key`, a forged,
//! unsigned `group_resubscribe` posted to `/webhooks/<channel>` turned an unsubscribed shopper
//! back to subscribed. These tests post that forgery and show it is refused unless the config
//! opts in with `allow_unsigned_events = true`.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, EventKind, OptOut, Source, VerifyError};
use cartback_sendgrid::verify::{public_key_base64, sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use cartback_sendgrid::{SendGridEvents, SendGridSettings};
use chrono::Utc;
use common::{request, settings, vector};
use p256::ecdsa::SigningKey;

/// What an attacker posts: an unsigned resubscription of an address that opted out.
const FORGED_RESUBSCRIBE: &[u8] = br#"[{"email":"left@example.com","timestamp":1763656200,
    "event":"group_resubscribe","sg_event_id":"forged-1","asm_group_id":10}]"#;

fn channel() -> SendGridSettings {
    settings("http://127.0.0.1:1")
}

fn forged() -> cartback_core::InboundRequest {
    request(FORGED_RESUBSCRIBE, &[], Utc::now())
}

#[test]
fn forged_resubscribe_is_refused_without_a_key() {
    let src = SendGridEvents::new(channel());
    assert!(src.requires_signature());
    assert_eq!(src.verify(&forged()), Err(VerifyError::MissingCredentials));
    // Nothing reaches translation: `cartback_core::verify` is the only way to a `Verified`.
    assert!(verify(&src, &forged()).is_err());
}

#[test]
fn forged_resubscribe_with_made_up_headers_is_refused_without_a_key() {
    let src = SendGridEvents::new(channel());
    let req = request(
        FORGED_RESUBSCRIBE,
        &[
            (SIGNATURE_HEADER, "MEUCIQ=="),
            (TIMESTAMP_HEADER, "1763656200"),
        ],
        Utc::now(),
    );
    assert_eq!(src.verify(&req), Err(VerifyError::MissingCredentials));
}

#[test]
fn unsigned_events_are_accepted_when_explicitly_allowed() {
    let mut s = channel();
    s.allow_unsigned_events = true;
    s.validate().unwrap();
    assert_eq!(s.warnings().len(), 1);
    let src = SendGridEvents::new(s);
    assert!(!src.requires_signature());
    let t = src.translate(verify(&src, &forged()).unwrap()).unwrap();
    assert!(matches!(
        &t.events[0].kind,
        EventKind::OptOut(OptOut { resubscribe: true, address, .. }) if address == "left@example.com"
    ));
}

#[test]
fn with_a_key_the_forgery_is_refused_and_signed_events_pass() {
    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let mut s = channel();
    s.event_webhook_public_key = Some(public_key_base64(&key).unwrap());
    s.validate().unwrap();
    assert!(s.warnings().is_empty());
    let src = SendGridEvents::new(s);
    assert!(matches!(
        src.verify(&forged()),
        Err(VerifyError::MissingHeader(_))
    ));
    let ts = Utc::now().timestamp().to_string();
    let sig = sign(&key, &ts, FORGED_RESUBSCRIBE);
    let genuine = request(
        FORGED_RESUBSCRIBE,
        &[(SIGNATURE_HEADER, &sig), (TIMESTAMP_HEADER, &ts)],
        Utc::now(),
    );
    src.verify(&genuine).unwrap();
}

#[test]
fn a_key_and_allow_unsigned_events_together_are_rejected() {
    let mut s = channel();
    s.event_webhook_public_key = Some(vector::PUBLIC_KEY.into());
    s.allow_unsigned_events = true;
    let err = s.validate().unwrap_err();
    assert!(err.contains("allow_unsigned_events"), "{err}");
    assert!(err.contains("event_webhook_public_key"), "{err}");
    // Even if such settings are used anyway, the key wins: unsigned events stay refused.
    let src = SendGridEvents::new(s);
    assert!(src.requires_signature());
    assert!(src.verify(&forged()).is_err());
}
