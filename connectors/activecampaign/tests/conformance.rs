//! The sink conformance suite (`cartback_testkit::conformance`) for ActiveCampaign: sent (with
//! the abandoned cart's id), 429 / 5xx retryable after `Retry-After`, other 4xx permanent, a
//! silent server unknown, a closed port retryable, and the API token in no `Debug` output or log
//! line.
//!
//! A reminder is four requests (contact, customer lookup, order lookup or customer, order), so
//! the fake provider counts a message when its first request arrives: wiremock answering every
//! request alike (one body carrying every record the sink reads), counting the contact syncs.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_activecampaign::{ActiveCampaignSettings, ActiveCampaignSink};
use cartback_core::{OutboundMessage, SinkContext};
use cartback_kit::Secret;
use cartback_testkit::conformance::sink::{Answer, FakeProvider, SinkCase};
use std::net::SocketAddr;
use std::time::Duration;
use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};

/// Wiremock answering every request with one answer; a message "reached" it when its contact
/// sync did.
struct AcProvider {
    server: MockServer,
}

impl FakeProvider for AcProvider {
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
        AcProvider { server }
    }

    fn addr(&self) -> SocketAddr {
        *self.server.address()
    }

    async fn received(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| {
            r.iter()
                .filter(|r| r.url.path() == "/api/3/contact/sync")
                .count()
        })
    }
}

struct ActiveCampaign;

impl SinkCase for ActiveCampaign {
    type Sink = ActiveCampaignSink;
    type Provider = AcProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> ActiveCampaignSink {
        let s = ActiveCampaignSettings::new(
            format!("http://{provider}"),
            Secret::new(common::TOKEN),
            common::CONNECTION,
        );
        ActiveCampaignSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        common::message()
    }

    /// Every record the sink reads, in one body: the contact, the customer found, no earlier
    /// cart, the order written.
    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "contact": {"id": "113"},
            "ecomCustomers": [{"id": "7", "email": "ann@example.com", "connectionid": "1"}],
            "ecomOrders": [],
            "ecomOrder": {"id": "99"},
        }))
    }

    fn message_id(&self) -> Option<String> {
        Some("99".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![common::TOKEN.into()]
    }
}

cartback_testkit::sink_conformance!(activecampaign, ActiveCampaign);
