//! The MoEngage sink against wiremock: the requests (method, path, headers, JSON body) for a
//! reminder (the event checked against platforms-out.md's documented example) and for a
//! purchase, the customer id choices, test mode, missing identity, and the statuses the
//! conformance suite leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_moengage::{CustomerId, MoEngageSettings, MoEngageSink};
use common::{assert_contains, converted, message, API_KEY, MESSAGE_ID, WORKSPACE};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "moengage".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut MoEngageSettings)) -> MoEngageSink {
    let mut s = MoEngageSettings::new(WORKSPACE, Secret::new(API_KEY), "01");
    s.base_url = Some(server.uri());
    edit(&mut s);
    MoEngageSink::new(s, ctx()).unwrap()
}

fn basic() -> String {
    let pair = format!("{WORKSPACE}:{API_KEY}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn success() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "status": "success",
        "message": "Your request has been accepted and will be processed soon."
    }))
}

async fn accepting(customer_calls: u64) -> MockServer {
    let server = MockServer::start().await;
    for (p, n) in [
        (format!("/v1/customer/{WORKSPACE}"), customer_calls),
        (format!("/v1/event/{WORKSPACE}"), 1),
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .and(header("authorization", basic().as_str()))
            .and(header("moe-appkey", WORKSPACE))
            .and(header("content-type", "application/json"))
            .respond_with(success())
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
async fn a_reminder_is_the_user_then_the_documented_event() {
    let server = accepting(1).await;
    let sink = sink(&server, |_| {});
    assert_eq!(sink.kind(), "moengage");
    let before = chrono::Utc::now().timestamp() - 1;
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id, None);
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, format!("/v1/customer/{WORKSPACE}"));
    assert_eq!(
        sent[0].1,
        json!({
            "type": "customer",
            "customer_id": "ann@example.com",
            "attributes": {
                "email": "ann@example.com",
                "mobile": "+37060000000",
                "first_name": "Ann",
                "last_name": "Lee",
                "name": "Ann Lee",
                "cartback_contact_id": "contact_7",
            },
        })
    );

    assert_eq!(sent[1].0, format!("/v1/event/{WORKSPACE}"));
    let event = &sent[1].1;
    // platforms-out.md section 9, MoEngage's documented example, field for field (the
    // customer id is the contact's email here, as in MoEngage's own Track User example).
    let documented = json!({"type":"event","customer_id":"ann@example.com","actions":[{"action":"Cart Abandoned",
        "attributes":{"cart_id":"cart_8f2c","cart_url":"https://shop.example/r/8f2c?t=abc","value":59.98,"currency":"EUR",
         "product_names":["Mug"],"image_url":"https://cdn.example/mug.jpg"}}]});
    assert_contains(event, &documented, "event");
    let action = &event["actions"][0];
    let t = action["current_time"].as_i64().unwrap();
    assert!(t >= before && t <= chrono::Utc::now().timestamp(), "{t}");
    let a = &action["attributes"];
    assert_eq!(a["product_ids"], json!(["p1"]));
    assert_eq!(a["skus"], json!(["MUG-1"]));
    assert_eq!(a["quantities"], json!([2]));
    assert_eq!(a["unit_prices"], json!([29.99]));
    assert_eq!(a["product_urls"], json!(["https://shop.example/p/mug"]));
    assert_eq!(a["image_urls"], json!(["https://cdn.example/mug.jpg"]));
    assert_eq!(a["item_count"], 2);
    assert_eq!(a["discount_code"], "COMEBACK10");
    assert_eq!(a["flow_id"], "abandoned");
    assert_eq!(a["step"], "1");
    assert_eq!(a["variant"], "b");
    assert_eq!(a["message_id"], MESSAGE_ID);
    assert!(a.get("test").is_none());
    assert!(a.get("order_id").is_none());
}

#[tokio::test]
async fn a_purchase_is_one_recovered_event() {
    let server = accepting(0).await;
    sink(&server, |_| {}).deliver(&converted()).await.unwrap();
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    assert_contains(
        &sent[0].1,
        &json!({
            "type": "event",
            "customer_id": "ann@example.com",
            "actions": [{
                "action": "Cart Recovered",
                "current_time": common::at("2026-11-27T12:00:00Z").timestamp(),
                "attributes": {
                    "order_id": "1001",
                    "cart_id": "cart_8f2c",
                    "value": 53.98,
                    "currency": "EUR",
                    "product_names": ["Mug"],
                    "message_id": "7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0002",
                },
            }],
        }),
        "event",
    );
    assert!(sent[0].1["actions"][0]["attributes"]
        .get("cart_url")
        .is_none());
}

#[tokio::test]
async fn names_and_the_customer_id_are_configurable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(success())
        .mount(&server)
        .await;
    let hub = sink(&server, |s| {
        s.event_name = Some("Checkout Abandoned".into());
        s.converted_event_name = Some("Order Recovered".into());
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
    assert_eq!(sent[0].1["customer_id"], "contact_7");
    assert_eq!(sent[1].1["actions"][0]["action"], "Checkout Abandoned");
    assert_eq!(sent[1].1["customer_id"], "contact_7");
    assert_eq!(sent[2].1["actions"][0]["action"], "Order Recovered");
    assert_eq!(sent[2].1["customer_id"], "contact_7");
    assert_eq!(sent[3].1["customer_id"], "shopify-99");
    assert_eq!(sent[4].1["customer_id"], "shopify-99");
}

#[tokio::test]
async fn test_mode_is_marked_and_an_opt_out_is_passed_on() {
    let server = accepting(1).await;
    let mut m = message();
    m.test = true;
    m.contact.as_mut().unwrap().email_consent = cartback_core::Consent::Unsubscribed;
    sink(&server, |_| {}).deliver(&m).await.unwrap();
    let sent = bodies(&server).await;
    assert_eq!(sent[0].1["attributes"]["moe_unsubscribe"], true);
    assert_eq!(sent[1].1["actions"][0]["attributes"]["test"], true);
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
                "status": "fail",
                "error": {"message": "Invalid attribute value", "type": "Bad Request", "request_id": "r-1"},
            })),
            "HTTP 400: MoEngage refused the user: Bad Request: Invalid attribute value",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"status": "fail", "error": {"message": "Authentication required"}})),
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
        // The event is never sent after the user was refused.
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    // The user accepted, the event refused: the reason says which call.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/customer/{WORKSPACE}")))
        .respond_with(success())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/event/{WORKSPACE}")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "fail", "error": {"message": "Future dated events are not allowed", "type": "Bad Request"},
        })))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => assert_eq!(
            reason,
            "HTTP 400: MoEngage refused the event: Bad Request: Future dated events are not allowed"
        ),
        other => panic!("{other:?}"),
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
