//! The source conformance suite (`cartback_testkit::conformance`): what every source must do,
//! from one struct saying how this platform signs and three requests. Copy it with the crate.
//! Acme is made up, so it has no published signature vector; a real platform lists its own in
//! `vectors()` (shared/platforms.md) and drops `no_published_vector`.
#![allow(clippy::unwrap_used)]

use cartback_core::InboundRequest;
use cartback_kit::{Secret, SecretList};
use cartback_template::verify::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER, TOPIC_HEADER};
use cartback_template::{TemplateSettings, TemplateSource};
use cartback_testkit::conformance::post;
use cartback_testkit::conformance::source::SourceCase;

const SECRET: &str = "acme-test-secret";
const URL: &str = "https://hub.example/webhooks/acme";

fn delivery(topic: &str, body: &[u8]) -> InboundRequest {
    post(
        URL,
        &[(TOPIC_HEADER, topic), ("x-acme-delivery", "d-1")],
        body,
    )
}

struct Acme;

impl SourceCase for Acme {
    type Source = TemplateSource;

    fn source(&self) -> TemplateSource {
        TemplateSource::new(TemplateSettings::new(SecretList::new(vec![Secret::new(
            SECRET,
        )])))
    }

    fn sign(&self, request: &mut InboundRequest) {
        let ts = request.received_at.timestamp().to_string();
        let signature = sign(SECRET, &ts, &request.body);
        request
            .headers
            .insert(SIGNATURE_HEADER, signature.parse().unwrap());
        request
            .headers
            .insert(TIMESTAMP_HEADER, ts.parse().unwrap());
    }

    fn signature_header(&self) -> &'static str {
        SIGNATURE_HEADER
    }

    fn valid(&self) -> InboundRequest {
        delivery(
            "checkout.updated",
            include_bytes!("fixtures/checkout_updated.json"),
        )
    }

    fn malformed(&self) -> InboundRequest {
        delivery("checkout.updated", br#"{"id": 90210, "items": "#)
    }

    fn unused_topic(&self) -> InboundRequest {
        delivery("product.updated", br#"{"id": 7}"#)
    }
}

cartback_testkit::source_conformance!(acme, Acme, no_published_vector);
