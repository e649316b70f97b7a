//! The sink conformance suite (`cartback_testkit::conformance`) for Drip: sent (with Drip's
//! `request_id`), 429 / 5xx retryable after `Retry-After`, other 4xx permanent, a silent server
//! unknown, a closed port retryable, and the API token in no `Debug` output or log line.
//!
//! A reminder is two requests (the person, then the cart event), so the fake provider counts a
//! message when its first request arrives: [`Drip`]'s provider is wiremock answering every
//! request alike, counting the `/subscribers` calls.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{OutboundMessage, SinkContext};
use cartback_drip::{DripSettings, DripSink};
use cartback_kit::Secret;
use cartback_testkit::conformance::sink::{Answer, FakeProvider, SinkCase};
use std::net::SocketAddr;
use std::time::Duration;
use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};

/// Wiremock answering every request with one answer; a message "reached" it when its person
/// request did.
struct DripProvider {
    server: MockServer,
}

impl FakeProvider for DripProvider {
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
        DripProvider { server }
    }

    fn addr(&self) -> SocketAddr {
        *self.server.address()
    }

    async fn received(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| {
            r.iter()
                .filter(|r| r.url.path().ends_with("/subscribers"))
                .count()
        })
    }
}

struct Drip;

impl SinkCase for Drip {
    type Sink = DripSink;
    type Provider = DripProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> DripSink {
        let mut s = DripSettings::new(Secret::new(common::API_TOKEN), common::ACCOUNT);
        s.base_url = Some(format!("http://{provider}"));
        DripSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        common::message()
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(202).set_body_json(serde_json::json!({"request_id": "990c99a7"}))
    }

    fn message_id(&self) -> Option<String> {
        Some("990c99a7".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![
            common::API_TOKEN.into(),
            cartback_kit::Encoding::Base64.encode(format!("{}:", common::API_TOKEN).as_bytes()),
        ]
    }
}

cartback_testkit::sink_conformance!(drip, Drip);
