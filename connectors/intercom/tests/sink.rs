//! The Intercom sink against wiremock: the requests (method, path, headers, JSON body) of a
//! reminder for a new contact and for an existing one (409 → update; the search fallback), of a
//! purchase, the metadata limits, and the statuses the conformance suite leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{Consent, DeliveryError, LineItem, Money, Sink, SinkContext};
use cartback_intercom::config::{ContactRole, Region};
use cartback_intercom::payload::{MAX_METADATA_KEYS, MAX_STRING_CHARS};
use cartback_intercom::{IntercomSettings, IntercomSink};
use cartback_kit::Secret;
use common::{assert_contains, converted, eur, message, TOKEN};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A UUIDv7 message id minted at 2026-11-27T10:00:00Z (1795773600).
fn v7_id() -> String {
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        1_795_773_600,
        0,
    ))
    .to_string()
}

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "intercom".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut IntercomSettings)) -> IntercomSink {
    let mut s = IntercomSettings::new(Secret::new(TOKEN));
    s.region = Region::Eu;
    s.base_url = Some(server.uri());
    edit(&mut s);
    IntercomSink::new(s, ctx()).unwrap()
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

async fn events_accepted(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/events"))
        .and(header("authorization", bearer().as_str()))
        .and(header("intercom-version", "2.11"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202))
        .mount(server)
        .await;
}

fn json_of(r: &Request) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn a_reminder_creates_the_user_and_sends_the_cart_event() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .and(header("authorization", bearer().as_str()))
        .and(header("intercom-version", "2.11"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"type": "contact", "id": "6762f0b61bb69f9f2193bb7f", "role": "user"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    events_accepted(&server).await;
    let sink = sink(&server, |_| {});
    assert_eq!(sink.kind(), "intercom");
    let mut m = message();
    m.id = v7_id();
    let receipt = sink.deliver(&m).await.unwrap();
    assert_eq!(receipt.provider_message_id, None);

    let r = server.received_requests().await.unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(
        json_of(&r[0]),
        json!({
            "role": "user",
            "external_id": "contact_7",
            "email": "ann@example.com",
            "phone": "+37060000000",
            "name": "Ann Lee",
            "unsubscribed_from_emails": false,
        })
    );
    let event = json_of(&r[1]);
    // platforms-out.md section 8, Intercom's documented example: the fields it shares with ours
    // (the example names the user by email and its one item `first_item`; the hub names the
    // contact by Intercom's id and lists every item that fits as `item_1`, `item_2`, ...).
    assert_contains(
        &event,
        &json!({"event_name":"abandoned-cart",
            "metadata":{"cart_id":"cart_8f2c","item_count":2,"cart_url":"https://shop.example/r/8f2c?t=abc",
             "cart_total":{"amount":5998,"currency":"eur"}}}),
        "event",
    );
    assert_eq!(
        event,
        json!({
            "event_name": "abandoned-cart",
            "created_at": 1_795_773_600,
            "id": "6762f0b61bb69f9f2193bb7f",
            "metadata": {
                "cart_id": "cart_8f2c",
                "cart_url": "https://shop.example/r/8f2c?t=abc",
                "cart_total": {"amount": 5998, "currency": "eur"},
                "item_count": 2,
                "discount_code": "COMEBACK10",
                "flow_id": "abandoned",
                "step": "1",
                "variant": "b",
                "message_id": m.id,
                "item_1": {"url": "https://shop.example/p/mug", "value": "2 × Mug"},
            },
        })
    );
}

#[tokio::test]
async fn an_existing_contact_is_updated_without_touching_its_role_or_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "type": "error.list",
            "request_id": "req-1",
            "errors": [{"code": "conflict", "message": "A contact matching those details already exists with id=5f9a0c7e1d2b3c4d5e6f7a8b"}],
        })))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/contacts/5f9a0c7e1d2b3c4d5e6f7a8b"))
        .and(body_json(json!({
            "email": "ann@example.com",
            "phone": "+37060000000",
            "name": "Ann Lee",
            "unsubscribed_from_emails": true,
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"type": "contact", "id": "5f9a0c7e1d2b3c4d5e6f7a8b"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    events_accepted(&server).await;
    let mut m = message();
    m.contact.as_mut().unwrap().email_consent = Consent::Unsubscribed;
    sink(&server, |_| {}).deliver(&m).await.unwrap();
    let r = server.received_requests().await.unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(json_of(&r[2])["id"], "5f9a0c7e1d2b3c4d5e6f7a8b");
}

#[tokio::test]
async fn a_conflict_naming_no_id_is_resolved_by_a_search() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(ResponseTemplate::new(409).set_body_json(
            json!({"type": "error.list", "errors": [{"code": "conflict", "message": "Contact already exists"}]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/contacts/search"))
        .and(body_json(
            json!({"query": {"field": "email", "operator": "=", "value": "ann@example.com"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"type": "list", "data": [{"type": "contact", "id": "c-found"}], "total_count": 1}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/contacts/c-found"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c-found"})))
        .mount(&server)
        .await;
    events_accepted(&server).await;
    sink(&server, |s| s.role = ContactRole::Lead)
        .deliver(&message())
        .await
        .unwrap();
    let r = server.received_requests().await.unwrap();
    let paths: Vec<String> = r
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /contacts",
            "POST /contacts/search",
            "PUT /contacts/c-found",
            "POST /events"
        ]
    );
    // A lead carries no external_id.
    assert_eq!(json_of(&r[0])["role"], "lead");
    assert!(json_of(&r[0]).get("external_id").is_none());
    assert_eq!(json_of(&r[3])["id"], "c-found");
}

#[tokio::test]
async fn a_purchase_is_the_recovered_event() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c-1"})))
        .mount(&server)
        .await;
    events_accepted(&server).await;
    let mut m = converted();
    m.test = true;
    sink(&server, |s| {
        s.converted_event_name = Some("placed-order".into())
    })
    .deliver(&m)
    .await
    .unwrap();
    let r = server.received_requests().await.unwrap();
    assert_eq!(
        json_of(&r[1]),
        json!({
            "event_name": "placed-order",
            "created_at": 1_795_780_800,
            "id": "c-1",
            "metadata": {
                "cart_id": "cart_8f2c",
                "order_id": "1001",
                "order_total": {"amount": 5398, "currency": "eur"},
                "order_date": 1_795_780_800,
                "flow_id": "abandoned",
                "step": "1",
                "variant": "b",
                "message_id": "7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0002",
                "test": "true",
            },
        })
    );
}

#[tokio::test]
async fn metadata_stays_within_intercoms_limits() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c-1"})))
        .mount(&server)
        .await;
    events_accepted(&server).await;
    let mut m = message();
    let cart = m.cart.as_mut().unwrap();
    cart.recovery_url = Some(format!("https://shop.example/r/{}", "x".repeat(300)));
    cart.items = (1..=30)
        .map(|n| LineItem {
            product_id: Some(format!("p{n}")),
            variant_id: None,
            sku: None,
            title: format!("Item {n} {}", "long title ".repeat(40)),
            variant_title: Some("Blue".into()),
            quantity: 1,
            unit_price: Money::new(100, eur()),
            line_price: Money::new(100, eur()),
            url: Some(format!("https://shop.example/p/{n}")),
            image_url: None,
        })
        .collect();
    m.discount_code = Some("D".repeat(400));
    sink(&server, |_| {}).deliver(&m).await.unwrap();
    let r = server.received_requests().await.unwrap();
    let md = json_of(&r[1])["metadata"].as_object().unwrap().clone();
    assert_eq!(md.len(), MAX_METADATA_KEYS, "{md:?}");
    // The link too long to keep whole is left out rather than cut.
    assert!(md.get("cart_url").is_none());
    assert_eq!(
        md["discount_code"].as_str().unwrap().chars().count(),
        MAX_STRING_CHARS
    );
    // 8 fixed keys, 11 items, and how many were left out.
    let items: Vec<&String> = md
        .keys()
        .filter(|k| {
            k.strip_prefix("item_")
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .collect();
    assert_eq!(items.len(), 11, "{items:?}");
    assert_eq!(md["items_more"], 19);
    assert_eq!(md["item_count"], 30);
    let first = md["item_1"]["value"].as_str().unwrap();
    assert!(first.starts_with("1 × Item 1 long title"), "{first}");
    assert_eq!(first.chars().count(), MAX_STRING_CHARS);
    for v in md.values() {
        if let Some(s) = v.as_str() {
            assert!(s.chars().count() <= MAX_STRING_CHARS);
        }
    }
}

#[tokio::test]
async fn what_intercom_cannot_take_is_never_sent() {
    let server = MockServer::start().await;
    let mut m = message();
    m.contact = None;
    m.to = Default::default();
    let mut no_cart = message();
    no_cart.cart = None;
    for m in [m, no_cart] {
        let err = sink(&server, |_| {}).deliver(&m).await.unwrap_err();
        assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn refusals_say_which_request_and_why() {
    // A bad token: Intercom's documented 401 body.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "type": "error.list", "request_id": "r-1",
            "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}],
        })))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.starts_with("credential refused:"), "{reason}");
            assert!(reason.contains("Access Token Invalid"), "{reason}");
            assert!(!reason.contains(TOKEN));
        }
        other => panic!("{other:?}"),
    }

    // The event refused: Intercom's error names the parameter.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c-1"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/events"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "type": "error.list",
            "errors": [{"code": "parameter_invalid", "message": "event_name is invalid"}],
        })))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => assert_eq!(
            reason,
            "HTTP 400 on the event: parameter_invalid: event_name is invalid"
        ),
        other => panic!("{other:?}"),
    }

    // Over the rate limit: retried when Intercom's window resets.
    let server = MockServer::start().await;
    let reset = chrono::Utc::now().timestamp() + 9;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Limit", "1000")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", reset.to_string().as_str()),
        )
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&message()).await {
        Err(DeliveryError::Retryable { retry_after, .. }) => {
            let d = retry_after.unwrap();
            assert!(
                d >= Duration::from_secs(7) && d <= Duration::from_secs(9),
                "{d:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}
