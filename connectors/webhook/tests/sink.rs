//! The sink against wiremock receivers: headers, an independently verified signature, the body,
//! and the statuses the sink suite (`tests/conformance.rs`) leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_webhook::{WebhookSettings, WebhookSink};
use chrono::Utc;
use common::{message, SECRET};
use hmac::{Hmac, Mac};
use std::time::Duration;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

/// 501 is the one 5xx that is permanent (kit's status table); the rest of the table (429, 5xx,
/// other 4xx, timeout, closed port) is the sink suite's: `tests/conformance.rs`.
#[tokio::test]
async fn not_implemented_is_permanent() {
    let server = server_answering(ResponseTemplate::new(501)).await;
    let err = sink(&format!("{}/hook", server.uri()), Duration::from_secs(5))
        .deliver(&message())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
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
