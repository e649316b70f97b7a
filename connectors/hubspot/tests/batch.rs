//! Several hand-offs due at once share one contact batch upsert (`Sink::deliver_many`): one
//! request of up to `batch_size` inputs, answers matched back to messages by email (HubSpot does
//! not promise the order), each message's own event after it, and the corners: an address twice
//! in one round, a partly refused batch, a message that can never go, a refused request.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, OutboundMessage, Sink};
use common::handoff::{message, settings, sink};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const UPSERT: &str = "/crm/objects/2026-03/contacts/batch/upsert";
const EVENT: &str = "/events/2026-03/send";

/// A HubSpot that upserts what it is given: one result per input, in reverse order, with the id
/// `c-<email>`; an address starting `bad` is refused (207 with an error that names no input).
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for input in body["inputs"].as_array().unwrap().iter().rev() {
            let email = input["id"].as_str().unwrap();
            if email.starts_with("bad") {
                errors.push(json!({"status": "error", "category": "VALIDATION_ERROR",
                    "message": "Property values were not valid",
                    "context": {"propertyName": ["last_abandoned_cart_value"]}}));
            } else {
                results.push(json!({"id": format!("c-{email}"), "new": true,
                    "properties": {"email": email.to_uppercase()}}));
            }
        }
        let status = if errors.is_empty() { 200 } else { 207 };
        ResponseTemplate::new(status).set_body_json(json!({
            "status": "COMPLETE", "results": results, "errors": errors,
            "numErrors": errors.len()
        }))
    }
}

async fn hubspot() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT))
        .respond_with(Echo)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EVENT))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

fn to(email: &str, id: &str) -> OutboundMessage {
    let mut m = message();
    m.id = id.into();
    m.to.email = Some(email.into());
    m.contact.as_mut().unwrap().email = Some(email.into());
    m
}

async fn sent(server: &MockServer, p: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn emails(upsert: &Value) -> Vec<&str> {
    upsert["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

fn receipt_id(answer: &Result<cartback_core::Receipt, DeliveryError>) -> &str {
    answer
        .as_ref()
        .unwrap()
        .provider_message_id
        .as_deref()
        .unwrap()
}

#[tokio::test]
async fn due_hand_offs_share_one_upsert_and_each_keeps_its_event() {
    let server = hubspot().await;
    let mut s = settings(&server.uri());
    s.event_name = Some("pe1234567_cart_abandoned".into());
    let s = sink(s);
    assert_eq!(s.batch_limit(), 100, "HubSpot's batch limit by default");
    let batch = [
        to("ann@example.com", "m-1"),
        to("bob@example.com", "m-2"),
        to("cy@example.com", "m-3"),
    ];
    let answers = s.deliver_many(&batch).await;
    let upserts = sent(&server, UPSERT).await;
    assert_eq!(upserts.len(), 1, "one request for the three contacts");
    assert_eq!(
        emails(&upserts[0]),
        ["ann@example.com", "bob@example.com", "cy@example.com"]
    );
    // Answered in reverse and upper-cased: matched back by email all the same.
    let ids: Vec<&str> = answers.iter().map(receipt_id).collect();
    assert_eq!(
        ids,
        ["c-ann@example.com", "c-bob@example.com", "c-cy@example.com"]
    );
    let events = sent(&server, EVENT).await;
    let uuids: Vec<&str> = events.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    assert_eq!(events.len(), 3, "one event per hand-off");
    for (e, m) in events.iter().zip(&batch) {
        assert_eq!(e["email"], m.to.email.as_deref().unwrap());
    }
    assert_eq!(uuids.len(), 3);
}

#[tokio::test]
async fn an_address_twice_in_a_round_goes_once_in_the_batch_and_once_alone() {
    let server = hubspot().await;
    let answers = sink(settings(&server.uri()))
        .deliver_many(&[
            to("ann@example.com", "m-1"),
            to("ANN@example.com", "m-2"),
            to("bob@example.com", "m-3"),
        ])
        .await;
    let upserts = sent(&server, UPSERT).await;
    assert_eq!(upserts.len(), 2);
    assert_eq!(emails(&upserts[0]), ["ann@example.com", "bob@example.com"]);
    assert_eq!(emails(&upserts[1]), ["ANN@example.com"]);
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
}

#[tokio::test]
async fn a_partly_refused_batch_gives_each_message_its_own_answer() {
    let server = hubspot().await;
    let answers = sink(settings(&server.uri()))
        .deliver_many(&[
            to("ann@example.com", "m-1"),
            to("bad@example.com", "m-2"),
            to("bob@example.com", "m-3"),
        ])
        .await;
    assert_eq!(receipt_id(&answers[0]), "c-ann@example.com");
    assert_eq!(receipt_id(&answers[2]), "c-bob@example.com");
    // The refused one was tried on its own, and its own answer names the property.
    match &answers[1] {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.contains("last_abandoned_cart_value"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let upserts = sent(&server, UPSERT).await;
    assert_eq!(upserts.len(), 2);
    assert_eq!(emails(&upserts[1]), ["bad@example.com"]);
}

#[tokio::test]
async fn a_message_that_can_never_go_answers_at_once_and_the_rest_go() {
    let server = hubspot().await;
    let mut no_email = to("x@example.com", "m-2");
    no_email.to.email = None;
    no_email.contact.as_mut().unwrap().email = None;
    let answers = sink(settings(&server.uri()))
        .deliver_many(&[to("ann@example.com", "m-1"), no_email])
        .await;
    assert!(answers[0].is_ok());
    assert!(
        matches!(&answers[1], Err(DeliveryError::Permanent { reason }) if reason.contains("email")),
        "{answers:?}"
    );
    let upserts = sent(&server, UPSERT).await;
    assert_eq!(emails(&upserts[0]), ["ann@example.com"]);
}

#[tokio::test]
async fn a_refused_request_is_every_messages_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(
                    json!({"status": "error", "message": "You have reached your secondly limit.",
                                      "category": "RATE_LIMITS"}),
                ),
        )
        .mount(&server)
        .await;
    let answers = sink(settings(&server.uri()))
        .deliver_many(&[to("ann@example.com", "m-1"), to("bob@example.com", "m-2")])
        .await;
    assert_eq!(answers.len(), 2);
    for a in &answers {
        assert!(
            matches!(a, Err(DeliveryError::Retryable { retry_after: Some(d), .. }) if d.as_secs() == 7),
            "{a:?}"
        );
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn batch_size_is_checked_and_honoured() {
    for bad in [0, 101] {
        let mut s = settings("https://api.hubapi.com");
        s.batch_size = bad;
        let problems = s.problems();
        assert!(
            problems.iter().any(|p| p.path == "batch_size"),
            "{bad}: {problems:?}"
        );
    }
    let mut s = settings("https://api.hubapi.com");
    s.batch_size = 1;
    assert_eq!(sink(s).batch_limit(), 1, "one contact per request");
}
