//! What each credential lets a sender do: a browser write key only makes claims, and a classic
//! Webhooks destination's batch is acted on only as far as its signature reaches.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, EventKind, Source, Trust};
use cartback_kit::{Secret, SecretList};
use cartback_segment::verify::{basic_auth, credential, sign, Credential};
use cartback_segment::{SegmentSettings, SegmentSource};
use common::{request, settings, SERVER_KEY, SHARED_SECRET, WRITE_KEY};

fn checkout(message_id: &str, email: &str, url: &str) -> String {
    format!(
        r#"{{"type":"track","event":"Checkout Started","messageId":"{message_id}","anonymousId":"anon-{message_id}","timestamp":"2026-11-20T15:00:00Z","context":{{"traits":{{"email":"{email}"}}}},"properties":{{"checkout_id":"co-{message_id}","currency":"USD","value":50,"checkout_url":"{url}","products":[{{"product_id":"p1","name":"Mug","price":50,"quantity":1}}]}}}}"#
    )
}

fn trust_of(src: &SegmentSource, req: &cartback_core::InboundRequest) -> Trust {
    src.trust(verify(src, req).unwrap())
}

#[test]
fn a_browser_write_key_only_makes_claims() {
    let src = SegmentSource::new(settings());
    let body = checkout("m1", "victim@example.com", "https://shop.example/c");
    let browser = request(
        "/v1/track",
        body.as_bytes(),
        &[("authorization", &basic_auth(WRITE_KEY))],
    );
    assert_eq!(
        credential(&settings(), &browser),
        Ok(Credential::BrowserKey)
    );
    assert_eq!(trust_of(&src, &browser), Trust::Claimed);

    let server = request(
        "/v1/track",
        body.as_bytes(),
        &[("authorization", &basic_auth(SERVER_KEY))],
    );
    assert_eq!(trust_of(&src, &server), Trust::Verified);

    // The body's writeKey is the same credential as the basic-auth user.
    let in_body = body.replacen('{', &format!(r#"{{"writeKey":"{WRITE_KEY}","#), 1);
    let req = request("/v1/track", in_body.as_bytes(), &[("authorization", "")]);
    assert_eq!(trust_of(&src, &req), Trust::Claimed);
}

#[test]
fn a_signed_webhook_is_believed() {
    let src = SegmentSource::new(settings());
    let body = checkout("m1", "ann@example.com", "https://shop.example/c");
    let sig = sign(SHARED_SECRET, body.as_bytes());
    let req = request("/webhooks/seg", body.as_bytes(), &[("x-signature", &sig)]);
    assert_eq!(credential(&settings(), &req), Ok(Credential::SignedBody));
    assert_eq!(trust_of(&src, &req), Trust::Verified);
}

/// The attack: `[<signed event>, <forged event>]` with the first event's signature. Segment's
/// classic destination signs only `body[0]`, so the forged element must never be acted on.
#[test]
fn a_batch_is_acted_on_only_as_far_as_its_signature_reaches() {
    let src = SegmentSource::new(settings());
    let signed = checkout("m1", "ann@example.com", "https://shop.example/c");
    let forged = checkout("m2", "stranger@example.com", "http://evil.example/login");
    let body = format!("[{signed},{forged}]");
    let sig = sign(SHARED_SECRET, signed.as_bytes());
    let req = request("/webhooks/seg", body.as_bytes(), &[("x-signature", &sig)]);
    assert_eq!(
        credential(&settings(), &req),
        Ok(Credential::SignedFirstElement)
    );
    let t = src.translate(verify(&src, &req).unwrap()).unwrap();
    assert_eq!(t.events.len(), 1, "{t:?}");
    let EventKind::CheckoutStarted(snap) = &t.events[0].kind else {
        panic!("{t:?}")
    };
    assert_eq!(
        snap.contact.as_ref().unwrap().email.as_deref(),
        Some("ann@example.com")
    );
    assert!(!format!("{t:?}").contains("stranger@example.com"));

    // A whole-body signature (Webhooks (Actions)) covers every element.
    let sig = sign(SHARED_SECRET, body.as_bytes());
    let req = request("/webhooks/seg", body.as_bytes(), &[("x-signature", &sig)]);
    let t = src.translate(verify(&src, &req).unwrap()).unwrap();
    assert_eq!(t.events.len(), 2);
}

#[test]
fn key_lists_are_checked() {
    let none: SegmentSettings = serde_json::from_str(r#"{}"#).unwrap();
    assert!(none.validate().unwrap_err().contains("server_write_keys"));
    let both: SegmentSettings =
        serde_json::from_str(r#"{"write_keys":"k1","server_write_keys":["k2","k1"]}"#).unwrap();
    assert!(both.validate().unwrap_err().contains("both"));
    let server_only = SegmentSettings::server(SecretList::new(vec![Secret::new("k")]));
    server_only.validate().unwrap();
}
