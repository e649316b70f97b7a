//! The token against wiremock: one fetch for many sends (and for many concurrent sends), a new
//! fetch shortly before `expires_in` runs out, a refused token fetched again and the event sent
//! once more, a second refusal permanent, and what the auth host's refusals mean.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, ManualClock, Sink, SinkContext};
use cartback_kit::Secret;
use cartback_sfmc::{SfmcSettings, SfmcSink};
use common::{message, token_answer, CLIENT_ID, CLIENT_SECRET, EVENT_KEY};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn ctx() -> SinkContext {
    SinkContext {
        channel_id: "sfmc".into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    }
}

fn settings(server: &MockServer) -> SfmcSettings {
    let mut s = SfmcSettings::new(
        CLIENT_ID,
        Secret::new(CLIENT_SECRET),
        "mc563885gzs27c5t9-63k636ttgm",
        EVENT_KEY,
    );
    s.auth_base_url = Some(server.uri());
    s
}

/// Answers the n-th token request (from 1) with the token `access-n`, alive `expires_in`
/// seconds, after `delay`.
struct Tokens {
    rest: String,
    expires_in: u64,
    delay: Duration,
    n: AtomicUsize,
}

impl Respond for Tokens {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200)
            .set_body_json(token_answer(
                &self.rest,
                &format!("access-{n}"),
                self.expires_in,
            ))
            .set_delay(self.delay)
    }
}

async fn auth_host(server: &MockServer, expires_in: u64, delay: Duration) {
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(Tokens {
            rest: server.uri(),
            expires_in,
            delay,
            n: AtomicUsize::new(0),
        })
        .mount(server)
        .await;
}

/// The REST host: `201` to a request with the token `access-{n}` for each `n` in `accepted`,
/// `401` to any other.
async fn rest_host(server: &MockServer, accepted: &[usize]) {
    for n in accepted {
        Mock::given(method("POST"))
            .and(path("/interaction/v1/events"))
            .and(header(
                "authorization",
                format!("Bearer access-{n}").as_str(),
            ))
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_json(json!({"eventInstanceId": format!("evt-{n}")})),
            )
            .with_priority(1)
            .mount(server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/interaction/v1/events"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Not Authorized", "errorcode": 0, "documentation": ""
        })))
        .with_priority(5)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn bearer(r: &Request) -> String {
    r.headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn one_token_serves_many_sends() {
    let server = MockServer::start().await;
    auth_host(&server, 1080, Duration::ZERO).await;
    rest_host(&server, &[1]).await;
    let sink = SfmcSink::new(settings(&server), ctx()).unwrap();
    for _ in 0..5 {
        let receipt = sink.deliver(&message()).await.unwrap();
        assert_eq!(receipt.provider_message_id.as_deref(), Some("evt-1"));
    }
    assert_eq!(requests(&server, "/v2/token").await.len(), 1);
    let events = requests(&server, "/interaction/v1/events").await;
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|r| bearer(r) == "Bearer access-1"));
}

#[tokio::test]
async fn concurrent_sends_wait_for_one_fetch() {
    let server = MockServer::start().await;
    // A slow auth host: every send starts while the first fetch is still under way.
    auth_host(&server, 1080, Duration::from_millis(300)).await;
    rest_host(&server, &[1]).await;
    let sink = SfmcSink::new(settings(&server), ctx()).unwrap();
    let msg = message();
    let sends = (0..8).map(|_| sink.deliver(&msg));
    for result in futures::future::join_all(sends).await {
        assert_eq!(
            result.unwrap().provider_message_id.as_deref(),
            Some("evt-1")
        );
    }
    assert_eq!(requests(&server, "/v2/token").await.len(), 1);
    assert_eq!(requests(&server, "/interaction/v1/events").await.len(), 8);
    assert_eq!(sink.tokens().fetches().await, 1);
}

#[tokio::test]
async fn a_token_is_fetched_again_shortly_before_it_expires() {
    let server = MockServer::start().await;
    auth_host(&server, 1080, Duration::ZERO).await;
    rest_host(&server, &[1, 2]).await;
    let clock = ManualClock::new(common::at("2026-11-27T12:00:00Z"));
    let sink = SfmcSink::with_clock(settings(&server), ctx(), Arc::new(clock.clone())).unwrap();
    sink.deliver(&message()).await.unwrap();
    // 1,000 s later the token still has 80 s to live: kept.
    clock.advance(Duration::from_secs(1000));
    sink.deliver(&message()).await.unwrap();
    assert_eq!(requests(&server, "/v2/token").await.len(), 1);
    // 1,030 s after the fetch it has 50 s left, under the 60 s margin: fetched again.
    clock.advance(Duration::from_secs(30));
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("evt-2"));
    assert_eq!(requests(&server, "/v2/token").await.len(), 2);
    let used: Vec<String> = requests(&server, "/interaction/v1/events")
        .await
        .iter()
        .map(bearer)
        .collect();
    assert_eq!(
        used,
        ["Bearer access-1", "Bearer access-1", "Bearer access-2"]
    );
}

#[tokio::test]
async fn a_refused_token_is_fetched_again_and_the_event_sent_once_more() {
    let server = MockServer::start().await;
    auth_host(&server, 1080, Duration::ZERO).await;
    // The REST host refuses access-1 (revoked early) and takes access-2.
    rest_host(&server, &[2]).await;
    let sink = SfmcSink::new(settings(&server), ctx()).unwrap();
    let receipt = sink.deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("evt-2"));
    assert_eq!(requests(&server, "/v2/token").await.len(), 2);
    let events = requests(&server, "/interaction/v1/events").await;
    assert_eq!(events.len(), 2);
    assert_eq!(bearer(&events[0]), "Bearer access-1");
    assert_eq!(bearer(&events[1]), "Bearer access-2");
    assert_eq!(
        events[0].body, events[1].body,
        "the same event is sent again"
    );
    // The new token is kept for the next send.
    sink.deliver(&message()).await.unwrap();
    assert_eq!(requests(&server, "/v2/token").await.len(), 2);
}

#[tokio::test]
async fn refused_twice_is_a_refused_credential() {
    let server = MockServer::start().await;
    auth_host(&server, 1080, Duration::ZERO).await;
    rest_host(&server, &[]).await;
    let sink = SfmcSink::new(settings(&server), ctx()).unwrap();
    match sink.deliver(&message()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.starts_with("credential refused:"), "{reason}");
            assert!(reason.contains("Not Authorized"), "{reason}");
            assert!(!reason.contains("access-"), "no token in {reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(requests(&server, "/v2/token").await.len(), 2);
    assert_eq!(requests(&server, "/interaction/v1/events").await.len(), 2);
}

async fn auth_refusal(status: u16, body: serde_json::Value) -> (DeliveryError, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    rest_host(&server, &[1]).await;
    let sink = SfmcSink::new(settings(&server), ctx()).unwrap();
    let err = sink.deliver(&message()).await.unwrap_err();
    (err, server)
}

#[tokio::test]
async fn the_auth_hosts_refusals() {
    for (status, body) in [
        (
            401,
            json!({"error": "invalid_client", "error_description": "Client authentication failed."}),
        ),
        (
            400,
            json!({"error": "invalid_client", "error_description": "Invalid client ID. Use the client ID in Marketing Cloud Installed Packages."}),
        ),
    ] {
        let (err, server) = auth_refusal(status, body).await;
        match err {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}");
                assert!(reason.contains("invalid_client"), "{reason}");
                assert!(!reason.contains(CLIENT_SECRET), "{reason}");
            }
            other => panic!("{status}: {other:?}"),
        }
        assert!(requests(&server, "/interaction/v1/events").await.is_empty());
    }
    let (err, _) = auth_refusal(
        400,
        json!({"error": "unsupported_grant_type", "error_description": "Use client_credentials."}),
    )
    .await;
    match err {
        DeliveryError::Permanent { reason } => {
            assert!(!reason.starts_with("credential refused:"), "{reason}");
            assert!(reason.contains("unsupported_grant_type"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let (err, _) = auth_refusal(503, json!({})).await;
    assert!(matches!(err, DeliveryError::Retryable { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_auth_host_is_retryable_since_nothing_was_sent() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut s = SfmcSettings::new(CLIENT_ID, Secret::new(CLIENT_SECRET), "x", EVENT_KEY);
    s.auth_base_url = Some(format!("http://127.0.0.1:{port}"));
    let sink = SfmcSink::new(s, ctx()).unwrap();
    match sink.deliver(&message()).await {
        Err(DeliveryError::Retryable { reason, .. }) => {
            assert!(reason.contains("token request"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
