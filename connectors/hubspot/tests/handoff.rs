//! The hand-off channel against a wiremock HubSpot: each request's method, path, headers and
//! JSON body (the batch upsert by email, the custom event occurrence of platforms-out.md
//! section 2's example), both purposes, and the status classification the sink conformance
//! suite (`tests/handoff_conformance.rs`) leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, Sink};
use chrono::{DateTime, Utc};
use common::handoff::{converted, message, placed_at, settings, sink, MESSAGE_ID, RECOVERY, TOKEN};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const UPSERT: &str = "/crm/objects/2026-03/contacts/batch/upsert";
const EVENT: &str = "/events/2026-03/send";

fn upserted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "status": "COMPLETE",
        "results": [{"id": "501", "new": false, "properties": {}, "createdAt": "2026-01-01T00:00:00Z",
                     "updatedAt": "2026-11-27T10:00:00Z"}],
        "startedAt": "2026-11-27T10:00:00Z", "completedAt": "2026-11-27T10:00:00Z"
    }))
}

/// A HubSpot that takes upserts and events, checking method, path and headers.
async fn hubspot() -> MockServer {
    let server = MockServer::start().await;
    for (p, answer) in [(UPSERT, upserted()), (EVENT, ResponseTemplate::new(204))] {
        Mock::given(method("POST"))
            .and(path(p))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(header("content-type", "application/json"))
            .and(header("accept", "application/json"))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    server
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// Takes the property out, checking it is an RFC 3339 time in UTC with milliseconds.
fn take_time(props: &mut Value, name: &str) -> DateTime<Utc> {
    let v = props.as_object_mut().unwrap().remove(name).unwrap();
    let s = v.as_str().unwrap().to_string();
    assert!(s.ends_with('Z') && s.len() == 24, "{s}");
    DateTime::parse_from_rfc3339(&s)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_reminder_upserts_the_contact_by_email_with_the_cart() {
    let server = hubspot().await;
    let before = Utc::now();
    let receipt = sink(settings(&server.uri()))
        .deliver(&message())
        .await
        .unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("501"));

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1, "no event_name: the upsert alone");
    assert_eq!(reqs[0].url.path(), UPSERT);
    let mut b = body(&reqs[0]);
    let at = take_time(&mut b["inputs"][0]["properties"], "last_abandoned_cart_at");
    assert!(at >= before - chrono::Duration::milliseconds(1) && at <= Utc::now());
    assert_eq!(
        b,
        json!({"inputs": [{
            "id": "ann@example.com",
            "idProperty": "email",
            "properties": {
                "email": "ann@example.com",
                "firstname": "Ann",
                "lastname": "Lee",
                "phone": "+15555550100",
                "last_abandoned_cart_id": "cart_8f2c",
                "last_abandoned_cart_url": RECOVERY,
                "last_abandoned_cart_value": "59.98",
                "last_abandoned_cart_currency": "EUR",
                "last_abandoned_cart_items": "Mug",
                "last_abandoned_cart_discount_code": "",
                "last_abandoned_cart_status": "abandoned",
                "last_abandoned_cart_order_id": ""
            }
        }]})
    );
}

#[tokio::test]
async fn with_an_event_name_the_event_follows_the_upsert() {
    let server = hubspot().await;
    let mut s = settings(&server.uri());
    s.event_name = Some("pe1234567_cart_abandoned".into());
    let mut m = message();
    m.discount_code = Some("COMEBACK10".into());
    m.cart.as_mut().unwrap().items[0].variant_title = Some("Blue".into());
    sink(s).deliver(&m).await.unwrap();

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].url.path(), UPSERT);
    let upsert = body(&reqs[0]);
    let props = &upsert["inputs"][0]["properties"];
    assert_eq!(props["last_abandoned_cart_discount_code"], "COMEBACK10");
    assert_eq!(props["last_abandoned_cart_items"], "Mug (Blue)");

    assert_eq!(reqs[1].url.path(), EVENT);
    let mut event = body(&reqs[1]);
    let occurred = take_time(&mut event, "occurredAt");
    let at =
        DateTime::parse_from_rfc3339(props["last_abandoned_cart_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        occurred, at,
        "the event and the property carry one hand-off time"
    );
    // platforms-out.md section 2's example, with the hub's message id as `uuid`.
    assert_eq!(
        event,
        json!({
            "eventName": "pe1234567_cart_abandoned",
            "email": "ann@example.com",
            "uuid": MESSAGE_ID,
            "properties": {
                "cart_id": "cart_8f2c",
                "total": "59.98",
                "currency": "EUR",
                "recovery_url": RECOVERY,
                "item_names": "Mug (Blue)",
                "item_count": "2",
                "first_item_title": "Mug",
                "first_item_url": "https://shop.example/p/mug",
                "first_item_image_url": "https://cdn.example/mug.jpg",
                "discount_code": "COMEBACK10",
                "flow_id": "abandoned",
                "step": "0",
                "variant": "b",
                "test": "false"
            }
        })
    );
}

#[tokio::test]
async fn a_conversion_marks_the_contact_recovered_and_sends_its_event() {
    let server = hubspot().await;
    let mut s = settings(&server.uri());
    s.event_name = Some("pe1234567_cart_abandoned".into());
    s.converted_event_name = Some("pe1234567_cart_recovered".into());
    let receipt = sink(s).deliver(&converted()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("501"));

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        body(&reqs[0]),
        json!({"inputs": [{
            "id": "ann@example.com",
            "idProperty": "email",
            "properties": {
                "email": "ann@example.com",
                "firstname": "Ann",
                "lastname": "Lee",
                "phone": "+15555550100",
                "last_abandoned_cart_id": "cart_8f2c",
                "last_abandoned_cart_status": "recovered",
                "last_abandoned_cart_order_id": "order_1001"
            }
        }]})
    );
    assert_eq!(
        body(&reqs[1]),
        json!({
            "eventName": "pe1234567_cart_recovered",
            "email": "ann@example.com",
            "occurredAt": placed_at().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "uuid": "0193a6f0-7c1e-7b7a-9f00-000000000002",
            "properties": {
                "cart_id": "cart_8f2c",
                "order_id": "order_1001",
                "total": "59.98",
                "currency": "EUR",
                "flow_id": "abandoned",
                "step": "0",
                "variant": "b",
                "test": "false"
            }
        })
    );
}

#[tokio::test]
async fn renamed_and_switched_off_properties_and_the_optional_ones() {
    let server = hubspot().await;
    let mut s = settings(&server.uri());
    s.properties.cart_url = "abandoned_checkout_link".into();
    s.properties.cart_items = String::new();
    s.properties.cart_at = String::new();
    s.properties.contact_id = "cartback_contact_id".into();
    s.properties.email_consent = "cartback_email_consent".into();
    s.properties.sms_consent = "cartback_sms_consent".into();
    let mut m = message();
    m.test = true;
    sink(s).deliver(&m).await.unwrap();
    let b = body(&requests(&server).await[0]);
    let props = b["inputs"][0]["properties"].as_object().unwrap();
    assert_eq!(props["abandoned_checkout_link"], RECOVERY);
    assert!(!props.contains_key("last_abandoned_cart_url"));
    assert!(!props.contains_key("last_abandoned_cart_items"));
    assert!(!props.contains_key("last_abandoned_cart_at"));
    assert_eq!(props["cartback_contact_id"], "contact_42");
    assert_eq!(props["cartback_email_consent"], "subscribed");
    assert_eq!(props["cartback_sms_consent"], "unknown");
}

#[tokio::test]
async fn a_test_message_is_marked_in_the_event() {
    let server = hubspot().await;
    let mut s = settings(&server.uri());
    s.event_name = Some("pe1234567_cart_abandoned".into());
    let mut m = message();
    m.test = true;
    sink(s).deliver(&m).await.unwrap();
    let event = body(&requests(&server).await[1]);
    assert_eq!(event["properties"]["test"], "true");
}

#[tokio::test]
async fn the_legacy_v3_paths() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(upserted())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/events/v3/send"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = settings(&server.uri());
    s.api_version = "v3".into();
    s.event_name = Some("pe1234567_cart_abandoned".into());
    sink(s).deliver(&message()).await.unwrap();
}

#[tokio::test]
async fn a_contact_without_email_is_never_sent() {
    let server = hubspot().await;
    let mut m = message();
    m.contact.as_mut().unwrap().email = None;
    m.to.email = None;
    match sink(settings(&server.uri())).deliver(&m).await {
        Err(DeliveryError::Permanent { reason }) => assert!(reason.contains("email"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(requests(&server).await.is_empty());
}

/// HubSpot answering every request with `template`; the message's outcome.
async fn answered(template: ResponseTemplate) -> DeliveryError {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&server)
        .await;
    sink(settings(&server.uri()))
        .deliver(&message())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn refused_credentials_say_so() {
    for status in [401, 403] {
        let e = answered(ResponseTemplate::new(status).set_body_json(json!({
            "status": "error", "message": "Authentication credentials not found.",
            "correlationId": "c-1", "category": "INVALID_AUTHENTICATION"
        })))
        .await;
        match e {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}");
                assert!(
                    reason.contains("Authentication credentials not found"),
                    "{reason}"
                );
                assert!(!reason.contains(TOKEN));
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_validation_error_names_the_property() {
    // The v3 shape: the failed values embedded in `message`, and `errors[].context`.
    let e = answered(ResponseTemplate::new(400).set_body_json(json!({
        "status": "error",
        "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"last_abandoned_cart_url\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"last_abandoned_cart_url\",\"localizedErrorMessage\":\"Property \\\"last_abandoned_cart_url\\\" does not exist\"}]",
        "correlationId": "c-2",
        "category": "VALIDATION_ERROR"
    })))
    .await;
    match e {
        DeliveryError::Permanent { reason } => {
            assert!(reason.starts_with("HTTP 400"), "{reason}");
            assert!(
                reason.contains("property \"last_abandoned_cart_url\""),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = answered(ResponseTemplate::new(400).set_body_json(json!({
        "status": "error", "message": "Invalid input", "category": "VALIDATION_ERROR",
        "errors": [{"message": "bad value", "code": "INVALID_DATE",
                    "context": {"propertyName": ["last_abandoned_cart_at"]}}]
    })))
    .await;
    assert!(
        matches!(&e, DeliveryError::Permanent { reason } if reason.contains("property \"last_abandoned_cart_at\": bad value")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_batch_answer_with_errors_is_permanent_and_names_the_property() {
    let e = answered(ResponseTemplate::new(207).set_body_json(json!({
        "status": "COMPLETE", "results": [], "numErrors": 1,
        "errors": [{"status": "error", "category": "VALIDATION_ERROR",
                    "message": "Property \"last_abandoned_cart_value\" is not a number",
                    "context": {"propertyName": ["last_abandoned_cart_value"]}}]
    })))
    .await;
    match e {
        DeliveryError::Permanent { reason } => {
            assert!(
                reason.contains("property \"last_abandoned_cart_value\""),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rate_limits_wait_as_hubspot_says() {
    let e = answered(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "7")
            .set_body_json(json!({"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                  "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})),
    )
    .await;
    assert!(
        matches!(&e, DeliveryError::Retryable { retry_after: Some(d), reason } if *d == Duration::from_secs(7) && reason.contains("ten_secondly")),
        "{e:?}"
    );
    // No Retry-After: the window HubSpot reports.
    let e = answered(
        ResponseTemplate::new(429)
            .insert_header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"),
    )
    .await;
    assert_eq!(
        e,
        DeliveryError::Retryable {
            reason: "HTTP 429 (contact upsert): ".into(),
            retry_after: Some(Duration::from_secs(10)),
        }
    );
    assert!(matches!(
        answered(ResponseTemplate::new(502)).await,
        DeliveryError::Retryable { .. }
    ));
}

#[tokio::test]
async fn an_event_refused_after_the_upsert_is_classified_on_its_own() {
    let server = MockServer::start().await;
    Mock::given(path(UPSERT))
        .respond_with(upserted())
        .mount(&server)
        .await;
    Mock::given(path(EVENT))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "message": "Event pe1234567_cart_abandoned not found",
            "category": "OBJECT_NOT_FOUND"
        })))
        .mount(&server)
        .await;
    let mut s = settings(&server.uri());
    s.event_name = Some("pe1234567_cart_abandoned".into());
    match sink(s).deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.starts_with("HTTP 400: event: "), "{reason}");
            assert!(reason.contains("not found"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
