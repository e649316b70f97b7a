//! The Omnisend sink against wiremock: the request (method, path, headers, JSON body) for a
//! reminder (checked against platforms-out.md's documented example) and for a purchase, test
//! mode, missing identity, and the statuses the conformance suite leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_omnisend::{OmnisendSettings, OmnisendSink};
use common::{assert_contains, converted, message, API_KEY, MESSAGE_ID};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "omnisend".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut OmnisendSettings)) -> OmnisendSink {
    let mut s = OmnisendSettings::new(Secret::new(API_KEY));
    s.base_url = Some(server.uri());
    edit(&mut s);
    OmnisendSink::new(s, ctx()).unwrap()
}

async fn accepting() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v5/events"))
        .and(header("x-api-key", API_KEY))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    server
}

async fn sent_body(server: &MockServer) -> serde_json::Value {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    serde_json::from_slice(&requests[0].body).unwrap()
}

#[tokio::test]
async fn a_reminder_is_the_documented_started_checkout_event() {
    let server = accepting().await;
    let sink = sink(&server, |_| {});
    assert_eq!(sink.kind(), "omnisend");
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id, None);
    let body = sent_body(&server).await;

    // platforms-out.md section 6, Omnisend's documented example, field for field.
    let documented = json!({"eventName":"started checkout","eventID":"7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0001",
        "eventVersion":"","origin":"api","contact":{"email":"ann@example.com","phone":"+37060000000"},
        "properties":{"cartID":"cart_8f2c","abandonedCheckoutURL":"https://shop.example/r/8f2c?t=abc","value":59.98,"currency":"EUR",
         "lineItems":[{"productID":"p1","productTitle":"Mug","productPrice":29.99,"productImageURL":"https://cdn.example/mug.jpg",
          "productURL":"https://shop.example/p/mug"}]}});
    assert_contains(&body, &documented, "body");

    // The event is real-time: dated when it is handed off.
    let at = common::at(body["eventTime"].as_str().unwrap());
    assert!(at >= before && at <= chrono::Utc::now(), "{at}");
    assert_eq!(body["eventID"], MESSAGE_ID);

    // What the hub adds: names, consent as the hub knows it, its ids, the flow.
    assert_eq!(
        body["contact"],
        json!({
            "email": "ann@example.com",
            "phone": "+37060000000",
            "firstName": "Ann",
            "lastName": "Lee",
            "optIns": [{"channel": "email", "source": "cartback"}],
            "customProperties": {"cartbackContactID": "contact_7"},
        })
    );
    let p = &body["properties"];
    assert_eq!(p["lineItems"][0]["productQuantity"], 2);
    assert_eq!(p["lineItems"][0]["productSKU"], "MUG-1");
    assert_eq!(p["discountCode"], "COMEBACK10");
    assert_eq!(p["cartbackFlowID"], "abandoned");
    assert_eq!(p["cartbackStep"], "1");
    assert_eq!(p["cartbackVariant"], "b");
    assert_eq!(p["cartbackMessageID"], MESSAGE_ID);
    assert!(p.get("cartbackTest").is_none());
    assert!(p.get("orderID").is_none());
}

#[tokio::test]
async fn a_purchase_is_the_placed_order_event() {
    let server = accepting().await;
    sink(&server, |_| {}).deliver(&converted()).await.unwrap();
    let body = sent_body(&server).await;
    assert_contains(
        &body,
        &json!({
            "eventName": "placed order",
            "eventVersion": "v2",
            "eventID": "7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0002",
            "eventTime": "2026-11-27T12:00:00Z",
            "origin": "api",
            "contact": {"email": "ann@example.com"},
            "properties": {
                "orderID": "1001",
                "cartID": "cart_8f2c",
                "totalPrice": 53.98,
                "currency": "EUR",
                "createdAt": "2026-11-27T12:00:00Z",
                "lineItems": [{"productID": "p1", "productTitle": "Mug", "productQuantity": 2, "productPrice": 29.99}],
            },
        }),
        "body",
    );
    assert!(body["properties"].get("abandonedCheckoutURL").is_none());
    assert!(body["properties"].get("value").is_none());
}

#[tokio::test]
async fn event_names_are_configurable_and_custom_events_carry_no_version() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v5/events"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let sink = sink(&server, |s| {
        s.event_name = Some("cartback abandoned cart".into());
        s.converted_event_name = Some("cartback recovered".into());
        s.origin = Some("cartback".into());
    });
    sink.deliver(&message()).await.unwrap();
    sink.deliver(&converted()).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies[0]["eventName"], "cartback abandoned cart");
    assert_eq!(bodies[1]["eventName"], "cartback recovered");
    for b in &bodies {
        assert!(b.get("eventVersion").is_none(), "{b}");
        assert_eq!(b["origin"], "cartback");
    }
}

#[tokio::test]
async fn test_mode_is_marked_and_opt_outs_are_passed_on() {
    let server = accepting().await;
    let mut m = message();
    m.test = true;
    let c = m.contact.as_mut().unwrap();
    c.email_consent = cartback_core::Consent::Unsubscribed;
    c.sms_consent = cartback_core::Consent::Subscribed;
    sink(&server, |_| {}).deliver(&m).await.unwrap();
    let body = sent_body(&server).await;
    assert_eq!(body["properties"]["cartbackTest"], true);
    assert_eq!(
        body["contact"]["optOuts"],
        json!([{"channel": "email", "source": "cartback"}])
    );
    assert_eq!(
        body["contact"]["optIns"],
        json!([{"channel": "sms", "source": "cartback"}])
    );
}

#[tokio::test]
async fn a_contact_without_email_or_phone_is_never_sent() {
    let server = MockServer::start().await;
    let mut m = message();
    m.contact = None;
    m.to = Default::default();
    let err = sink(&server, |_| {}).deliver(&m).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());

    let mut m = message();
    m.cart = None;
    let err = sink(&server, |_| {}).deliver(&m).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
}

#[tokio::test]
async fn the_status_table() {
    for (template, check) in [
        (
            ResponseTemplate::new(400).set_body_json(json!({
                "type": "https://problems.omnisend.com/validation", "title": "Validation failed",
                "errors": [{"field": "properties.lineItems[0].productPrice", "code": "invalid_type", "message": "must be a number"}],
            })),
            "HTTP 400: properties.lineItems[0].productPrice: must be a number",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized"})),
            "credential refused:",
        ),
        (ResponseTemplate::new(403), "credential refused:"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&server)
            .await;
        match sink(&server, |_| {}).deliver(&message()).await {
            Err(DeliveryError::Permanent { reason }) => {
                assert!(reason.starts_with(check), "{reason}");
                assert!(!reason.contains(API_KEY));
            }
            other => panic!("{check}: {other:?}"),
        }
    }

    // A 429 problem+json without Retry-After (Omnisend sends none): retried after a minute.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "type": "https://problems.omnisend.com/rate-limit-exceeded", "title": "Too many requests",
        })))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(60)))
        }
        other => panic!("429: {other:?}"),
    }
}
