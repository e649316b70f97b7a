//! The sink conformance suite (`cartback_testkit::conformance`) for MailerLite: sent (with the
//! subscriber's id), 429 / 5xx retryable after `Retry-After`, other 4xx permanent, a silent
//! server unknown, a closed port retryable, and the API token in no `Debug` output or log line.
//! A reminder is one request (the upsert), so the suite's plain wiremock provider fits.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{OutboundMessage, SinkContext};
use cartback_kit::Secret;
use cartback_mailerlite::{MailerLiteSettings, MailerLiteSink};
use cartback_testkit::conformance::sink::{HttpProvider, SinkCase};
use std::net::SocketAddr;
use wiremock::ResponseTemplate;

struct MailerLite;

impl SinkCase for MailerLite {
    type Sink = MailerLiteSink;
    type Provider = HttpProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> MailerLiteSink {
        let mut s = MailerLiteSettings::new(Secret::new(common::API_TOKEN), common::GROUP);
        s.base_url = Some(format!("http://{provider}/api"));
        MailerLiteSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        common::message()
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "data": {"id": "31897397363737859", "email": "ann@example.com", "status": "active"}
        }))
    }

    fn message_id(&self) -> Option<String> {
        Some("31897397363737859".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![common::API_TOKEN.into()]
    }
}

cartback_testkit::sink_conformance!(mailerlite, MailerLite);
