//! The source conformance suite (`cartback_testkit::conformance`) for Segment, twice: the
//! Webhooks destination (`X-Signature`, HMAC-SHA1 of the body or of a batch's first element)
//! and the Tracking API mounts (`Authorization: Basic` with a write key, which does not depend on
//! the body). Each: its documented vector, wrong / missing / truncated credentials, a malformed
//! message, an unused event, and generated bodies in every envelope and on every mount. Then the
//! sink suite once, for the hand-off channel against a wiremock Tracking API (200, no id).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{InboundRequest, OutboundMessage, SinkContext};
use cartback_kit::{Secret, SecretList};
use cartback_segment::verify::{basic_auth, first_array_element, sign};
use cartback_segment::{SegmentSettings, SegmentSink, SegmentSource};
use cartback_testkit::conformance::gen::{bytes_of, json_of};
use cartback_testkit::conformance::sink::{HttpProvider, SinkCase};
use cartback_testkit::conformance::source::{SourceCase, Vector};
use common::{
    channel, fixture, message, request, settings, CHANNEL_KEY, SERVER_KEY, SHARED_SECRET,
};
use std::net::SocketAddr;
use wiremock::ResponseTemplate;

const FIXTURES: [&str; 4] = [
    "checkout_started.json",
    "cart_viewed.json",
    "order_completed.json",
    "identify.json",
];

/// A message without `properties.total`: Order Completed cannot be read.
const NO_TOTAL: &[u8] = br#"{"batch":[{"type":"track","event":"Order Completed","messageId":"m","properties":{"order_id":"o"}}]}"#;

fn first_message(name: &str) -> Vec<u8> {
    bytes_of(&json_of(fixture(name))["batch"][0])
}

/// The Webhooks destination at `/webhooks/seg`.
struct Webhooks;

impl SourceCase for Webhooks {
    type Source = SegmentSource;

    fn source(&self) -> SegmentSource {
        SegmentSource::new(settings())
    }

    /// Over the first element of an array body (how Segment signs batches), else the body.
    fn sign(&self, request: &mut InboundRequest) {
        let signed = first_array_element(&request.body).unwrap_or(&request.body);
        let signature = sign(SHARED_SECRET, signed);
        request
            .headers
            .insert("x-signature", signature.parse().unwrap());
    }

    fn signature_header(&self) -> &'static str {
        "x-signature"
    }

    fn valid(&self) -> InboundRequest {
        request("/webhooks/seg", &fixture("checkout_started.json"), &[])
    }

    fn malformed(&self) -> InboundRequest {
        request("/webhooks/seg", NO_TOTAL, &[])
    }

    fn unused_topic(&self) -> InboundRequest {
        request("/webhooks/seg", &fixture("unknown_event.json"), &[])
    }

    fn vectors(&self) -> Vec<Vector<SegmentSource>> {
        vec![Vector {
            name: "derived in platforms.md §4 (shared secret abc123, data {\"cool\":true})",
            source: SegmentSource::new(settings()),
            request: request(
                "/webhooks/seg",
                br#"{"cool":true}"#,
                &[("x-signature", "5099cab379b3be52908387457007040cc934ef86")],
            ),
        }]
    }

    /// Every fixture as a batch, one batch as a bare array, and one message alone.
    fn seeds(&self) -> Vec<InboundRequest> {
        let mut seeds: Vec<InboundRequest> = FIXTURES
            .into_iter()
            .map(|name| request("/webhooks/seg", &fixture(name), &[]))
            .collect();
        let batch = json_of(fixture("checkout_started.json"))["batch"].clone();
        seeds.push(request("/webhooks/seg", &bytes_of(&batch), &[]));
        seeds.push(request(
            "/webhooks/seg",
            &first_message("order_completed.json"),
            &[],
        ));
        seeds
    }
}

cartback_testkit::source_conformance!(webhooks, Webhooks);

/// The Tracking API mounts (`/v1/batch`, `/v1/track`, ...) with a server write key.
struct Api;

impl SourceCase for Api {
    type Source = SegmentSource;

    fn source(&self) -> SegmentSource {
        SegmentSource::new(settings())
    }

    fn sign(&self, request: &mut InboundRequest) {
        request
            .headers
            .insert("authorization", basic_auth(SERVER_KEY).parse().unwrap());
    }

    fn signature_header(&self) -> &'static str {
        "authorization"
    }

    /// A write key, the same for every body.
    fn signs_body(&self) -> bool {
        false
    }

    fn valid(&self) -> InboundRequest {
        request("/v1/batch", &fixture("checkout_started.json"), &[])
    }

    fn malformed(&self) -> InboundRequest {
        request("/v1/batch", NO_TOTAL, &[])
    }

    fn unused_topic(&self) -> InboundRequest {
        request("/v1/batch", &fixture("unknown_event.json"), &[])
    }

    fn vectors(&self) -> Vec<Vector<SegmentSource>> {
        let documented = SegmentSettings {
            server_write_keys: Some(SecretList::new(vec![Secret::new("abc123")])),
            ..settings()
        };
        vec![Vector {
            name: "segment-docs http-api: write key abc123 is Basic YWJjMTIzOg==",
            source: SegmentSource::new(documented),
            request: request(
                "/v1/batch",
                &fixture("checkout_started.json"),
                &[("authorization", "Basic YWJjMTIzOg==")],
            ),
        }]
    }

    /// Every fixture at `/v1/batch`, and single messages at the other mounts.
    fn seeds(&self) -> Vec<InboundRequest> {
        let mut seeds: Vec<InboundRequest> = FIXTURES
            .into_iter()
            .map(|name| request("/v1/batch", &fixture(name), &[]))
            .collect();
        let track = first_message("checkout_started.json");
        seeds.push(request("/v1/track", &track, &[]));
        seeds.push(request("/V1/Track/?x=1", &track, &[]));
        seeds.push(request(
            "/v1/identify",
            &first_message("identify.json"),
            &[],
        ));
        seeds.push(request("/v1/page", &first_message("cart_viewed.json"), &[]));
        seeds
    }
}

cartback_testkit::source_conformance!(api, Api);

/// The hand-off channel: one `POST /v1/batch` per message.
struct Channel;

impl SinkCase for Channel {
    type Sink = SegmentSink;
    type Provider = HttpProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> SegmentSink {
        SegmentSink::new(channel(&format!("http://{provider}")), ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        message()
    }

    /// The Tracking API's answer: 200 (no id).
    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"success": true}))
    }

    fn message_id(&self) -> Option<String> {
        None
    }

    /// The write key and the basic-auth token it becomes.
    fn credentials(&self) -> Vec<String> {
        vec![
            CHANNEL_KEY.into(),
            basic_auth(CHANNEL_KEY)
                .trim_start_matches("Basic ")
                .to_string(),
        ]
    }
}

cartback_testkit::sink_conformance!(hand_off, Channel);
