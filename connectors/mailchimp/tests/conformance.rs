//! The sink conformance suite (`cartback_testkit::conformance`) for the Mailchimp hand-off:
//! sent with the cart's id, 429 / 5xx retryable after `Retry-After`, other 4xx permanent, a
//! silent Mailchimp unknown, a closed port retryable, and the API key in no `Debug` output or
//! log line. Built without `list_id` and product sync, so each message is one request (the cart).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{OutboundMessage, SinkContext};
use cartback_mailchimp::MailchimpSink;
use cartback_testkit::conformance::sink::{HttpProvider, SinkCase};
use common::{bare, message, KEY};
use std::net::SocketAddr;
use wiremock::ResponseTemplate;

struct Mailchimp;

impl SinkCase for Mailchimp {
    type Sink = MailchimpSink;
    type Provider = HttpProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> MailchimpSink {
        MailchimpSink::new(bare(&format!("http://{provider}")), ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        message()
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "cart_8f2c", "currency_code": "EUR", "order_total": 59.98
        }))
    }

    fn message_id(&self) -> Option<String> {
        Some("cart_8f2c".into())
    }

    /// The key, and its secret part without the data center.
    fn credentials(&self) -> Vec<String> {
        vec![KEY.into(), KEY.trim_end_matches("-us6").into()]
    }
}

cartback_testkit::sink_conformance!(mailchimp, Mailchimp);
