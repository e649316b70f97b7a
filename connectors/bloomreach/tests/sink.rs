//! The Bloomreach sink against wiremock: the requests (method, path, headers, JSON body) for a
//! reminder (the customer, then the cart_update event) and for a purchase (the purchase event),
//! the customer id choices, test mode and consent, missing identity, `"success": false`, and
//! the statuses the conformance suite leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use cartback_bloomreach::{BloomreachSettings, BloomreachSink, CustomerId};
use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_kit::Secret;
use common::{assert_contains, converted, message, KEY_ID, MESSAGE_ID, SECRET, TOKEN};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "bloomreach".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut BloomreachSettings)) -> BloomreachSink {
    let mut s = BloomreachSettings::new(TOKEN, KEY_ID, Secret::new(SECRET));
    s.base_url = Some(server.uri());
    edit(&mut s);
    BloomreachSink::new(s, ctx()).unwrap()
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY_ID}:{SECRET}"))
    )
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"success": true}))
}

async fn accepting(customer_calls: u64) -> MockServer {
    let server = MockServer::start().await;
    for (p, n) in [
        (
            format!("/track/v2/projects/{TOKEN}/customers"),
            customer_calls,
        ),
        (format!("/track/v2/projects/{TOKEN}/customers/events"), 1),
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .and(header("authorization", basic().as_str()))
            .and(header("content-type", "application/json"))
            .respond_with(ok())
            .expect(n)
            .mount(&server)
            .await;
    }
    server
}

async fn bodies(server: &MockServer) -> Vec<(String, serde_json::Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_reminder_is_the_customer_then_a_cart_update() {
    let server = accepting(1).await;
    let sink = sink(&server, |_| {});
    assert_eq!(sink.kind(), "bloomreach");
    let before = chrono::Utc::now().timestamp() - 1;
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id, None);
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, format!("/track/v2/projects/{TOKEN}/customers"));
    assert_eq!(
        sent[0].1,
        json!({
            "customer_ids": {"registered": "ann@example.com"},
            "properties": {
                "email": "ann@example.com",
                "phone": "+37060000000",
                "first_name": "Ann",
                "last_name": "Lee",
                "cartback_contact_id": "contact_7",
                "cartback_email_consent": "subscribed",
            },
        })
    );
    assert_eq!(
        sent[1].0,
        format!("/track/v2/projects/{TOKEN}/customers/events")
    );
    let event = &sent[1].1;
    // platforms-out.md section 12: the documented add-event shape with a cart_update.
    assert_contains(
        event,
        &json!({
            "customer_ids": {"registered": "ann@example.com"},
            "event_type": "cart_update",
            "properties": {
                "action": "update",
                "cart_id": "cart_8f2c",
                "cart_url": "https://shop.example/r/8f2c?t=abc",
                "total_price": 59.98,
                "local_currency": "EUR",
                "total_quantity": 2,
                "product_ids": ["p1"],
                "product_list": [{
                    "product_id": "p1", "sku": "MUG-1", "title": "Mug", "quantity": 2, "price": 29.99,
                    "url": "https://shop.example/p/mug", "image_url": "https://cdn.example/mug.jpg",
                }],
                "image_url": "https://cdn.example/mug.jpg",
                "discount_code": "COMEBACK10",
                "cartback_flow_id": "abandoned",
                "cartback_step": "1",
                "cartback_variant": "b",
                "cartback_message_id": MESSAGE_ID,
            },
        }),
        "event",
    );
    let t = event["timestamp"].as_i64().unwrap();
    assert!(t >= before && t <= chrono::Utc::now().timestamp(), "{t}");
    assert!(event["properties"].get("cartback_test").is_none());
    assert!(event["properties"].get("purchase_id").is_none());
}

#[tokio::test]
async fn a_purchase_is_one_purchase_event() {
    let server = accepting(0).await;
    sink(&server, |_| {}).deliver(&converted()).await.unwrap();
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    assert_contains(
        &sent[0].1,
        &json!({
            "customer_ids": {"registered": "ann@example.com"},
            "event_type": "purchase",
            "timestamp": common::at("2026-11-27T12:00:00Z").timestamp(),
            "properties": {
                "purchase_id": "1001",
                "purchase_status": "success",
                "total_price": 53.98,
                "local_currency": "EUR",
                "cart_id": "cart_8f2c",
                "product_ids": ["p1"],
            },
        }),
        "event",
    );
    assert!(sent[0].1["properties"].get("action").is_none());
    assert!(sent[0].1["properties"].get("cart_url").is_none());
}

#[tokio::test]
async fn names_and_the_customer_id_are_configurable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok())
        .mount(&server)
        .await;
    let hub = sink(&server, |s| {
        s.event_name = Some("cartback_cart_abandoned".into());
        s.converted_event_name = Some("cartback_cart_recovered".into());
        s.customer_id = CustomerId::Hub;
    });
    hub.deliver(&message()).await.unwrap();
    hub.deliver(&converted()).await.unwrap();
    let mut m = message();
    m.contact.as_mut().unwrap().external_id = Some("shopify-99".into());
    sink(&server, |s| s.customer_id = CustomerId::Platform)
        .deliver(&m)
        .await
        .unwrap();
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 5);
    assert_eq!(sent[0].1["customer_ids"]["registered"], "contact_7");
    assert_eq!(sent[1].1["event_type"], "cartback_cart_abandoned");
    assert_eq!(sent[2].1["event_type"], "cartback_cart_recovered");
    assert_eq!(sent[2].1["customer_ids"]["registered"], "contact_7");
    assert_eq!(sent[3].1["customer_ids"]["registered"], "shopify-99");
    assert_eq!(sent[4].1["customer_ids"]["registered"], "shopify-99");
}

#[tokio::test]
async fn test_mode_and_consent_are_passed_on() {
    let server = accepting(1).await;
    let mut m = message();
    m.test = true;
    let c = m.contact.as_mut().unwrap();
    c.email_consent = cartback_core::Consent::Unsubscribed;
    c.sms_consent = cartback_core::Consent::Subscribed;
    sink(&server, |_| {}).deliver(&m).await.unwrap();
    let sent = bodies(&server).await;
    assert_eq!(
        sent[0].1["properties"]["cartback_email_consent"],
        "unsubscribed"
    );
    assert_eq!(
        sent[0].1["properties"]["cartback_sms_consent"],
        "subscribed"
    );
    assert_eq!(sent[1].1["properties"]["cartback_test"], true);
}

#[tokio::test]
async fn nothing_is_sent_without_a_cart_or_an_id() {
    let server = MockServer::start().await;
    let mut m = message();
    m.contact = None;
    m.to = Default::default();
    m.metadata.remove("contact_id");
    m.cart.as_mut().unwrap().contact_id = None;
    let err = sink(&server, |_| {}).deliver(&m).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    let mut m = message();
    m.cart = None;
    let err = sink(&server, |_| {}).deliver(&m).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_status_table() {
    for (template, check) in [
        (
            ResponseTemplate::new(400).set_body_json(json!({
                "success": false, "errors": {"timestamp": "must be a number"},
            })),
            "HTTP 400: Bloomreach refused the customer: timestamp: must be a number",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({
                "success": false, "errors": ["Customer ids are missing"],
            })),
            "HTTP 200: Bloomreach refused the customer: Customer ids are missing",
        ),
        (
            ResponseTemplate::new(401)
                .set_body_json(json!({"success": false, "errors": ["Unauthorized"]})),
            "credential refused: HTTP 401",
        ),
        (ResponseTemplate::new(403), "credential refused: HTTP 403"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&server)
            .await;
        match sink(&server, |_| {}).deliver(&message()).await {
            Err(DeliveryError::Permanent { reason }) => {
                assert!(reason.starts_with(check), "{reason}");
                assert!(!reason.contains(SECRET));
            }
            other => panic!("{check}: {other:?}"),
        }
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    // A 429 without Retry-After: retried after a minute.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(60)))
        }
        other => panic!("429: {other:?}"),
    }
}
