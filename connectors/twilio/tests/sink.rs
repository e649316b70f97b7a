//! The SMS sink against a wiremock Twilio: the request it sends and how Twilio's error codes
//! are classified. The status table (429, 5xx, other 4xx, timeout, closed port) is the sink
//! suite's: `tests/conformance.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use cartback_core::{DeliveryError, OutboundMessage, Recipient, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_twilio::{TwilioSettings, TwilioSink};
use common::{ACCOUNT_SID, FROM, TOKEN};
use std::collections::BTreeMap;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MG: &str = "MG0123456789abcdef0123456789abcdef";
const TO: &str = "+14155550100";

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

fn ctx(timeout: Duration) -> SinkContext {
    SinkContext {
        channel_id: "sms".into(),
        public_url: "https://hub.example".into(),
        timeout,
    }
}

fn settings(base_url: &str) -> TwilioSettings {
    let mut s = TwilioSettings::with_from(ACCOUNT_SID, Secret::new(TOKEN), FROM);
    s.base_url = Some(base_url.to_string());
    s
}

fn sink(base_url: &str) -> TwilioSink {
    TwilioSink::new(settings(base_url), ctx(Duration::from_secs(5))).unwrap()
}

fn message() -> OutboundMessage {
    OutboundMessage {
        id: "msg_01".into(),
        channel_id: "sms".into(),
        to: Recipient {
            email: None,
            phone: Some(TO.into()),
            name: Some("Ann".into()),
        },
        subject: None,
        html: None,
        text: Some("Your cart is waiting: https://shop.example/r/abc".into()),
        headers: BTreeMap::new(),
        metadata: BTreeMap::new(),
        contact: None,
        cart: None,
        test: false,
        discount_code: None,
        purpose: Default::default(),
    }
}

fn error_body(code: u32, status: u16, message: &str) -> serde_json::Value {
    serde_json::json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
}

async fn mock_answer(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn form_of(req: &wiremock::Request) -> BTreeMap<String, String> {
    form_urlencoded::parse(&req.body).into_owned().collect()
}

#[tokio::test]
async fn success_sends_the_form_and_keeps_the_sid() {
    let server = MockServer::start().await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{TOKEN}"))
    );
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", basic.as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
            "status": "queued",
            "to": TO,
            "from": FROM,
            "num_segments": "1",
            "error_code": null,
        })))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = sink(&server.uri()).deliver(&message()).await.unwrap();
    assert_eq!(
        receipt.provider_message_id.as_deref(),
        Some("SM1f0e8ae6ade43cb3c0ce4525424e404f")
    );
    let reqs = server.received_requests().await.unwrap();
    let form = form_of(&reqs[0]);
    assert_eq!(form.get("To").map(String::as_str), Some(TO));
    assert_eq!(form.get("From").map(String::as_str), Some(FROM));
    assert_eq!(
        form.get("Body").map(String::as_str),
        Some("Your cart is waiting: https://shop.example/r/abc")
    );
    assert_eq!(
        form.get("StatusCallback").map(String::as_str),
        Some("https://hub.example/webhooks/sms")
    );
    assert!(!form.contains_key("MessagingServiceSid"));
}

#[tokio::test]
async fn messaging_service_and_no_status_callback() {
    let server =
        mock_answer(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SMabc"})))
            .await;
    let mut s = settings(&server.uri());
    s.from = None;
    s.messaging_service_sid = Some(MG.into());
    s.status_callback = false;
    let receipt = TwilioSink::new(s, ctx(Duration::from_secs(5)))
        .unwrap()
        .deliver(&message())
        .await
        .unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("SMabc"));
    let form = form_of(&server.received_requests().await.unwrap()[0]);
    assert_eq!(
        form.get("MessagingServiceSid").map(String::as_str),
        Some(MG)
    );
    assert!(!form.contains_key("From"));
    assert!(!form.contains_key("StatusCallback"));
}

fn permanent_reason(r: Result<cartback_core::Receipt, DeliveryError>) -> String {
    match r {
        Err(DeliveryError::Permanent { reason }) => reason,
        other => panic!("expected permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_to_21211_is_permanent() {
    let server = mock_answer(ResponseTemplate::new(400).set_body_json(error_body(
        21211,
        400,
        "The 'To' number is not a valid phone number.",
    )))
    .await;
    let reason = permanent_reason(sink(&server.uri()).deliver(&message()).await);
    assert!(reason.contains("21211"), "{reason}");
    assert!(!reason.contains(TOKEN), "the auth token never appears");
}

#[tokio::test]
async fn unsubscribed_21610_is_permanent() {
    let server = mock_answer(ResponseTemplate::new(400).set_body_json(error_body(
        21610,
        400,
        "Attempt to send to unsubscribed recipient",
    )))
    .await;
    let reason = permanent_reason(sink(&server.uri()).deliver(&message()).await);
    assert!(reason.contains("21610"), "{reason}");
}

#[tokio::test]
async fn code_20429_is_retryable_even_on_a_4xx() {
    // Twilio's "too many concurrent requests" is never processed: always safe to retry.
    let server = mock_answer(ResponseTemplate::new(400).set_body_json(error_body(
        20429,
        400,
        "Too Many Requests",
    )))
    .await;
    match sink(&server.uri()).deliver(&message()).await {
        Err(DeliveryError::Retryable { reason, .. }) => assert!(reason.contains("20429")),
        other => panic!("{other:?}"),
    }
    // And as a 429 without Retry-After.
    let server = mock_answer(ResponseTemplate::new(429).set_body_json(error_body(
        20429,
        429,
        "Too Many Requests",
    )))
    .await;
    assert!(matches!(
        sink(&server.uri()).deliver(&message()).await,
        Err(DeliveryError::Retryable {
            retry_after: None,
            ..
        })
    ));
}

#[tokio::test]
async fn other_4xx_are_permanent() {
    for code in [21614, 21408, 21612] {
        let server =
            mock_answer(ResponseTemplate::new(400).set_body_json(error_body(code, 400, "refused")))
                .await;
        let reason = permanent_reason(sink(&server.uri()).deliver(&message()).await);
        assert!(reason.contains(&code.to_string()), "{reason}");
    }
    let server = mock_answer(ResponseTemplate::new(401).set_body_json(error_body(
        20003,
        401,
        "Authenticate",
    )))
    .await;
    permanent_reason(sink(&server.uri()).deliver(&message()).await);
}

#[tokio::test]
async fn missing_phone_or_text_is_permanent_without_a_request() {
    let server = mock_answer(ResponseTemplate::new(201)).await;
    let s = sink(&server.uri());
    let mut no_phone = message();
    no_phone.to.phone = None;
    permanent_reason(s.deliver(&no_phone).await);
    let mut no_text = message();
    no_text.text = Some("   ".into());
    permanent_reason(s.deliver(&no_text).await);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn kind_and_invalid_settings() {
    let s = sink("https://api.twilio.com");
    assert_eq!(s.kind(), "twilio");
    let mut bad = settings("https://api.twilio.com");
    bad.account_sid = "nope".into();
    assert!(TwilioSink::new(bad, ctx(Duration::from_secs(1))).is_err());
}
