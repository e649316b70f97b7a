//! The sink against wiremock receivers: headers, an independently verified signature, the body,
//! and the status classification table.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use cartback_core::{
    Cart, CartStatus, ContactInfo, Currency, DeliveryError, LineItem, Money, OutboundMessage,
    Recipient, Sink, SinkContext,
};
use cartback_kit::Secret;
use cartback_webhook::{WebhookSettings, WebhookSink};
use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use std::collections::BTreeMap;
use std::time::Duration;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn ctx(timeout: Duration) -> SinkContext {
    SinkContext {
        channel_id: "zapier".into(),
        public_url: "https://hub.example.com".into(),
        timeout,
    }
}

fn sink(url: &str, timeout: Duration) -> WebhookSink {
    let mut s = WebhookSettings::new(url, Secret::new(SECRET));
    s.headers.insert("X-Api-Key".into(), "k-123".into());
    WebhookSink::new(s, ctx(timeout)).unwrap()
}

fn cart() -> Cart {
    let usd = Currency::parse("USD").unwrap();
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    Cart {
        id: "cart_42".into(),
        source_id: "shopify".into(),
        key: "c1-token".into(),
        cart_token: Some("c1-token".into()),
        checkout_token: None,
        platform_id: None,
        status: CartStatus::Abandoned,
        contact_id: Some("contact_7".into()),
        items: vec![LineItem {
            product_id: Some("p1".into()),
            variant_id: None,
            sku: Some("MUG-1".into()),
            title: "Mug".into(),
            variant_title: None,
            quantity: 2,
            unit_price: Money::new(1250, usd),
            line_price: Money::new(2500, usd),
            url: None,
            image_url: None,
        }],
        currency: usd,
        subtotal: Some(Money::new(2500, usd)),
        total: Money::new(2500, usd),
        recovery_url: Some("https://shop.example.com/cart/recover/c1".into()),
        updated_at: at,
        completed_at: None,
        converted_at: None,
        order_id: None,
        created_at: at,
    }
}

fn message() -> OutboundMessage {
    let contact: ContactInfo = serde_json::from_value(serde_json::json!({
        "email": "ann.lee@example.com",
        "first_name": "Ann",
    }))
    .unwrap();
    OutboundMessage {
        id: "0193a6f0-7c1e-7b7a-9f00-000000000001".into(),
        channel_id: "zapier".into(),
        to: Recipient {
            email: Some("ann.lee@example.com".into()),
            phone: None,
            name: Some("Ann Lee".into()),
        },
        subject: Some("You left something in your cart".into()),
        html: None,
        text: Some("Hi Ann, your cart is waiting.".into()),
        headers: BTreeMap::new(),
        metadata: BTreeMap::from([
            ("flow_id".to_string(), "abandoned".to_string()),
            ("step".to_string(), "1".to_string()),
        ]),
        contact: Some(contact),
        cart: Some(cart()),
        test: false,
    }
}

async fn server_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

/// Recomputes the Standard Webhooks signature without the crate's code.
fn expected_signature(id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn posts_signed_json_with_the_documented_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("content-type", "application/json"))
        .and(header("webhook-id", "0193a6f0-7c1e-7b7a-9f00-000000000001"))
        .and(header_exists("webhook-timestamp"))
        .and(header_exists("webhook-signature"))
        .and(header("x-api-key", "k-123"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let sink = sink(&format!("{}/hook", server.uri()), Duration::from_secs(5));
    assert_eq!(sink.kind(), "webhook");

    let before = Utc::now().timestamp();
    let receipt = sink.deliver(&message()).await.unwrap();
    let after = Utc::now().timestamp();
    assert_eq!(receipt.provider_message_id, None);

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    let h = |name: &str| req.headers.get(name).unwrap().to_str().unwrap().to_string();
    let timestamp = h("webhook-timestamp");
    let ts: i64 = timestamp.parse().unwrap();
    assert!(
        before <= ts && ts <= after,
        "{ts} not in [{before}, {after}]"
    );
    assert_eq!(
        h("webhook-signature"),
        expected_signature(&h("webhook-id"), &timestamp, &req.body)
    );

    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["type"], "cart.abandoned");
    assert_eq!(body["id"], "0193a6f0-7c1e-7b7a-9f00-000000000001");
    assert_eq!(body["channel"], "zapier");
    assert_eq!(body["metadata"]["flow_id"], "abandoned");
    assert_eq!(body["metadata"]["step"], "1");
    assert_eq!(body["contact"]["email"], "ann.lee@example.com");
    assert_eq!(body["contact"]["first_name"], "Ann");
    assert_eq!(body["cart"]["id"], "cart_42");
    assert_eq!(body["cart"]["items"][0]["title"], "Mug");
    assert_eq!(
        body["message"],
        serde_json::json!({
            "subject": "You left something in your cart",
            "text": "Hi Ann, your cart is waiting.",
        })
    );
    assert_eq!(
        body["links"]["recovery"],
        "https://shop.example.com/cart/recover/c1"
    );
    // The body is exactly what the crate says it sends.
    assert_eq!(
        req.body,
        WebhookSink::body(&message()).unwrap(),
        "the signed bytes are the sent bytes"
    );
}

#[tokio::test]
async fn test_messages_and_response_ids() {
    let server = server_answering(
        ResponseTemplate::new(202)
            .set_body_json(serde_json::json!({"id": "zap-run-9", "ok": true})),
    )
    .await;
    let sink = sink(&format!("{}/hook", server.uri()), Duration::from_secs(5));
    let mut m = message();
    m.test = true;
    m.cart = None;
    m.contact = None;
    m.subject = None;
    m.text = None;
    let receipt = sink.deliver(&m).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("zap-run-9"));

    let requests = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["type"], "cart.test");
    assert_eq!(body["message"], serde_json::json!({}));
    assert_eq!(body["cart"], serde_json::Value::Null);
    assert_eq!(body["links"]["recovery"], serde_json::Value::Null);
}

#[tokio::test]
async fn webhook_id_is_stable_across_retries() {
    let server = server_answering(ResponseTemplate::new(503)).await;
    let sink = sink(&format!("{}/hook", server.uri()), Duration::from_secs(5));
    for _ in 0..2 {
        assert!(sink.deliver(&message()).await.is_err());
    }
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].headers.get("webhook-id"),
        requests[1].headers.get("webhook-id")
    );
}

#[tokio::test]
async fn status_classification_table() {
    let cases = [
        (
            ResponseTemplate::new(400).set_body_string("bad payload"),
            "permanent",
            None,
        ),
        (ResponseTemplate::new(401), "permanent", None),
        (ResponseTemplate::new(410), "permanent", None),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "17"),
            "retryable",
            Some(Duration::from_secs(17)),
        ),
        (ResponseTemplate::new(500), "retryable", None),
        (ResponseTemplate::new(502), "retryable", None),
        (ResponseTemplate::new(501), "permanent", None),
    ];
    for (template, want, want_after) in cases {
        let server = server_answering(template).await;
        let err = sink(&format!("{}/hook", server.uri()), Duration::from_secs(5))
            .deliver(&message())
            .await
            .unwrap_err();
        match (&err, want) {
            (DeliveryError::Permanent { .. }, "permanent") => {}
            (DeliveryError::Retryable { retry_after, .. }, "retryable") => {
                assert_eq!(*retry_after, want_after, "{err:?}")
            }
            _ => panic!("expected {want}, got {err:?}"),
        }
    }
}

#[tokio::test]
async fn gone_is_permanent_with_a_reason() {
    let server = server_answering(ResponseTemplate::new(410)).await;
    let err = sink(&format!("{}/hook", server.uri()), Duration::from_secs(5))
        .deliver(&message())
        .await
        .unwrap_err();
    match err {
        DeliveryError::Permanent { reason } => assert!(reason.contains("410"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn closed_port_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = sink(&format!("http://{addr}/hook"), Duration::from_secs(5))
        .deliver(&message())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Retryable { .. }), "{err:?}");
}

#[tokio::test]
async fn slow_receiver_is_unknown() {
    let server =
        server_answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).await;
    let err = sink(
        &format!("{}/hook", server.uri()),
        Duration::from_millis(200),
    )
    .deliver(&message())
    .await
    .unwrap_err();
    assert!(matches!(err, DeliveryError::Unknown { .. }), "{err:?}");
}
