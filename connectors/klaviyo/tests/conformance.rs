//! The conformance suites (`cartback_testkit::conformance`) for Klaviyo. The source suite twice:
//! system webhooks (`Klaviyo-Signature`, hex HMAC-SHA256 of body and timestamp) and flow
//! webhooks (the shared secret in `X-Cartback-Secret`, which does not depend on the body);
//! Klaviyo publishes no signature vector. The sink suite once, for the hand-off channel against
//! a wiremock Klaviyo (202 without a body, so no provider id).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{InboundRequest, OutboundMessage, SinkContext};
use cartback_klaviyo::verify::sign;
use cartback_klaviyo::{KlaviyoSink, KlaviyoSource};
use cartback_testkit::conformance::sink::{HttpProvider, SinkCase};
use cartback_testkit::conformance::source::SourceCase;
use chrono::SecondsFormat;
use common::{channel, fixture, flow, message, settings, signed, API_KEY, SECRET};
use std::net::SocketAddr;
use wiremock::ResponseTemplate;

/// A batch whose one topic the hub does not use.
const UNUSED: &[u8] = br#"{"data":[{"external_id":"x1","topic":"event:klaviyo.email_opened","payload":{}}],"meta":{}}"#;

/// System webhooks, signed.
struct System;

impl SourceCase for System {
    type Source = KlaviyoSource;

    fn source(&self) -> KlaviyoSource {
        KlaviyoSource::new(settings())
    }

    /// At the request's `Klaviyo-Timestamp` when it has one (the seeds carry each form
    /// Klaviyo may send), else at its time of receipt.
    fn sign(&self, request: &mut InboundRequest) {
        let ts = request
            .header("klaviyo-timestamp")
            .map(str::to_string)
            .unwrap_or_else(|| {
                request
                    .received_at
                    .to_rfc3339_opts(SecondsFormat::Secs, true)
            });
        let signature = sign(SECRET, &request.body, &ts);
        request
            .headers
            .insert("klaviyo-signature", signature.parse().unwrap());
        request
            .headers
            .insert("klaviyo-timestamp", ts.parse().unwrap());
    }

    fn signature_header(&self) -> &'static str {
        "klaviyo-signature"
    }

    fn valid(&self) -> InboundRequest {
        signed(&fixture("system_batch.json"), &[])
    }

    fn malformed(&self) -> InboundRequest {
        signed(br#"{"data":[1]}"#, &[])
    }

    fn unused_topic(&self) -> InboundRequest {
        signed(UNUSED, &[])
    }

    /// The batch with and without `Klaviyo-Webhook-Id`, at a time in each form Klaviyo sends.
    fn seeds(&self) -> Vec<InboundRequest> {
        let batch = fixture("system_batch.json");
        let mut seeds = vec![signed(&batch, &[("klaviyo-webhook-id", "")])];
        for ts in [
            "2026-11-20T15:59:30Z",
            "1795190370",
            "1795190370000",
            "1795190370.25",
        ] {
            seeds.push(signed(&batch, &[("klaviyo-timestamp", ts)]));
        }
        seeds
    }
}

cartback_testkit::source_conformance!(system, System, no_published_vector);

/// Flow webhooks, carrying the shared secret.
struct Flow;

impl SourceCase for Flow {
    type Source = KlaviyoSource;

    fn source(&self) -> KlaviyoSource {
        KlaviyoSource::new(settings())
    }

    fn sign(&self, request: &mut InboundRequest) {
        request
            .headers
            .insert("x-cartback-secret", SECRET.parse().unwrap());
    }

    fn signature_header(&self) -> &'static str {
        "x-cartback-secret"
    }

    /// A shared secret, the same for every body.
    fn signs_body(&self) -> bool {
        false
    }

    fn valid(&self) -> InboundRequest {
        flow(&fixture("flow_webhook.json"), &[])
    }

    fn malformed(&self) -> InboundRequest {
        flow(br#"{"event_id":""}"#, &[])
    }

    fn unused_topic(&self) -> InboundRequest {
        flow(UNUSED, &[])
    }

    /// A flow webhook, and a system batch sent with the shared secret.
    fn seeds(&self) -> Vec<InboundRequest> {
        vec![self.valid(), flow(&fixture("system_batch.json"), &[])]
    }
}

cartback_testkit::source_conformance!(flow_webhooks, Flow, no_published_vector);

/// The hand-off channel.
struct Channel;

impl SinkCase for Channel {
    type Sink = KlaviyoSink;
    type Provider = HttpProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> KlaviyoSink {
        KlaviyoSink::new(channel(&format!("http://{provider}")), ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        message()
    }

    /// Create Event's answer: 202, no body.
    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(202)
    }

    fn message_id(&self) -> Option<String> {
        None
    }

    fn credentials(&self) -> Vec<String> {
        vec![API_KEY.into()]
    }
}

cartback_testkit::sink_conformance!(hand_off, Channel);
