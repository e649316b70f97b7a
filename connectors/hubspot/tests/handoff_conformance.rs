//! The sink conformance suite (`cartback_testkit::conformance`) for the hand-off channel: sent
//! with HubSpot's contact id, 429 / 5xx retryable after `Retry-After`, other 4xx permanent, a
//! silent HubSpot unknown, a closed port retryable, and the access token in no `Debug` output or
//! log line. Built without `event_name`, so each message is one request (the upsert).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{OutboundMessage, SinkContext};
use cartback_hubspot::HubSpotSink;
use cartback_testkit::conformance::sink::{HttpProvider, SinkCase};
use common::handoff::{message, settings, TOKEN};
use std::net::SocketAddr;
use wiremock::ResponseTemplate;

struct HubSpotHandOff;

impl SinkCase for HubSpotHandOff {
    type Sink = HubSpotSink;
    type Provider = HttpProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> HubSpotSink {
        HubSpotSink::new(settings(&format!("http://{provider}")), ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        message()
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "COMPLETE",
            "results": [{"id": "501", "new": true, "properties": {}}]
        }))
    }

    fn message_id(&self) -> Option<String> {
        Some("501".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![TOKEN.into()]
    }
}

cartback_testkit::sink_conformance!(hubspot_handoff, HubSpotHandOff);
