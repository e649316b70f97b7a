//! The closing message of a hand-off (`Purpose::Converted`: the handed-off cart was bought)
//! reaches the receiver as `type = "cart.recovered"` with the order (id, total, time), never as
//! another `cart.abandoned`: a Zap or Pabbly workflow filtering on `type` must be able to stop.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{Currency, Money, Purpose, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_webhook::{WebhookSettings, WebhookSink};
use common::{message, SECRET};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn converted(total: Option<Money>) -> cartback_core::OutboundMessage {
    let mut m = message();
    m.id = "0193a6f0-7c1e-7b7a-9f00-000000000002".into();
    m.subject = None;
    m.text = None;
    m.purpose = Purpose::Converted {
        order_id: "1001".into(),
        total,
        placed_at: chrono::DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    };
    m
}

async fn sent(m: &cartback_core::OutboundMessage) -> serde_json::Value {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let sink = WebhookSink::new(
        WebhookSettings::new(format!("{}/hook", server.uri()), Secret::new(SECRET)),
        SinkContext {
            channel_id: "zapier".into(),
            public_url: "https://hub.example.com".into(),
            timeout: Duration::from_secs(5),
        },
    )
    .unwrap();
    sink.deliver(m).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    serde_json::from_slice(&requests[0].body).unwrap()
}

#[tokio::test]
async fn a_bought_cart_is_cart_recovered_with_the_order() {
    let usd = Currency::parse("USD").unwrap();
    let body = sent(&converted(Some(Money::new(2250, usd)))).await;
    assert_eq!(body["type"], "cart.recovered");
    assert_eq!(body["id"], "0193a6f0-7c1e-7b7a-9f00-000000000002");
    assert_eq!(
        body["order"],
        serde_json::json!({
            "id": "1001",
            "total": {"amount": "22.50", "currency": "USD", "minor_units": 2250},
            "placed_at": "2026-11-27T12:00:00Z",
        })
    );
    // The cart and contact as they were handed off, so the receiver can match its earlier run.
    assert_eq!(body["cart"]["id"], "cart_42");
    assert_eq!(body["contact"]["email"], "ann.lee@example.com");
    assert_eq!(body["metadata"]["flow_id"], "abandoned");
}

#[tokio::test]
async fn without_an_order_total_the_carts_total_is_given() {
    let body = sent(&converted(None)).await;
    assert_eq!(body["type"], "cart.recovered");
    assert_eq!(body["order"]["total"]["amount"], "25.00");
}

#[tokio::test]
async fn a_reminder_has_no_order() {
    let body = sent(&message()).await;
    assert_eq!(body["type"], "cart.abandoned");
    assert!(body.get("order").is_none(), "{body}");
}
