//! The WebEngage sink against wiremock: the requests (method, path, headers, JSON body) for a
//! reminder (the user, then the event) and for a purchase (the event), the user id choices,
//! test mode and consent, missing identity, and the statuses the conformance suite leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_webengage::{UserId, WebEngageSettings, WebEngageSink};
use common::{assert_contains, converted, message, API_KEY, LICENSE, MESSAGE_ID};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "webengage".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut WebEngageSettings)) -> WebEngageSink {
    let mut s = WebEngageSettings::new(LICENSE, Secret::new(API_KEY));
    s.base_url = Some(server.uri());
    edit(&mut s);
    WebEngageSink::new(s, ctx()).unwrap()
}

fn queued() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"response": {"status": "queued"}}))
}

async fn accepting(user_calls: u64) -> MockServer {
    let server = MockServer::start().await;
    let bearer = format!("Bearer {API_KEY}");
    for (p, n) in [
        (format!("/v1/accounts/{LICENSE}/users"), user_calls),
        (format!("/v1/accounts/{LICENSE}/events"), 1),
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .and(header("authorization", bearer.as_str()))
            .and(header("content-type", "application/json"))
            .respond_with(queued())
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
async fn a_reminder_is_the_user_then_the_event() {
    let server = accepting(1).await;
    let sink = sink(&server, |_| {});
    assert_eq!(sink.kind(), "webengage");
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id, None);
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, format!("/v1/accounts/{LICENSE}/users"));
    assert_eq!(
        sent[0].1,
        json!({
            "userId": "ann@example.com",
            "firstName": "Ann",
            "lastName": "Lee",
            "email": "ann@example.com",
            "phone": "+37060000000",
            "emailOptIn": true,
            "attributes": {"cartbackContactId": "contact_7"},
        })
    );
    assert_eq!(sent[1].0, format!("/v1/accounts/{LICENSE}/events"));
    let event = &sent[1].1;
    assert_contains(
        event,
        &json!({
            "userId": "ann@example.com",
            "eventName": "Cart Abandoned",
            "eventData": {
                "cartId": "cart_8f2c",
                "cartUrl": "https://shop.example/r/8f2c?t=abc",
                "value": 59.98,
                "currency": "EUR",
                "items": [{
                    "productId": "p1", "sku": "MUG-1", "title": "Mug", "quantity": 2, "price": 29.99,
                    "url": "https://shop.example/p/mug", "imageUrl": "https://cdn.example/mug.jpg",
                }],
                "itemCount": 2,
                "imageUrl": "https://cdn.example/mug.jpg",
                "discountCode": "COMEBACK10",
                "flowId": "abandoned",
                "step": "1",
                "variant": "b",
                "messageId": MESSAGE_ID,
            },
        }),
        "event",
    );
    let t = event["eventTime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z").is_ok() && t.ends_with("+0000"),
        "{t}"
    );
    assert!(event["eventData"].get("test").is_none());
    assert!(event["eventData"].get("orderId").is_none());
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
            "userId": "ann@example.com",
            "eventName": "Cart Recovered",
            "eventTime": "2026-11-27T12:00:00+0000",
            "eventData": {"orderId": "1001", "cartId": "cart_8f2c", "value": 53.98, "currency": "EUR"},
        }),
        "event",
    );
    assert!(sent[0].1["eventData"].get("cartUrl").is_none());
}

#[tokio::test]
async fn names_and_the_user_id_are_configurable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(queued())
        .mount(&server)
        .await;
    let hub = sink(&server, |s| {
        s.event_name = Some("Checkout Abandoned".into());
        s.converted_event_name = Some("Checkout Completed".into());
        s.user_id = UserId::Hub;
    });
    hub.deliver(&message()).await.unwrap();
    hub.deliver(&converted()).await.unwrap();
    let mut m = message();
    m.contact.as_mut().unwrap().external_id = Some("shopify-99".into());
    sink(&server, |s| s.user_id = UserId::Platform)
        .deliver(&m)
        .await
        .unwrap();
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 5);
    assert_eq!(sent[0].1["userId"], "contact_7");
    assert_eq!(sent[1].1["eventName"], "Checkout Abandoned");
    assert_eq!(sent[2].1["eventName"], "Checkout Completed");
    assert_eq!(sent[2].1["userId"], "contact_7");
    assert_eq!(sent[3].1["userId"], "shopify-99");
    assert_eq!(sent[4].1["userId"], "shopify-99");
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
    assert_eq!(sent[0].1["emailOptIn"], false);
    assert_eq!(sent[0].1["smsOptIn"], true);
    assert_eq!(sent[1].1["eventData"]["test"], true);
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
                "response": {"status": "error", "message": "eventName is mandatory"},
            })),
            "HTTP 400: WebEngage refused the user: error: eventName is mandatory",
        ),
        (
            ResponseTemplate::new(401)
                .set_body_json(json!({"response": {"status": "error", "message": "Unauthorized"}})),
            "credential refused: HTTP 401",
        ),
        (ResponseTemplate::new(403), "credential refused: HTTP 403"),
        (
            ResponseTemplate::new(404),
            "credential refused: HTTP 404: WebEngage knows no account with this license_code",
        ),
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
