//! The sink conformance suite (`cartback_testkit::conformance`) for Omnisend: sent (with the id
//! Omnisend answers with, when it gives one), 429 / 5xx retryable after `Retry-After`, other 4xx
//! permanent, a silent server unknown, a closed port retryable, and the API key in no `Debug`
//! output or log line.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{OutboundMessage, SinkContext};
use cartback_kit::Secret;
use cartback_omnisend::{OmnisendSettings, OmnisendSink};
use cartback_testkit::conformance::sink::{HttpProvider, SinkCase};
use std::net::SocketAddr;
use wiremock::ResponseTemplate;

struct Omnisend;

impl SinkCase for Omnisend {
    type Sink = OmnisendSink;
    type Provider = HttpProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> OmnisendSink {
        let mut s = OmnisendSettings::new(Secret::new(common::API_KEY));
        s.base_url = Some(format!("http://{provider}"));
        OmnisendSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        common::message()
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(202).set_body_json(serde_json::json!({"eventID": "evt-42"}))
    }

    fn message_id(&self) -> Option<String> {
        Some("evt-42".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![common::API_KEY.into()]
    }
}

cartback_testkit::sink_conformance!(omnisend, Omnisend);
