//! The sink conformance suite (`cartback_testkit::conformance`) for Bloomreach: sent, 429 / 5xx
//! retryable after `Retry-After`, other 4xx permanent, a silent server unknown, a closed port
//! retryable, and the API secret in no `Debug` output or log line.
//!
//! A reminder is two requests (the customer, then the event), so the fake provider counts a
//! message when its first request arrives: wiremock answering every request alike, counting
//! the `…/customers` calls.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_bloomreach::{BloomreachSettings, BloomreachSink};
use cartback_core::{OutboundMessage, SinkContext};
use cartback_kit::Secret;
use cartback_testkit::conformance::sink::{Answer, FakeProvider, SinkCase};
use std::net::SocketAddr;
use std::time::Duration;
use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};

struct BloomreachProvider {
    server: MockServer,
}

impl FakeProvider for BloomreachProvider {
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
        BloomreachProvider { server }
    }

    fn addr(&self) -> SocketAddr {
        *self.server.address()
    }

    async fn received(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| {
            r.iter()
                .filter(|r| r.url.path().ends_with("/customers"))
                .count()
        })
    }
}

struct Bloomreach;

impl SinkCase for Bloomreach {
    type Sink = BloomreachSink;
    type Provider = BloomreachProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> BloomreachSink {
        let mut s =
            BloomreachSettings::new(common::TOKEN, common::KEY_ID, Secret::new(common::SECRET));
        s.base_url = Some(format!("http://{provider}"));
        BloomreachSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        common::message()
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"success": true}))
    }

    /// Bloomreach answers `{"success": true}` with no id.
    fn message_id(&self) -> Option<String> {
        None
    }

    fn credentials(&self) -> Vec<String> {
        vec![common::SECRET.into()]
    }
}

cartback_testkit::sink_conformance!(bloomreach, Bloomreach);
