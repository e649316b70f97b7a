//! The MailerLite sink against wiremock: the requests (method, path, headers, JSON body) for a
//! reminder (the subscriber upsert in the documented shape, with the group and the cart fields)
//! and for a purchase (the upsert, then the group removal), renamed and left-out fields, an
//! opt-out, missing email, and the statuses the conformance suite leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_mailerlite::{MailerLiteSettings, MailerLiteSink};
use common::{converted, message, API_TOKEN, GROUP};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SUBSCRIBER: &str = "31897397363737859";

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "mailerlite".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(server: &MockServer, edit: impl FnOnce(&mut MailerLiteSettings)) -> MailerLiteSink {
    let mut s = MailerLiteSettings::new(Secret::new(API_TOKEN), GROUP);
    s.base_url = Some(format!("{}/api", server.uri()));
    edit(&mut s);
    MailerLiteSink::new(s, ctx()).unwrap()
}

fn subscriber() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "data": {"id": SUBSCRIBER, "email": "ann@example.com", "status": "active"}
    }))
}

async fn accepting() -> MockServer {
    let server = MockServer::start().await;
    let bearer = format!("Bearer {API_TOKEN}");
    Mock::given(method("POST"))
        .and(path("/api/subscribers"))
        .and(header("authorization", bearer.as_str()))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .respond_with(subscriber())
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/api/subscribers/{SUBSCRIBER}/groups/{GROUP}"
        )))
        .and(header("authorization", bearer.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

async fn sent(server: &MockServer) -> Vec<(String, String, serde_json::Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_reminder_upserts_the_subscriber_into_the_group_with_the_cart() {
    let server = accepting().await;
    let sink = sink(&server, |_| {});
    assert_eq!(sink.kind(), "mailerlite");
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some(SUBSCRIBER));
    let sent = sent(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].0.as_str(), sent[0].1.as_str()),
        ("POST", "/api/subscribers")
    );
    assert_eq!(
        sent[0].2,
        json!({
            "email": "ann@example.com",
            "fields": {
                "name": "Ann",
                "last_name": "Lee",
                "phone": "+37060000000",
                "cart_id": "cart_8f2c",
                "cart_url": "https://shop.example/r/8f2c?t=abc",
                "cart_total": "59.98",
                "cart_currency": "EUR",
                "cart_items": "2 × Mug",
                "cart_image_url": "https://cdn.example/mug.jpg",
                "cart_status": "abandoned",
                "order_id": "",
                "discount_code": "COMEBACK10",
                "flow_id": "abandoned",
                "flow_step": "1",
                "flow_variant": "b",
            },
            "groups": [GROUP],
        })
    );
}

#[tokio::test]
async fn a_purchase_marks_the_cart_recovered_and_leaves_the_group() {
    let server = accepting().await;
    sink(&server, |_| {}).deliver(&converted()).await.unwrap();
    let sent = sent(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].1, "/api/subscribers");
    let body = &sent[0].2;
    assert!(body.get("groups").is_none(), "{body}");
    assert_eq!(body["fields"]["cart_status"], "recovered");
    assert_eq!(body["fields"]["order_id"], "1001");
    assert_eq!(body["fields"]["cart_total"], "53.98");
    assert!(body["fields"].get("cart_url").is_none());
    assert_eq!(
        (sent[1].0.as_str(), sent[1].1.as_str()),
        (
            "DELETE",
            format!("/api/subscribers/{SUBSCRIBER}/groups/{GROUP}").as_str()
        )
    );

    // Already out of the group: the removal's 404 is not a failure.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(subscriber())
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Resource not found."})),
        )
        .mount(&server)
        .await;
    sink(&server, |_| {}).deliver(&converted()).await.unwrap();
}

#[tokio::test]
async fn fields_can_be_renamed_or_left_out_and_an_opt_out_is_passed_on() {
    let server = accepting().await;
    let mut m = message();
    m.contact.as_mut().unwrap().email_consent = cartback_core::Consent::Unsubscribed;
    sink(&server, |s| {
        s.fields
            .insert("cart_url".into(), "abandoned_cart_link".into());
        for gone in ["flow_id", "flow_step", "flow_variant", "order_id"] {
            s.fields.insert(gone.into(), "".into());
        }
    })
    .deliver(&m)
    .await
    .unwrap();
    let body = &sent(&server).await[0].2;
    let f = &body["fields"];
    assert_eq!(
        f["abandoned_cart_link"],
        "https://shop.example/r/8f2c?t=abc"
    );
    for gone in [
        "cart_url",
        "flow_id",
        "flow_step",
        "flow_variant",
        "order_id",
    ] {
        assert!(f.get(gone).is_none(), "{gone}: {f}");
    }
    assert_eq!(body["status"], "unsubscribed");
}

#[tokio::test]
async fn nothing_is_sent_without_an_email_or_a_cart() {
    let server = MockServer::start().await;
    let mut m = message();
    m.contact.as_mut().unwrap().email = None;
    m.to.email = None;
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
            ResponseTemplate::new(422).set_body_json(json!({
                "message": "The given data was invalid.",
                "errors": {"fields.cart_total": ["The fields.cart_total must be a number."]},
            })),
            "HTTP 422: MailerLite refused the subscriber: fields.cart_total: The fields.cart_total must be a number.",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthenticated."})),
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
                assert!(!reason.contains(API_TOKEN));
            }
            other => panic!("{check}: {other:?}"),
        }
    }

    // A refused group removal fails the purchase message, naming the call.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(subscriber())
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    match sink(&server, |_| {}).deliver(&converted()).await {
        Err(DeliveryError::Retryable { reason, .. }) => {
            assert!(reason.contains("the group removal"), "{reason}")
        }
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
