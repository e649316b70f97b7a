//! The hand-off sink against a wiremock Klaviyo: the exact Create Event request for both
//! purposes (method, path, headers, JSON:API body against `tests/fixtures/event_*.expected.json`
//! and the documented example of platforms-out.md §1), the settings that change it, Klaviyo's
//! answers (401/403 a refused credential, 400 naming the field, 429 after `Retry-After` or
//! `RateLimit-Reset`), and what is refused before any request. The generic status table (5xx,
//! other 4xx, timeout, closed port) is also run by the sink suite: `tests/conformance.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, OutboundMessage, Sink, SinkContext};
use cartback_klaviyo::config::ExternalId;
use cartback_klaviyo::{KlaviyoChannelSettings, KlaviyoSink};
use common::{channel, converted, fixture, message, API_KEY, MESSAGE_ID};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "klaviyo".into(),
        public_url: "https://hub.example".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(settings: KlaviyoChannelSettings) -> KlaviyoSink {
    KlaviyoSink::new(settings, ctx()).unwrap()
}

/// A Klaviyo that answers every `POST /api/events` with `template`.
async fn klaviyo(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/events"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

/// The JSON bodies Klaviyo received, in order.
async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn sent(settings: KlaviyoChannelSettings, message: &OutboundMessage) -> Value {
    let server = klaviyo(ResponseTemplate::new(202)).await;
    let mut s = settings;
    s.base_url = Some(server.uri());
    sink(s).deliver(message).await.unwrap();
    bodies(&server).await.remove(0)
}

fn expected(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

#[tokio::test]
async fn a_reminder_is_one_documented_create_event_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/events"))
        .and(header(
            "authorization",
            format!("Klaviyo-API-Key {API_KEY}").as_str(),
        ))
        .and(header("revision", "2026-07-15"))
        .and(header("content-type", "application/vnd.api+json"))
        .and(header("accept", "application/vnd.api+json"))
        // Klaviyo's answer: 202, validated and queued, no body.
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let sink = sink(channel(&server.uri()));
    assert_eq!(sink.kind(), "klaviyo");

    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id, None, "a 202 has no body");

    let body = bodies(&server).await.remove(0);
    assert_eq!(body, expected("event_reminder.expected.json"));
    // The documented example (platforms-out.md §1), field by field.
    let a = &body["data"]["attributes"];
    assert_eq!(body["data"]["type"], "event");
    assert_eq!(a["metric"]["data"]["type"], "metric");
    assert_eq!(
        a["metric"]["data"]["attributes"]["name"],
        "Started Checkout"
    );
    assert_eq!(a["profile"]["data"]["type"], "profile");
    let p = &a["profile"]["data"]["attributes"];
    assert_eq!(p["email"], "ann@example.com");
    assert_eq!(p["phone_number"], "+15555550100");
    assert_eq!(p["external_id"], "contact_42", "the hub's contact id");
    assert_eq!(a["unique_id"], MESSAGE_ID, "the hub's message id");
    assert_eq!(a["value"], json!(59.98));
    assert_eq!(a["value_currency"], "EUR");
    assert!(a.get("time").is_none(), "Klaviyo dates it on receipt");
    assert!(
        a.get("backfill").is_none(),
        "backfilled events trigger no flow"
    );
    let props = &a["properties"];
    assert_eq!(props["CartID"], "cart_8f2c");
    assert_eq!(props["CheckoutURL"], "https://hub.example/r/8f2c?t=abc");
    assert_eq!(props["ItemNames"], json!(["Mug"]));
    let item = &props["Items"][0];
    for (key, value) in [
        ("ProductID", json!("p1")),
        ("SKU", json!("MUG-1")),
        ("ProductName", json!("Mug")),
        ("Quantity", json!(2)),
        ("ItemPrice", json!(29.99)),
        ("RowTotal", json!(59.98)),
        ("ProductURL", json!("https://hub.example/t/abc1")),
        ("ImageURL", json!("https://cdn.example/mug.jpg")),
    ] {
        assert_eq!(item[key], value, "Items[0].{key}");
    }
    assert_eq!(props["DiscountCode"], "COMEBACK10");
    assert_eq!(props["FlowID"], "abandoned");
    assert_eq!(props["FlowStep"], 1);
    assert_eq!(props["Variant"], "b");
    assert!(props.get("Test").is_none());
}

#[tokio::test]
async fn a_bought_cart_is_the_recovered_metric_with_order_and_value() {
    let body = sent(channel("http://unused"), &converted()).await;
    assert_eq!(body, expected("event_converted.expected.json"));
    let a = &body["data"]["attributes"];
    assert_eq!(
        a["metric"]["data"]["attributes"]["name"],
        "Cartback Cart Recovered"
    );
    assert_eq!(a["properties"]["OrderID"], "1001");
    assert_eq!(a["value"], json!(54.98), "the order's total");
    assert_eq!(
        a["time"], "2026-11-27T12:30:05Z",
        "when the order was placed"
    );
    assert_eq!(a["unique_id"], "0193a6f0-7c1e-7b7a-9f00-00000000c8f3");
    assert!(a["properties"].get("CheckoutURL").is_none());

    // Without the order's total, the cart's.
    let mut m = converted();
    if let cartback_core::Purpose::Converted { total, .. } = &mut m.purpose {
        *total = None;
    }
    let body = sent(channel("http://unused"), &m).await;
    assert_eq!(body["data"]["attributes"]["value"], json!(59.98));
}

#[tokio::test]
async fn settings_name_the_metrics_the_revision_and_the_external_id() {
    let server = klaviyo(ResponseTemplate::new(202)).await;
    let mut s = channel(&server.uri());
    s.event_name = Some("Cartback Abandoned Cart".into());
    s.converted_event_name = Some("Cart Won Back".into());
    s.revision = Some("2026-10-15".into());
    s.external_id = ExternalId::Platform;
    let sink = sink(s);
    let mut test = message();
    test.test = true;
    sink.deliver(&test).await.unwrap();
    sink.deliver(&converted()).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert!(requests
        .iter()
        .all(|r| r.headers.get("revision").unwrap() == "2026-10-15"));
    let got = bodies(&server).await;
    let name = |b: &Value| b["data"]["attributes"]["metric"]["data"]["attributes"]["name"].clone();
    assert_eq!(name(&got[0]), "Cartback Abandoned Cart");
    assert_eq!(name(&got[1]), "Cart Won Back");
    assert_eq!(
        got[0]["data"]["attributes"]["profile"]["data"]["attributes"]["external_id"],
        "shopify-7001",
        "the shop platform's id"
    );
    assert_eq!(got[0]["data"]["attributes"]["properties"]["Test"], true);

    // external_id = "none": matched on email and phone alone.
    let mut s = channel("http://unused");
    s.external_id = ExternalId::None;
    let body = sent(s, &message()).await;
    let p = &body["data"]["attributes"]["profile"]["data"]["attributes"];
    assert!(p.get("external_id").is_none());
    assert_eq!(p["email"], "ann@example.com");
}

#[tokio::test]
async fn the_profile_falls_back_to_the_recipient_and_leaves_unknowns_out() {
    let mut m = message();
    m.contact = None;
    m.to.phone = None;
    m.metadata.remove("variant");
    m.discount_code = None;
    let body = sent(channel("http://unused"), &m).await;
    let p = &body["data"]["attributes"]["profile"]["data"]["attributes"];
    assert_eq!(
        p,
        &json!({"email": "ann@example.com", "external_id": "contact_42"})
    );
    let props = &body["data"]["attributes"]["properties"];
    for absent in ["Variant", "DiscountCode", "EmailConsent", "SMSConsent"] {
        assert!(props.get(absent).is_none(), "{absent}");
    }
}

#[tokio::test]
async fn refused_credentials_say_so() {
    for status in [401, 403] {
        let body = json!({"errors": [{
            "id": "e1", "status": status, "code": "not_authenticated",
            "title": "Authentication credentials were not provided.",
            "detail": "Missing or invalid private key."
        }]});
        let server = klaviyo(ResponseTemplate::new(status).set_body_json(body)).await;
        match sink(channel(&server.uri())).deliver(&message()).await {
            Err(DeliveryError::Permanent { reason }) => {
                assert!(reason.starts_with("credential refused:"), "{reason}");
                assert!(
                    reason.contains("Missing or invalid private key."),
                    "{reason}"
                );
                assert!(!reason.contains(API_KEY), "{reason}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_refused_field_is_named() {
    let body = json!({"errors": [{
        "id": "e2", "status": 400, "code": "invalid", "title": "Invalid input.",
        "detail": "Invalid phone number format (Example of a valid format: +12345678901)",
        "source": {"pointer": "/data/attributes/profile/data/attributes/phone_number"}
    }]});
    let server = klaviyo(ResponseTemplate::new(400).set_body_json(body)).await;
    match sink(channel(&server.uri())).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => assert_eq!(
            reason,
            "HTTP 400: /data/attributes/profile/data/attributes/phone_number: Invalid phone \
             number format (Example of a valid format: +12345678901)"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn throttled_is_retried_when_klaviyo_says() {
    let server = klaviyo(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "12")
            .insert_header("RateLimit-Reset", "40"),
    )
    .await;
    match sink(channel(&server.uri())).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(12)))
        }
        other => panic!("{other:?}"),
    }
    // Without Retry-After, the window's reset.
    let server = klaviyo(ResponseTemplate::new(429).insert_header("RateLimit-Reset", "40")).await;
    match sink(channel(&server.uri())).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(40)))
        }
        other => panic!("{other:?}"),
    }
    let server = klaviyo(ResponseTemplate::new(503)).await;
    assert!(matches!(
        sink(channel(&server.uri())).deliver(&message()).await,
        Err(DeliveryError::Retryable {
            retry_after: None,
            ..
        })
    ));
}

#[tokio::test]
async fn unsendable_hand_offs_are_permanent_without_a_request() {
    let server = klaviyo(ResponseTemplate::new(202)).await;
    let mut s = channel(&server.uri());
    s.external_id = ExternalId::None;
    let sink = sink(s);

    let mut nobody = message();
    nobody.contact = None;
    nobody.to.email = None;
    nobody.to.phone = None;
    let mut no_cart = message();
    no_cart.cart = None;
    for (m, says) in [
        (nobody, "no email, phone or external id"),
        (no_cart, "no cart"),
    ] {
        match sink.deliver(&m).await {
            Err(DeliveryError::Permanent { reason }) => assert!(reason.contains(says), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());

    // A bought cart needs no cart: the order is the news.
    let mut m = converted();
    m.cart = None;
    sink.deliver(&m).await.unwrap();
    let body = bodies(&server).await.remove(0);
    assert_eq!(body["data"]["attributes"]["properties"]["OrderID"], "1001");
    assert_eq!(
        body["data"]["attributes"]["properties"]["CartID"],
        "cart_8f2c"
    );
}

#[test]
fn the_key_stays_out_of_debug() {
    let sink = sink(channel("http://127.0.0.1:9"));
    let shown = format!("{sink:?} {sink:#?}");
    assert!(!shown.contains(API_KEY), "{shown}");
}
