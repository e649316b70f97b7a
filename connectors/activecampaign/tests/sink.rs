//! The ActiveCampaign sink against wiremock: the requests (method, path, query, `Api-Token`,
//! JSON body) of a reminder for a new customer (the abandoned cart checked against
//! platforms-out.md's documented example), for an existing customer with and without the cart
//! handed off before, of a purchase, and the statuses the conformance suite leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_activecampaign::config::ContactFields;
use cartback_activecampaign::{ActiveCampaignSettings, ActiveCampaignSink};
use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_kit::Secret;
use common::{assert_contains, converted, message, CONNECTION, TOKEN};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "activecampaign".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut ActiveCampaignSettings)) -> ActiveCampaignSink {
    let mut s = ActiveCampaignSettings::new(server.uri(), Secret::new(TOKEN), CONNECTION);
    edit(&mut s);
    ActiveCampaignSink::new(s, ctx()).unwrap()
}

fn json_of(r: &Request) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn calls(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

/// ActiveCampaign with the contact sync answered, and `customers` / `orders` as the lookups'
/// answers.
async fn account(customers: serde_json::Value, orders: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/3/contact/sync"))
        .and(header("api-token", TOKEN))
        .and(header("content-type", "application/json"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"contact": {"id": "113", "email": "ann@example.com"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/3/ecomCustomers"))
        .and(header("api-token", TOKEN))
        .and(query_param("filters[email]", "ann@example.com"))
        .and(query_param("filters[connectionid]", CONNECTION))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ecomCustomers": customers, "meta": {"total": "0"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/3/ecomCustomers"))
        .and(header("api-token", TOKEN))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"ecomCustomer": {"id": "7", "connectionid": "1"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/3/ecomOrders"))
        .and(header("api-token", TOKEN))
        .and(query_param("filters[email]", "ann@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ecomOrders": orders})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/3/ecomOrders"))
        .and(header("api-token", TOKEN))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"ecomOrder": {"id": "99"}})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_reminder_for_a_new_customer_is_the_documented_abandoned_cart() {
    let server = account(json!([]), json!([])).await;
    let sink = sink(&server, |s| {
        s.contact_fields = ContactFields {
            discount_code: Some("12".into()),
            recovery_url: Some("13".into()),
            flow_id: Some("14".into()),
            step: Some("15".into()),
            variant: Some("16".into()),
            cart_id: None,
        }
    });
    assert_eq!(sink.kind(), "activecampaign");
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("99"));

    let r = server.received_requests().await.unwrap();
    assert_eq!(
        calls(&r),
        [
            "POST /api/3/contact/sync",
            "GET /api/3/ecomCustomers",
            "POST /api/3/ecomCustomers",
            "POST /api/3/ecomOrders"
        ]
    );
    assert_eq!(
        json_of(&r[0]),
        json!({"contact": {
            "email": "ann@example.com",
            "firstName": "Ann",
            "lastName": "Lee",
            "phone": "+37060000000",
            "fieldValues": [
                {"field": "12", "value": "COMEBACK10"},
                {"field": "13", "value": "https://shop.example/r/8f2c?t=abc"},
                {"field": "14", "value": "abandoned"},
                {"field": "15", "value": "1"},
                {"field": "16", "value": "b"},
            ],
        }})
    );
    assert_eq!(
        json_of(&r[2]),
        json!({"ecomCustomer": {
            "connectionid": "1",
            "externalid": "contact_7",
            "email": "ann@example.com",
            "acceptsMarketing": "1",
        }})
    );

    // platforms-out.md section 5, ActiveCampaign's documented example, field for field.
    let order = json_of(&r[3]);
    let documented = json!({"ecomOrder":{"externalcheckoutid":"cart_8f2c","source":1,
        "email":"ann@example.com","connectionid":"1","customerid":"7","currency":"EUR","totalPrice":5998,
        "orderUrl":"https://shop.example/r/8f2c?t=abc","externalCreatedDate":"2026-11-27T10:00:00Z",
        "orderProducts":[{"externalid":"p1","name":"Mug","price":2999,"quantity":2,"sku":"MUG-1",
         "imageUrl":"https://cdn.example/mug.jpg","productUrl":"https://shop.example/p/mug"}]}});
    assert_contains(&order, &documented, "order");
    // Abandoned as of the hand-off, and never a placed order.
    let at = common::at(order["ecomOrder"]["abandoned_date"].as_str().unwrap());
    assert!(at >= before && at <= chrono::Utc::now(), "{at}");
    assert!(order["ecomOrder"].get("externalid").is_none());
}

#[tokio::test]
async fn a_cart_handed_off_before_is_updated_not_duplicated() {
    let server = account(
        json!([{"id": "7", "email": "Ann@Example.com", "connectionid": "1"}]),
        json!([
            {"id": "98", "externalcheckoutid": "cart_other", "connectionid": "1", "customerid": "7"},
            {"id": "99", "externalcheckoutid": "cart_8f2c", "connectionid": "1", "customerid": "7"},
        ]),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/api/3/ecomOrders/99"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ecomOrder": {"id": "99"}})))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = sink(&server, |_| {}).deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("99"));
    let r = server.received_requests().await.unwrap();
    assert_eq!(
        calls(&r),
        [
            "POST /api/3/contact/sync",
            "GET /api/3/ecomCustomers",
            "GET /api/3/ecomOrders",
            "PUT /api/3/ecomOrders/99"
        ]
    );
    assert_eq!(
        r[2].url
            .query_pairs()
            .find(|(k, _)| k == "limit")
            .unwrap()
            .1,
        "100"
    );
    let update = json_of(&r[3]);
    assert_eq!(update["ecomOrder"]["externalcheckoutid"], "cart_8f2c");
    assert_eq!(update["ecomOrder"]["customerid"], "7");
    // No contact fields configured: none sent.
    assert!(json_of(&r[0])["contact"].get("fieldValues").is_none());
}

#[tokio::test]
async fn an_existing_customer_with_a_new_cart_gets_a_new_abandoned_cart() {
    let server = account(
        json!([{"id": 7, "email": "ann@example.com", "connectionid": 1}]),
        json!([{"id": "98", "externalcheckoutid": "cart_other", "connectionid": "1"}]),
    )
    .await;
    sink(&server, |_| {}).deliver(&message()).await.unwrap();
    let r = server.received_requests().await.unwrap();
    assert_eq!(calls(&r).last().unwrap(), "POST /api/3/ecomOrders");
    assert_eq!(json_of(&r[3])["ecomOrder"]["customerid"], "7");
}

#[tokio::test]
async fn a_purchase_marks_the_abandoned_cart_recovered() {
    let server = account(
        json!([]),
        json!([{"id": "99", "externalcheckoutid": "cart_8f2c", "connectionid": "1"}]),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/api/3/ecomOrders/99"))
        .and(header("api-token", TOKEN))
        .and(body_json(json!({"ecomOrder": {
            "externalid": "1001",
            "email": "ann@example.com",
            "currency": "EUR",
            "totalPrice": 5398,
            "externalUpdatedDate": "2026-11-27T12:00:00Z",
        }})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ecomOrder": {"id": "99", "state": 3}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let receipt = sink(&server, |_| {}).deliver(&converted()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("99"));
    let r = server.received_requests().await.unwrap();
    assert_eq!(
        calls(&r),
        ["GET /api/3/ecomOrders", "PUT /api/3/ecomOrders/99"]
    );
}

#[tokio::test]
async fn a_purchase_of_a_cart_activecampaign_never_got_is_permanent() {
    let server = account(json!([]), json!([])).await;
    match sink(&server, |_| {}).deliver(&converted()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.contains("cart_8f2c"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn what_activecampaign_cannot_take_is_never_sent() {
    let server = MockServer::start().await;
    let mut no_email = message();
    no_email.contact.as_mut().unwrap().email = None;
    no_email.to.email = None;
    let mut no_cart = message();
    no_cart.cart = None;
    for m in [no_email, no_cart] {
        let err = sink(&server, |_| {}).deliver(&m).await.unwrap_err();
        assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn refusals_say_which_request_and_why() {
    // A refused token.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(
                json!({"message": "You are not authorized to access this resource"}),
            ),
        )
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.starts_with("credential refused:"), "{reason}");
            assert!(reason.contains("contact"), "{reason}");
            assert!(!reason.contains(TOKEN));
        }
        other => panic!("{other:?}"),
    }

    // The abandoned cart refused: the field is named.
    let server = account(json!([]), json!([])).await;
    Mock::given(method("POST"))
        .and(path("/api/3/ecomOrders"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"errors": [{
            "title": "The currency is invalid", "detail": "", "code": "field_invalid",
            "source": {"pointer": "/data/attributes/currency"},
        }]})))
        .with_priority(1)
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => assert_eq!(
            reason,
            "HTTP 422 on the abandoned cart: currency: The currency is invalid"
        ),
        other => panic!("{other:?}"),
    }

    // Over 5 requests a second: retried after ActiveCampaign's Retry-After.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(2)))
        }
        other => panic!("{other:?}"),
    }
}
