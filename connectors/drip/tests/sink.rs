//! The Drip sink against wiremock: the requests (method, path, basic auth, JSON body) of a
//! reminder (the cart event checked against platforms-out.md's documented example) and of a
//! purchase, consent as Drip's statuses, test mode, what is never sent, and the statuses the
//! conformance suite leaves out (which request failed, credential refused, attribute named).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{Consent, DeliveryError, Sink, SinkContext};
use cartback_drip::config::CartAction;
use cartback_drip::{DripSettings, DripSink};
use cartback_kit::Secret;
use common::{assert_contains, converted, message, ACCOUNT, API_TOKEN, MESSAGE_ID};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "drip".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut DripSettings)) -> DripSink {
    let mut s = DripSettings::new(Secret::new(API_TOKEN), ACCOUNT);
    s.base_url = Some(server.uri());
    edit(&mut s);
    DripSink::new(s, ctx()).unwrap()
}

/// `Authorization: Basic base64("{token}:")`.
fn basic() -> String {
    format!(
        "Basic {}",
        cartback_kit::Encoding::Base64.encode(format!("{API_TOKEN}:").as_bytes())
    )
}

async fn drip() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/{ACCOUNT}/subscribers")))
        .and(header("authorization", basic().as_str()))
        .and(header("content-type", "application/json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"links": {}, "subscribers": [{"id": "z1togz2hcjrkpp5treip"}]}),
            ),
        )
        .mount(&server)
        .await;
    for kind in ["cart", "order"] {
        Mock::given(method("POST"))
            .and(path(format!("/v3/{ACCOUNT}/shopper_activity/{kind}")))
            .and(header("authorization", basic().as_str()))
            .and(header("content-type", "application/json"))
            .respond_with(
                ResponseTemplate::new(202)
                    .set_body_json(json!({"request_id": format!("req-{kind}")})),
            )
            .mount(&server)
            .await;
    }
    server
}

fn json_of(r: &Request) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn a_reminder_upserts_the_person_then_sends_the_documented_cart_event() {
    let server = drip().await;
    let sink = sink(&server, |s| s.cart_action = CartAction::Updated);
    assert_eq!(sink.kind(), "drip");
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("req-cart"));

    let requests = server.received_requests().await.unwrap();
    let paths: Vec<&str> = requests.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        [
            "/v2/9999999/subscribers",
            "/v3/9999999/shopper_activity/cart"
        ]
    );

    // The person: names, phone, SMS consent, the hub's id; no email consent known, so a new
    // person is not subscribed and an existing one keeps their status.
    assert_eq!(
        json_of(&requests[0]),
        json!({"subscribers": [{
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "phone": "+37060000000",
            "sms_number": "+37060000000",
            "sms_consent": true,
            "user_id": "contact_7",
            "initial_status": "unsubscribed",
        }]})
    );

    // platforms-out.md section 7, Drip's documented example, field for field.
    let cart = json_of(&requests[1]);
    let documented = json!({"provider":"cartback","email":"ann@example.com","initial_status":"unsubscribed","action":"updated","cart_id":"cart_8f2c",
        "grand_total":59.98,"currency":"EUR","cart_url":"https://shop.example/r/8f2c?t=abc",
        "items":[{"product_id":"p1","product_variant_id":"p1","sku":"MUG-1","name":"Mug","price":29.99,"quantity":2,"total":59.98,
         "product_url":"https://shop.example/p/mug","image_url":"https://cdn.example/mug.jpg"}]});
    assert_contains(&cart, &documented, "cart");
    let at = common::at(cart["occurred_at"].as_str().unwrap());
    assert!(at >= before && at <= chrono::Utc::now(), "{at}");
    // The hub's own event properties.
    assert_eq!(cart["discount_code"], "COMEBACK10");
    assert_eq!(cart["cartback_flow_id"], "abandoned");
    assert_eq!(cart["cartback_step"], "1");
    assert_eq!(cart["cartback_variant"], "b");
    assert_eq!(cart["cartback_message_id"], MESSAGE_ID);
    assert!(cart.get("cartback_test").is_none());
}

#[tokio::test]
async fn a_purchase_is_the_placed_order_event_alone() {
    let server = drip().await;
    let receipt = sink(&server, |_| {}).deliver(&converted()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("req-order"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url.path(), "/v3/9999999/shopper_activity/order");
    assert_contains(
        &json_of(&requests[0]),
        &json!({
            "provider": "cartback",
            "email": "ann@example.com",
            "action": "placed",
            "order_id": "1001",
            "occurred_at": "2026-11-27T12:00:00Z",
            "grand_total": 53.98,
            "currency": "EUR",
            "cart_id": "cart_8f2c",
            "cartback_message_id": "7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0002",
            "items": [{"product_id": "p1", "product_variant_id": "p1", "name": "Mug", "price": 29.99, "quantity": 2}],
        }),
        "order",
    );
}

#[tokio::test]
async fn consent_becomes_drips_statuses_and_test_mode_is_marked() {
    let server = drip().await;
    let sink = sink(&server, |s| s.provider = Some("my_shop".into()));

    let mut subscribed = message();
    subscribed.test = true;
    subscribed.contact.as_mut().unwrap().email_consent = Consent::Subscribed;
    subscribed.contact.as_mut().unwrap().sms_consent = Consent::Unsubscribed;
    sink.deliver(&subscribed).await.unwrap();

    let mut opted_out = message();
    opted_out.contact.as_mut().unwrap().email_consent = Consent::Unsubscribed;
    sink.deliver(&opted_out).await.unwrap();

    let r = server.received_requests().await.unwrap();
    let person = json_of(&r[0])["subscribers"][0].clone();
    assert_eq!(person["initial_status"], "active");
    assert_eq!(person["sms_consent"], false);
    assert!(person.get("sms_number").is_none());
    assert!(person.get("status").is_none());
    let cart = json_of(&r[1]);
    assert_eq!(cart["initial_status"], "active");
    assert_eq!(cart["action"], "created");
    assert_eq!(cart["provider"], "my_shop");
    assert_eq!(cart["cartback_test"], true);

    let person = json_of(&r[2])["subscribers"][0].clone();
    assert_eq!(person["status"], "unsubscribed");
    assert!(person.get("initial_status").is_none());
    assert_eq!(json_of(&r[3])["initial_status"], "unsubscribed");
}

#[tokio::test]
async fn what_drip_cannot_take_is_never_sent() {
    let server = drip().await;
    let sink = sink(&server, |_| {});
    let mut no_email = message();
    no_email.contact.as_mut().unwrap().email = None;
    no_email.to.email = None;
    let mut no_link = message();
    no_link.cart.as_mut().unwrap().recovery_url = None;
    let mut no_cart = message();
    no_cart.cart = None;
    for m in [no_email, no_link, no_cart] {
        let err = sink.deliver(&m).await.unwrap_err();
        assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn refusals_say_which_request_and_why() {
    // The person refused: the cart event is not sent.
    let server = MockServer::start().await;
    Mock::given(path(format!("/v2/{ACCOUNT}/subscribers")))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"errors": [{"code": "authentication_error", "message": "Unauthorized"}]}),
        ))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.starts_with("credential refused:"), "{reason}");
            assert!(reason.contains("person"), "{reason}");
            assert!(!reason.contains(API_TOKEN));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // The cart event refused with Drip's documented 422 body: the attribute is named.
    let server = MockServer::start().await;
    Mock::given(path(format!("/v2/{ACCOUNT}/subscribers")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"subscribers": []})))
        .mount(&server)
        .await;
    Mock::given(path(format!("/v3/{ACCOUNT}/shopper_activity/cart")))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"errors": [
            {"code": "presence_error", "attribute": "cart_url", "message": "Cart url must be present"}
        ]})))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => assert_eq!(
            reason,
            "HTTP 422 on the cart event: cart_url: presence_error: Cart url must be present"
        ),
        other => panic!("{other:?}"),
    }

    // Too many concurrent requests for one person: retried after Drip's Retry-After.
    let server = MockServer::start().await;
    Mock::given(path(format!("/v2/{ACCOUNT}/subscribers")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "5")
                .set_body_json(json!({"errors": [{"code": "too_many_requests", "message": "Too many concurrent requests for the same subscriber"}]})),
        )
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(5)))
        }
        other => panic!("{other:?}"),
    }
}
