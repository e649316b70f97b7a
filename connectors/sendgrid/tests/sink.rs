//! The sink against a wiremock SendGrid: the exact request, SendGrid's reasons, and what is
//! refused before any request. The status classification table (429, 5xx, other 4xx, timeout,
//! closed port) is the sink suite's: `tests/conformance.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, Sink, SinkContext};
use cartback_sendgrid::{SendGridSettings, SendGridSink};
use common::{message, settings, API_KEY};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ctx(timeout: Duration) -> SinkContext {
    SinkContext {
        channel_id: "email".into(),
        public_url: "https://hub.example.com".into(),
        timeout,
    }
}

fn sink_with(settings: SendGridSettings, timeout: Duration) -> SendGridSink {
    SendGridSink::new(settings, ctx(timeout)).unwrap()
}

async fn server_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn sends_the_documented_body_and_keeps_the_message_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .and(header("content-type", "application/json"))
        .respond_with(
            ResponseTemplate::new(202).insert_header("X-Message-Id", "Wf3ZWk8wSs-c0A4TkUvNWg"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let sink = sink_with(settings(&server.uri()), Duration::from_secs(5));
    assert_eq!(sink.kind(), "sendgrid");

    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(
        receipt.provider_message_id.as_deref(),
        Some("Wf3ZWk8wSs-c0A4TkUvNWg")
    );

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&common::fixture("mail_send.expected.json")).unwrap();
    assert_eq!(sent, expected);
    // The parts the brief names, spelled out so a wrong fixture cannot hide them.
    assert_eq!(
        sent["personalizations"][0]["to"][0]["email"],
        "ann.lee@example.com"
    );
    assert_eq!(
        sent["personalizations"][0]["custom_args"]["message_id"],
        "0193a6f0-7c1e-7b7a-9f00-000000000001"
    );
    assert_eq!(sent["content"][0]["type"], "text/plain");
    assert_eq!(sent["content"][1]["type"], "text/html");
    assert_eq!(
        sent["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(
        sent["categories"],
        serde_json::json!(["reminders", "cartback"])
    );
    assert_eq!(sent["tracking_settings"]["click_tracking"]["enable"], false);
    assert!(sent.get("mail_settings").is_none());
}

#[tokio::test]
async fn sandbox_mode_and_html_only() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    let mut s = settings(&server.uri());
    s.sandbox_mode = true;
    let sink = sink_with(s, Duration::from_secs(5));
    let mut m = message();
    m.text = None;
    let receipt = sink.deliver(&m).await.unwrap();
    assert_eq!(receipt.provider_message_id, None, "no X-Message-Id header");
    let requests = server.received_requests().await.unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent["mail_settings"]["sandbox_mode"]["enable"], true);
    assert_eq!(
        sent["content"],
        serde_json::json!([{"type": "text/html", "value": "<p>Hi Ann, your cart is waiting.</p>"}])
    );
}

#[tokio::test]
async fn unsendable_messages_are_permanent_without_a_request() {
    let server = server_answering(ResponseTemplate::new(202)).await;
    let sink = sink_with(settings(&server.uri()), Duration::from_secs(5));

    let mut no_email = message();
    no_email.to.email = None;
    let mut no_content = message();
    no_content.text = None;
    no_content.html = None;
    let mut bad_header = message();
    bad_header
        .headers
        .insert("X-Evil".into(), "a\r\nBcc: x@y.com".into());
    for m in [no_email, no_content, bad_header] {
        assert!(
            matches!(sink.deliver(&m).await, Err(DeliveryError::Permanent { .. })),
            "{m:?}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_request_is_permanent_with_sendgrid_reason() {
    let server = server_answering(ResponseTemplate::new(400).set_body_string(
        r#"{"errors":[{"message":"Does not contain a valid address.","field":"personalizations.0.to.0.email","help":null}]}"#,
    ))
    .await;
    let sink = sink_with(settings(&server.uri()), Duration::from_secs(5));
    match sink.deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.contains("HTTP 400"), "{reason}");
            assert!(
                reason.contains("personalizations.0.to.0.email: Does not contain a valid address."),
                "{reason}"
            );
            assert!(!reason.contains(API_KEY));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn new_rejects_invalid_settings() {
    let mut s = settings("http://127.0.0.1:1");
    s.from = "not an address".into();
    assert!(SendGridSink::new(s, ctx(Duration::from_secs(1))).is_err());
}
