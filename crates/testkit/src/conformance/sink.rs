//! The sink rules, each against a fresh fake provider that gives every message one answer.
//!
//! | the provider answers | the sink returns |
//! | --- | --- |
//! | 2xx | `Ok`, with the provider's message id when it gives one |
//! | 429 + `Retry-After: 7` | `Retryable` after 7 s |
//! | 500, 502, 503 + `Retry-After: 30`, 504 | `Retryable` (after 30 s for the 503) |
//! | 400, 401, 403, 404, 410, 422 | `Permanent` |
//! | nothing, after reading the request | `Unknown` once the send timeout passes |
//! | (nothing listens) | `Retryable` |
//!
//! Every delivery runs with its log lines captured: no credential of the case may appear in
//! them, in the sink's `Debug` output, or in the result's `Debug` and `Display`.
//!
//! A provider that cannot say when to retry (SMTP) is held to `retry_after: None` instead, and
//! maps the HTTP statuses to its own replies ([`FakeProvider`]).

use super::logs::Capture;
use cartback_core::{DeliveryError, OutboundMessage, Receipt, Sink, SinkContext};
use std::net::SocketAddr;
use std::time::Duration;
use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};

/// How long a delivery may take in every rule but the timeout's (never reached on loopback).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The send timeout in the timeout rule, where the provider never answers.
const SHORT_TIMEOUT: Duration = Duration::from_secs(1);

/// What a sink connector's conformance run needs.
pub trait SinkCase {
    type Sink: Sink;
    /// The fake provider: [`HttpProvider`] for HTTP sinks.
    type Provider: FakeProvider;

    /// The sink, sending to the fake provider at `provider` (an HTTP sink: to
    /// `http://{provider}`), built with `ctx`.
    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> Self::Sink;

    /// A message the sink can send.
    fn message(&self) -> OutboundMessage;

    /// The provider's answer to a message it accepts ([`HttpProvider`]: the 2xx response).
    fn accepted(&self) -> <Self::Provider as FakeProvider>::Accept;

    /// The message id the sink reports for that answer.
    fn message_id(&self) -> Option<String>;

    /// Every credential the sink is built with (API keys, tokens, passwords, signing secrets),
    /// each at least 8 characters so that finding it means something.
    fn credentials(&self) -> Vec<String>;
}

/// What the fake provider answers to every message.
#[derive(Debug, Clone)]
pub enum Answer<A> {
    /// Accepts it, as the case says.
    Accept(A),
    /// Refuses it with this HTTP status (a provider of another protocol answers what that
    /// status means in it), saying when to come back where it can.
    Status {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Reads the whole message, then says nothing (the connection stays open).
    Silent,
}

/// A stand-in for a provider, listening on 127.0.0.1 and giving every message one answer.
#[allow(async_fn_in_trait)]
pub trait FakeProvider: Sized {
    /// What accepting looks like ([`HttpProvider`]: the response).
    type Accept;

    /// Whether its refusals can say when to retry (HTTP `Retry-After`).
    const SAYS_WHEN: bool;

    async fn start(answer: Answer<Self::Accept>) -> Self;

    fn addr(&self) -> SocketAddr;

    /// How many messages reached it.
    async fn received(&self) -> usize;
}

/// An HTTP provider (wiremock) answering every request on every path.
pub struct HttpProvider {
    server: MockServer,
}

impl FakeProvider for HttpProvider {
    type Accept = ResponseTemplate;
    const SAYS_WHEN: bool = true;

    async fn start(answer: Answer<ResponseTemplate>) -> Self {
        let template = match answer {
            Answer::Accept(t) => t,
            Answer::Status {
                status,
                retry_after_secs,
            } => {
                let t = ResponseTemplate::new(status);
                match retry_after_secs {
                    Some(s) => t.insert_header("Retry-After", s.to_string().as_str()),
                    None => t,
                }
            }
            Answer::Silent => ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)),
        };
        // Not from wiremock's pool: a silent answer keeps its connection busy.
        let server = MockServer::builder().start().await;
        Mock::given(any())
            .respond_with(template)
            .mount(&server)
            .await;
        HttpProvider { server }
    }

    fn addr(&self) -> SocketAddr {
        *self.server.address()
    }

    async fn received(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| r.len())
    }
}

fn ctx(timeout: Duration) -> SinkContext {
    SinkContext {
        channel_id: "conformance".into(),
        public_url: "https://hub.example".into(),
        timeout,
    }
}

fn credentials<C: SinkCase>(case: &C) -> Vec<String> {
    let credentials = case.credentials();
    assert!(!credentials.is_empty(), "credentials() is empty");
    for c in &credentials {
        assert!(
            c.chars().count() >= 8,
            "credential {c:?} is too short to be told apart from other text: use a longer one"
        );
    }
    credentials
}

/// Fails when a credential appears in `seen`.
fn assert_no_credential(credentials: &[String], seen: &str, what: &str) {
    for c in credentials {
        assert!(
            !seen.contains(c.as_str()),
            "credential {c:?} appears in {what}:\n{seen}"
        );
    }
}

/// Delivers the case's message to `addr` with `timeout`, checking that no credential appears in
/// the log lines, the sink's `Debug`, or the result.
async fn deliver<C: SinkCase>(
    case: &C,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<Receipt, DeliveryError> {
    let credentials = credentials(case);
    let capture = Capture::start();
    let sink = case.sink(addr, ctx(timeout));
    let result = sink.deliver(&case.message()).await;
    let logs = capture.text();
    drop(capture);
    assert_no_credential(&credentials, &logs, "a log line");
    let mut shown = format!("{sink:?}\n{result:?}\n");
    if let Err(e) = &result {
        shown.push_str(&e.to_string());
    }
    assert_no_credential(&credentials, &shown, "a Debug or Display output");
    result
}

/// Starts a provider answering `answer`, delivers once, and checks the message reached it.
async fn answered<C: SinkCase>(
    case: &C,
    answer: Answer<<C::Provider as FakeProvider>::Accept>,
    timeout: Duration,
) -> Result<Receipt, DeliveryError> {
    let provider = C::Provider::start(answer).await;
    let result = deliver(case, provider.addr(), timeout).await;
    assert_eq!(
        provider.received().await,
        1,
        "the message did not reach the provider exactly once ({result:?})"
    );
    result
}

/// The delay a retryable answer carrying `secs` must be retried after, by this provider.
fn said<P: FakeProvider>(secs: Option<u64>) -> Option<Duration> {
    secs.filter(|_| P::SAYS_WHEN).map(Duration::from_secs)
}

async fn refused_with<C: SinkCase>(
    case: &C,
    status: u16,
    retry_after_secs: Option<u64>,
) -> DeliveryError {
    let answer = Answer::Status {
        status,
        retry_after_secs,
    };
    match answered(case, answer, SEND_TIMEOUT).await {
        Ok(r) => panic!("{status}: sent ({r:?})"),
        Err(e) => e,
    }
}

/// An accepted message is sent, with the provider's message id.
pub async fn accepted_message_is_sent<C: SinkCase>(case: &C) {
    match answered(case, Answer::Accept(case.accepted()), SEND_TIMEOUT).await {
        Ok(receipt) => assert_eq!(receipt.provider_message_id, case.message_id()),
        Err(e) => panic!("not sent: {e}"),
    }
}

/// 429 with `Retry-After: 7` is retryable after 7 s.
pub async fn too_many_requests_is_retryable_after_retry_after<C: SinkCase>(case: &C) {
    match refused_with(case, 429, Some(7)).await {
        DeliveryError::Retryable { retry_after, .. } => {
            assert_eq!(retry_after, said::<C::Provider>(Some(7)))
        }
        other => panic!("429: {other:?}"),
    }
}

/// 500, 502, 503 (with `Retry-After: 30`) and 504 are retryable, after the delay given.
pub async fn server_errors_are_retryable<C: SinkCase>(case: &C) {
    for (status, secs) in [(500, None), (502, None), (503, Some(30)), (504, None)] {
        match refused_with(case, status, secs).await {
            DeliveryError::Retryable { retry_after, .. } => {
                assert_eq!(retry_after, said::<C::Provider>(secs), "{status}")
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

/// 400, 401, 403, 404, 410 and 422 are permanent.
pub async fn other_client_errors_are_permanent<C: SinkCase>(case: &C) {
    for status in [400, 401, 403, 404, 410, 422] {
        match refused_with(case, status, None).await {
            DeliveryError::Permanent { reason } => {
                assert!(!reason.trim().is_empty(), "{status}: no reason")
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

/// A provider that read the message and never answers: unknown (it may have been sent).
pub async fn timeout_after_sending_is_unknown<C: SinkCase>(case: &C) {
    match answered(case, Answer::Silent, SHORT_TIMEOUT).await {
        Err(DeliveryError::Unknown { .. }) => {}
        other => panic!("no answer: {other:?}"),
    }
}

/// Nothing listening (nothing was sent): retryable.
pub async fn closed_port_is_retryable<C: SinkCase>(case: &C) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    match deliver(case, addr, SEND_TIMEOUT).await {
        Err(DeliveryError::Retryable { .. }) => {}
        other => panic!("closed port: {other:?}"),
    }
}

/// The sink's `Debug` output holds no credential, nor do the log lines and results of a
/// message accepted and one refused as unauthorized (every other rule checks its own too).
pub async fn credentials_stay_out_of_debug_and_logs<C: SinkCase>(case: &C) {
    let credentials = credentials(case);
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let sink = case.sink(addr, ctx(SEND_TIMEOUT));
    assert_no_credential(
        &credentials,
        &format!("{sink:?} {sink:#?}"),
        "the sink's Debug",
    );
    answered(case, Answer::Accept(case.accepted()), SEND_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("not sent: {e}"));
    refused_with(case, 401, None).await;
}

/// Several messages at once (`Sink::deliver_many`, which the outbox uses when a sink takes more
/// than one per request): one answer per message, in order; accepted, every one is sent; a
/// request the provider refuses (503) is every message's answer, retryable.
pub async fn many_messages_get_one_answer_each<C: SinkCase>(case: &C) {
    let mut second = case.message();
    second.id = format!("{}-2", second.id);
    let messages = [case.message(), second];
    let answers = [
        (Answer::Accept(case.accepted()), "accepted"),
        (
            Answer::Status {
                status: 503,
                retry_after_secs: None,
            },
            "503",
        ),
    ];
    for (answer, what) in answers {
        let provider = C::Provider::start(answer).await;
        let sink = case.sink(provider.addr(), ctx(SEND_TIMEOUT));
        let got = sink.deliver_many(&messages).await;
        assert_eq!(got.len(), messages.len(), "{what}: one answer per message");
        for a in &got {
            match (what, a) {
                ("accepted", Ok(_)) | ("503", Err(DeliveryError::Retryable { .. })) => {}
                _ => panic!("{what}: {a:?}"),
            }
        }
        assert!(
            provider.received().await >= 1,
            "{what}: nothing reached the provider"
        );
    }
}
