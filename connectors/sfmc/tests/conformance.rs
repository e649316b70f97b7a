//! The sink conformance suite (`cartback_testkit::conformance`) for Marketing Cloud: sent (with
//! the `eventInstanceId`), 429 / 5xx retryable after `Retry-After`, other 4xx permanent, a
//! silent server unknown, a closed port retryable, and neither the client secret nor the access
//! token in any `Debug` output or log line.
//!
//! The fake provider is the auth host and the REST host on one wiremock: the token request is
//! always answered (the suite's answer is the REST host's), and a message "reached" it when its
//! entry event did. A 401 is sent once more with a new token, so the events are counted by
//! distinct body: the same event sent twice is one message.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{OutboundMessage, SinkContext};
use cartback_kit::Secret;
use cartback_sfmc::{SfmcSettings, SfmcSink};
use cartback_testkit::conformance::sink::{Answer, FakeProvider, SinkCase};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct SfmcProvider {
    server: MockServer,
}

impl FakeProvider for SfmcProvider {
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
        Mock::given(method("POST"))
            .and(path("/v2/token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(common::token_answer(
                    &server.uri(),
                    common::ACCESS_TOKEN,
                    1079,
                )),
            )
            .mount(&server)
            .await;
        Mock::given(path("/interaction/v1/events"))
            .respond_with(template)
            .mount(&server)
            .await;
        SfmcProvider { server }
    }

    fn addr(&self) -> SocketAddr {
        *self.server.address()
    }

    async fn received(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| {
            r.iter()
                .filter(|r| r.url.path() == "/interaction/v1/events")
                .map(|r| r.body.clone())
                .collect::<BTreeSet<_>>()
                .len()
        })
    }
}

struct Sfmc;

impl SinkCase for Sfmc {
    type Sink = SfmcSink;
    type Provider = SfmcProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> SfmcSink {
        let mut s = SfmcSettings::new(
            common::CLIENT_ID,
            Secret::new(common::CLIENT_SECRET),
            "mc563885gzs27c5t9-63k636ttgm",
            common::EVENT_KEY,
        );
        s.auth_base_url = Some(format!("http://{provider}"));
        SfmcSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        common::message()
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(
            serde_json::json!({"eventInstanceId": "2b4c6a1e-7d3f-4b5a-9c1d-0e2f3a4b5c6d"}),
        )
    }

    fn message_id(&self) -> Option<String> {
        Some("2b4c6a1e-7d3f-4b5a-9c1d-0e2f3a4b5c6d".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![common::CLIENT_SECRET.into(), common::ACCESS_TOKEN.into()]
    }
}

cartback_testkit::sink_conformance!(sfmc, Sfmc);
