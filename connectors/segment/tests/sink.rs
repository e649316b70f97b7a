//! The hand-off sink against a wiremock Segment: the exact `POST /v1/batch` for both purposes
//! (method, path, basic auth with the write key, JSON body against
//! `tests/fixtures/batch_*.expected.json` and the documented example of platforms-out.md §3), the
//! `userId` / `anonymousId` rules, Segment's answers (401/403 a refused credential, 400 with its
//! reason, 429 after `Retry-After` or `X-RateLimit-Reset`), what is refused before any request,
//! and the loop guard: the hub's own batch, read back by the Segment source, makes nothing. The
//! generic status table (5xx, other 4xx, timeout, closed port) is also run by the sink suite:
//! `tests/conformance.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, DeliveryError, OutboundMessage, Purpose, Sink, SinkContext, Source};
use cartback_segment::config::UserId;
use cartback_segment::sink::{identity, message_id, Identity};
use cartback_segment::verify::basic_auth;
use cartback_segment::{SegmentChannelSettings, SegmentSink, SegmentSource};
use common::{
    api_request, channel, converted, fixture, message, settings, CHANNEL_KEY, MESSAGE_ID,
};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "segment".into(),
        public_url: "https://hub.example".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(settings: SegmentChannelSettings) -> SegmentSink {
    SegmentSink::new(settings, ctx()).unwrap()
}

/// A Segment that answers every `POST /v1/batch` with `template`.
async fn segment(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/batch"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn sent(settings: SegmentChannelSettings, message: &OutboundMessage) -> Value {
    let server = segment(ResponseTemplate::new(200).set_body_json(json!({"success": true}))).await;
    let mut s = settings;
    s.base_url = Some(server.uri());
    sink(s).deliver(message).await.unwrap();
    bodies(&server).await.remove(0)
}

/// A golden batch, with this build's version in `context.library`.
fn expected(name: &str) -> Value {
    let mut v: Value = serde_json::from_slice(&fixture(name)).unwrap();
    for m in v["batch"].as_array_mut().unwrap() {
        m["context"]["library"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    }
    v
}

#[tokio::test]
async fn a_reminder_is_one_batch_of_identify_and_track() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/batch"))
        .and(header("authorization", basic_auth(CHANNEL_KEY).as_str()))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;
    let sink = sink(channel(&server.uri()));
    assert_eq!(sink.kind(), "segment");
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id, None, "Segment gives no id");

    let requests = server.received_requests().await.unwrap();
    // The documented form: base64 of the write key and a colon (`abc123` → `YWJjMTIzOg==`).
    assert_eq!(basic_auth("abc123"), "Basic YWJjMTIzOg==");
    assert!(requests[0].body.len() < 500 * 1024);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body, expected("batch_reminder.expected.json"));

    // The documented example (platforms-out.md §3), field by field.
    let (identify, track) = (&body["batch"][0], &body["batch"][1]);
    assert_eq!(identify["type"], "identify");
    assert_eq!(identify["userId"], "cust_42");
    assert_eq!(identify["traits"]["email"], "ann@example.com");
    assert_eq!(identify["traits"]["phone"], "+15555550100");
    assert_eq!(identify["messageId"], format!("{MESSAGE_ID}-identify"));
    assert_eq!(track["type"], "track");
    assert_eq!(track["userId"], "cust_42");
    assert_eq!(track["event"], "Checkout Started");
    assert_eq!(track["messageId"], format!("{MESSAGE_ID}-track"));
    assert_eq!(track["context"]["traits"]["email"], "ann@example.com");
    assert_eq!(track["context"]["library"]["name"], "cartback");
    let p = &track["properties"];
    assert_eq!(p["cart_id"], "cart_8f2c");
    assert_eq!(p["value"], json!(59.98));
    assert_eq!(p["currency"], "EUR");
    assert_eq!(p["checkout_url"], "https://hub.example/r/8f2c?t=abc");
    let product = &p["products"][0];
    for (key, value) in [
        ("product_id", json!("p1")),
        ("sku", json!("MUG-1")),
        ("name", json!("Mug")),
        ("variant", json!("Blue")),
        ("price", json!(29.99)),
        ("quantity", json!(2)),
        ("url", json!("https://hub.example/t/abc1")),
        ("image_url", json!("https://cdn.example/mug.jpg")),
    ] {
        assert_eq!(product[key], value, "products[0].{key}");
    }
    assert!(
        track.get("timestamp").is_none(),
        "Segment dates it on receipt"
    );
    assert!(p.get("test").is_none());
}

#[tokio::test]
async fn a_bought_cart_is_one_order_completed_track() {
    let body = sent(channel("http://unused"), &converted()).await;
    assert_eq!(body, expected("batch_converted.expected.json"));
    let track = &body["batch"][0];
    assert_eq!(body["batch"].as_array().unwrap().len(), 1, "no identify");
    assert_eq!(track["event"], "Order Completed");
    assert_eq!(track["properties"]["order_id"], "1001");
    assert_eq!(track["properties"]["total"], json!(54.98));
    assert_eq!(track["timestamp"], "2026-11-27T12:30:05.000Z");
    assert_eq!(
        track["messageId"],
        "0193a6f0-7c1e-7b7a-9f00-00000000c8f3-track"
    );

    // Without the order's total, the cart's; without the cart, the order alone.
    let mut m = converted();
    if let Purpose::Converted { total, .. } = &mut m.purpose {
        *total = None;
    }
    let body = sent(channel("http://unused"), &m).await;
    assert_eq!(body["batch"][0]["properties"]["total"], json!(59.98));
    m.cart = None;
    let body = sent(channel("http://unused"), &m).await;
    let p = &body["batch"][0]["properties"];
    assert_eq!(p["order_id"], "1001");
    assert_eq!(p["cart_id"], "cart_8f2c");
    assert!(p.get("products").is_none() && p.get("total").is_none());
}

#[tokio::test]
async fn settings_name_the_events_and_a_test_is_marked() {
    let mut s = channel("http://unused");
    s.event_name = Some("Cart Abandoned".into());
    s.converted_event_name = Some("Cart Recovered".into());
    let mut test = message();
    test.test = true;
    let body = sent(s.clone(), &test).await;
    assert_eq!(body["batch"][1]["event"], "Cart Abandoned");
    assert_eq!(body["batch"][1]["properties"]["test"], true);
    let body = sent(s, &converted()).await;
    assert_eq!(body["batch"][0]["event"], "Cart Recovered");
}

#[test]
fn who_the_messages_are_about() {
    let m = message();
    let who = |m: &OutboundMessage, u: UserId| {
        let c = m.contact.clone().unwrap_or_default();
        identity(m, &c, u)
    };
    assert_eq!(who(&m, UserId::Platform), Identity::User("cust_42".into()));
    assert_eq!(who(&m, UserId::Hub), Identity::User("contact_42".into()));
    assert_eq!(
        who(&m, UserId::None),
        Identity::Anonymous("cartback:contact_42".into())
    );
    // A contact the shop's tracking knew only anonymously keeps that anonymousId.
    let mut anon = message();
    anon.contact.as_mut().unwrap().external_id =
        Some("anon:0e3ad4c3-6c1a-4d8b-9a6e-2f1b7c9d0e11".into());
    for u in [UserId::Platform, UserId::None] {
        assert_eq!(
            who(&anon, u),
            Identity::Anonymous("0e3ad4c3-6c1a-4d8b-9a6e-2f1b7c9d0e11".into())
        );
    }
    // Nothing from the platform: the hub's id, anonymously; no hub id: the cart's.
    let mut bare = message();
    bare.contact.as_mut().unwrap().external_id = None;
    assert_eq!(
        who(&bare, UserId::Platform),
        Identity::Anonymous("cartback:contact_42".into())
    );
    bare.cart.as_mut().unwrap().contact_id = None;
    assert_eq!(
        who(&bare, UserId::Hub),
        Identity::Anonymous("cartback-cart:cart_8f2c".into())
    );
    // metadata's contact id comes first.
    bare.metadata
        .insert("contact_id".into(), "contact_9".into());
    assert_eq!(who(&bare, UserId::Hub), Identity::User("contact_9".into()));
}

#[tokio::test]
async fn the_ids_reach_the_wire() {
    let mut s = channel("http://unused");
    s.user_id = UserId::None;
    let body = sent(s, &message()).await;
    for m in body["batch"].as_array().unwrap() {
        assert_eq!(m["anonymousId"], "cartback:contact_42");
        assert!(m.get("userId").is_none());
    }
}

#[test]
fn message_ids_stay_under_a_hundred_characters() {
    assert_eq!(message_id("m-1", "track"), "m-1-track");
    let long = "x".repeat(120);
    let id = message_id(&long, "identify");
    assert!(id.len() < 100, "{id}");
    assert!(id.ends_with("-identify"));
    assert_eq!(id, message_id(&long, "identify"), "the same on every retry");
    assert_ne!(message_id(&long, "track"), id);
}

#[tokio::test]
async fn refused_credentials_say_so() {
    for status in [401, 403] {
        let server =
            segment(ResponseTemplate::new(status).set_body_string("Invalid write key")).await;
        match sink(channel(&server.uri())).deliver(&message()).await {
            Err(DeliveryError::Permanent { reason }) => {
                assert!(reason.starts_with("credential refused:"), "{reason}");
                assert!(reason.contains("Invalid write key"), "{reason}");
                assert!(!reason.contains(CHANNEL_KEY), "{reason}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_bad_request_keeps_segments_reason() {
    let body = json!({"code": "invalid_request", "message": "batch[1].event is required"});
    let server = segment(ResponseTemplate::new(400).set_body_json(body)).await;
    match sink(channel(&server.uri())).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert_eq!(reason, "HTTP 400: batch[1].event is required")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn throttled_is_retried_when_segment_says() {
    let server = segment(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "3")
            .insert_header("X-RateLimit-Reset", "9"),
    )
    .await;
    match sink(channel(&server.uri())).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)))
        }
        other => panic!("{other:?}"),
    }
    let server = segment(ResponseTemplate::new(429).insert_header("X-RateLimit-Reset", "9")).await;
    match sink(channel(&server.uri())).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(9)))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unsendable_hand_offs_are_permanent_without_a_request() {
    let server = segment(ResponseTemplate::new(200)).await;
    let sink = sink(channel(&server.uri()));
    let mut no_cart = message();
    no_cart.cart = None;
    let mut huge = message();
    let item = huge.cart.as_ref().unwrap().items[0].clone();
    huge.cart.as_mut().unwrap().items = vec![item; 400];
    for (m, says) in [(no_cart, "no cart"), (huge, "at most 32768")] {
        match sink.deliver(&m).await {
            Err(DeliveryError::Permanent { reason }) => assert!(reason.contains(says), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn the_key_stays_out_of_debug() {
    let sink = sink(channel("http://127.0.0.1:9"));
    let shown = format!("{sink:?} {sink:#?}");
    assert!(!shown.contains(CHANNEL_KEY), "{shown}");
    assert!(!shown.contains(basic_auth(CHANNEL_KEY).trim_start_matches("Basic ")));
}

/// The hub's own batch, come back through a Webhooks destination (or a shop's SDK pointed at
/// the same source), is skipped whole; the same batch from anyone else makes a checkout.
#[test]
fn the_hubs_own_messages_do_not_come_back_as_carts() {
    let sink = sink(channel("http://127.0.0.1:9"));
    let body = serde_json::to_vec(&sink.request_body(&message()).unwrap()).unwrap();
    let source = SegmentSource::new(settings());
    let req = api_request("/v1/batch", &body);
    let t = source.translate(verify(&source, &req).unwrap()).unwrap();
    assert!(t.events.is_empty(), "{t:?}");
    assert!(t.ignored.is_some());

    let mut other: Value = serde_json::from_slice(&body).unwrap();
    for m in other["batch"].as_array_mut().unwrap() {
        m["context"]["library"]["name"] = json!("analytics-node");
    }
    let req = api_request("/v1/batch", &serde_json::to_vec(&other).unwrap());
    let t = source.translate(verify(&source, &req).unwrap()).unwrap();
    let topics: Vec<&str> = t.events.iter().map(|e| e.topic.as_str()).collect();
    assert!(topics.contains(&"Checkout Started"), "{topics:?}");
}
