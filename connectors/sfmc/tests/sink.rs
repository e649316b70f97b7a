//! The Marketing Cloud sink against wiremock: the token request and the entry event (method,
//! path, headers, JSON body) of a reminder (checked against platforms-out.md's documented
//! example too) and of a purchase, the contact key choices, items, test mode, what is never
//! sent, and the REST host's refusals.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_sfmc::config::ContactKeyFrom;
use cartback_sfmc::{SfmcSettings, SfmcSink};
use common::{
    assert_contains, converted, message, token_answer, ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET,
    CONVERTED_KEY, EVENT_KEY, MESSAGE_ID,
};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "sfmc".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut SfmcSettings)) -> SfmcSink {
    let mut s = SfmcSettings::new(
        CLIENT_ID,
        Secret::new(CLIENT_SECRET),
        "mc563885gzs27c5t9-63k636ttgm",
        EVENT_KEY,
    );
    s.auth_base_url = Some(server.uri());
    edit(&mut s);
    SfmcSink::new(s, ctx()).unwrap()
}

/// The auth host and the REST host (one server), each answering as Marketing Cloud does.
async fn sfmc(event_answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer(
            &server.uri(),
            ACCESS_TOKEN,
            1079,
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/interaction/v1/events"))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .and(header("content-type", "application/json; charset=UTF-8"))
        .respond_with(event_answer)
        .mount(&server)
        .await;
    server
}

fn created() -> ResponseTemplate {
    ResponseTemplate::new(201)
        .set_body_json(json!({"eventInstanceId": "2b4c6a1e-7d3f-4b5a-9c1d-0e2f3a4b5c6d"}))
}

async fn bodies(server: &MockServer, p: &str) -> Vec<serde_json::Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r: &Request| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn a_reminder_fetches_a_token_then_fires_the_entry_event() {
    let server = sfmc(created()).await;
    let sink = sink(&server, |s| s.account_id = Some("514009000".into()));
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(
        receipt.provider_message_id.as_deref(),
        Some("2b4c6a1e-7d3f-4b5a-9c1d-0e2f3a4b5c6d")
    );
    assert_eq!(
        bodies(&server, "/v2/token").await,
        [json!({
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "account_id": "514009000",
        })]
    );
    let events = bodies(&server, "/interaction/v1/events").await;
    assert_eq!(
        events,
        [json!({
            "ContactKey": "ann@example.com",
            "EventDefinitionKey": EVENT_KEY,
            "Data": {
                "Email": "ann@example.com",
                "FirstName": "Ann",
                "LastName": "Lee",
                "Phone": "+37060000000",
                "EmailConsent": "unknown",
                "SmsConsent": "subscribed",
                "ContactId": "contact_7",
                "CartStatus": "abandoned",
                "CartId": "cart_8f2c",
                "CartUrl": "https://shop.example/r/8f2c?t=abc",
                "CartTotal": 59.98,
                "Currency": "EUR",
                "ItemCount": 1,
                "Item1Name": "Mug",
                "Item1Qty": 2,
                "Item1Price": 29.99,
                "Item1Url": "https://shop.example/p/mug",
                "Item1Image": "https://cdn.example/mug.jpg",
                "DiscountCode": "COMEBACK10",
                "FlowId": "abandoned",
                "Step": "1",
                "Variant": "b",
                "MessageId": MESSAGE_ID,
                "Test": false,
            }
        })]
    );
}

#[tokio::test]
async fn the_documented_example_is_what_is_sent() {
    // platforms-out.md section 13, with the hub's contact id as the contact key.
    let documented = json!({"ContactKey":"cust_42","EventDefinitionKey":"APIEvent-cart-abandoned",
     "Data":{"Email":"ann@example.com","CartId":"cart_8f2c","CartUrl":"https://shop.example/r/8f2c?t=abc",
      "CartTotal":59.98,"Currency":"EUR","Item1Name":"Mug","Item1Image":"https://cdn.example/mug.jpg","Item1Qty":2}});
    let server = sfmc(created()).await;
    let sink = sink(&server, |s| s.contact_key = ContactKeyFrom::ContactId);
    let mut m = message();
    m.metadata.insert("contact_id".into(), "cust_42".into());
    sink.deliver(&m).await.unwrap();
    let events = bodies(&server, "/interaction/v1/events").await;
    assert_contains(&events[0], &documented, "event");
    assert_eq!(events[0]["Data"]["ContactId"], "cust_42");
}

#[tokio::test]
async fn a_purchase_fires_the_converted_event() {
    let server = sfmc(created()).await;
    let sink = sink(&server, |s| {
        s.converted_event_definition_key = Some(CONVERTED_KEY.into())
    });
    sink.deliver(&converted()).await.unwrap();
    assert_eq!(
        bodies(&server, "/interaction/v1/events").await,
        [json!({
            "ContactKey": "ann@example.com",
            "EventDefinitionKey": CONVERTED_KEY,
            "Data": {
                "Email": "ann@example.com",
                "FirstName": "Ann",
                "LastName": "Lee",
                "Phone": "+37060000000",
                "EmailConsent": "unknown",
                "SmsConsent": "subscribed",
                "ContactId": "contact_7",
                "CartStatus": "recovered",
                "CartId": "cart_8f2c",
                "OrderId": "1001",
                "OrderTotal": 53.98,
                "Currency": "EUR",
                "PlacedAt": "2026-11-27T12:00:00Z",
                "FlowId": "abandoned",
                "Step": "1",
                "Variant": "b",
                "MessageId": "7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0002",
                "Test": false,
            }
        })]
    );
}

#[tokio::test]
async fn without_a_converted_key_a_purchase_sends_nothing() {
    let server = sfmc(created()).await;
    let sink = sink(&server, |_| {});
    let receipt = sink.deliver(&converted()).await.unwrap();
    assert_eq!(receipt.provider_message_id, None);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_contact_key_and_the_items_as_configured_and_test_mode_marked() {
    let server = sfmc(created()).await;
    let sink = sink(&server, |s| {
        s.contact_key = ContactKeyFrom::ExternalId;
        s.max_items = Some(2);
    });
    let mut m = message();
    m.test = true;
    m.contact.as_mut().unwrap().external_id = Some("gid-9001".into());
    let cart = m.cart.as_mut().unwrap();
    let mut second = cart.items[0].clone();
    second.title = "Saucer".into();
    second.variant_title = Some("Blue".into());
    second.url = None;
    let mut third = second.clone();
    third.title = "Spoon".into();
    cart.items.push(second);
    cart.items.push(third);
    sink.deliver(&m).await.unwrap();
    let event = &bodies(&server, "/interaction/v1/events").await[0];
    assert_eq!(event["ContactKey"], "gid-9001");
    let data = event["Data"].as_object().unwrap();
    assert_eq!(data["ExternalId"], "gid-9001");
    assert_eq!(data["Test"], true);
    assert_eq!(data["ItemCount"], 3);
    assert_eq!(data["Item2Name"], "Saucer");
    assert_eq!(data["Item2Variant"], "Blue");
    assert!(
        !data.contains_key("Item2Url"),
        "no link: the field stays empty"
    );
    assert!(!data.keys().any(|k| k.starts_with("Item3")), "{data:?}");
}

#[tokio::test]
async fn what_cannot_be_keyed_or_linked_is_never_sent() {
    let server = sfmc(created()).await;
    let sink_by_id = sink(&server, |s| s.contact_key = ContactKeyFrom::ExternalId);
    match sink_by_id.deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.contains("contact_key = \"external_id\""), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let plain = sink(&server, |_| {});
    let mut m = message();
    m.cart.as_mut().unwrap().recovery_url = None;
    assert!(matches!(
        plain.deliver(&m).await,
        Err(DeliveryError::Permanent { .. })
    ));
    let mut m = message();
    m.cart = None;
    assert!(matches!(
        plain.deliver(&m).await,
        Err(DeliveryError::Permanent { .. })
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_rest_hosts_refusals() {
    let cases = [
        (
            ResponseTemplate::new(400).set_body_json(json!({
                "message": "Event definition key APIEvent-cart-abandoned was not found",
                "errorcode": 30000, "documentation": ""
            })),
            "permanent: HTTP 400 on the entry event: Event definition key APIEvent-cart-abandoned was not found (errorcode 30000)",
        ),
        (
            ResponseTemplate::new(403).set_body_json(json!({
                "message": "Insufficient privileges", "errorcode": 20003
            })),
            "permanent: credential refused: HTTP 403",
        ),
    ];
    for (answer, expected) in cases {
        let server = sfmc(answer).await;
        let err = sink(&server, |_| {}).deliver(&message()).await.unwrap_err();
        assert!(err.to_string().starts_with(expected), "{err}");
        // 403 is not a stale token: no second fetch.
        assert_eq!(bodies(&server, "/v2/token").await.len(), 1);
    }
    let server = sfmc(ResponseTemplate::new(429).set_body_json(json!({
        "message": "Too many requests", "errorcode": 50100, "retryAfter": 20
    })))
    .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(20)))
        }
        other => panic!("{other:?}"),
    }
    let server = sfmc(ResponseTemplate::new(429).insert_header("Retry-After", "7")).await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("{other:?}"),
    }
    let server = sfmc(ResponseTemplate::new(500)).await;
    assert!(matches!(
        sink(&server, |_| {}).deliver(&message()).await,
        Err(DeliveryError::Retryable { .. })
    ));
}
