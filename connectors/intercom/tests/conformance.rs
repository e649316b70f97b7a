//! The sink conformance suite (`cartback_testkit::conformance`) for Intercom: sent, 429 / 5xx
//! retryable after `Retry-After`, other 4xx permanent, a silent server unknown, a closed port
//! retryable, and the access token in no `Debug` output or log line.
//!
//! A hand-off is two requests or more (the contact, then the event), so the fake provider
//! counts a message when its first request arrives: wiremock answering every request alike,
//! counting the `POST /contacts` calls.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{OutboundMessage, SinkContext};
use cartback_intercom::{IntercomSettings, IntercomSink};
use cartback_kit::Secret;
use cartback_testkit::conformance::sink::{Answer, FakeProvider, SinkCase};
use std::net::SocketAddr;
use std::time::Duration;
use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};

/// Wiremock answering every request with one answer; a message "reached" it when its contact
/// request did.
struct IntercomProvider {
    server: MockServer,
}

impl FakeProvider for IntercomProvider {
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
        let server = MockServer::builder().start().await;
        Mock::given(any())
            .respond_with(template)
            .mount(&server)
            .await;
        IntercomProvider { server }
    }

    fn addr(&self) -> SocketAddr {
        *self.server.address()
    }

    async fn received(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| {
            r.iter()
                .filter(|r| r.url.path() == "/contacts" && r.method.as_str() == "POST")
                .count()
        })
    }
}

struct Intercom;

impl SinkCase for Intercom {
    type Sink = IntercomSink;
    type Provider = IntercomProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> IntercomSink {
        let mut s = IntercomSettings::new(Secret::new(common::TOKEN));
        s.base_url = Some(format!("http://{provider}"));
        IntercomSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        common::message()
    }

    /// The contact's answer (the event's 202 is read for nothing).
    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"type": "contact", "id": "c-42"}))
    }

    /// Intercom gives an event no id.
    fn message_id(&self) -> Option<String> {
        None
    }

    fn credentials(&self) -> Vec<String> {
        vec![common::TOKEN.into()]
    }
}

cartback_testkit::sink_conformance!(intercom, Intercom);
