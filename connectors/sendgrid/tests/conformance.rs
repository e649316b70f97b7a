//! The conformance suites (`cartback_testkit::conformance`) for SendGrid: the Signed Event
//! Webhook receiver runs the source suite (SendGrid's official vector, wrong / missing /
//! truncated signatures, a malformed body, a batch of unused events, generated bodies), and the
//! mail/send sink runs the sink suite against a wiremock SendGrid.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{InboundRequest, OutboundMessage, SinkContext};
use cartback_sendgrid::verify::{public_key_base64, sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use cartback_sendgrid::{SendGridEvents, SendGridSink};
use cartback_testkit::conformance::post;
use cartback_testkit::conformance::sink::{HttpProvider, SinkCase};
use cartback_testkit::conformance::source::{SourceCase, Vector};
use common::{fixture, message, request, settings, unix, vector, API_KEY};
use p256::ecdsa::SigningKey;
use std::net::SocketAddr;
use std::sync::OnceLock;
use wiremock::ResponseTemplate;

const URL: &str = "https://hub.example.com/webhooks/sendgrid";

/// The key SendGrid signs with here (a fixed test key) and the receiver configured with its
/// public half.
struct Events;

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_slice(&[7u8; 32]).unwrap())
}

fn receiver(public_key: &str) -> SendGridEvents {
    let mut s = settings("http://127.0.0.1:1");
    s.event_webhook_public_key = Some(public_key.to_string());
    let source = SendGridEvents::new(s);
    assert!(source.requires_signature());
    source
}

impl SourceCase for Events {
    type Source = SendGridEvents;

    fn source(&self) -> SendGridEvents {
        receiver(&public_key_base64(key()).unwrap())
    }

    fn sign(&self, request: &mut InboundRequest) {
        let ts = request.received_at.timestamp().to_string();
        let signature = sign(key(), &ts, &request.body);
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
        post(URL, &[], fixture("events_batch.json"))
    }

    fn malformed(&self) -> InboundRequest {
        post(URL, &[], br#"{"event":"delivered"}"#)
    }

    fn unused_topic(&self) -> InboundRequest {
        post(
            URL,
            &[],
            br#"[{"email":"a@example.com","timestamp":1763656100,"event":"processed","sg_event_id":"p1"}]"#,
        )
    }

    fn vectors(&self) -> Vec<Vector<SendGridEvents>> {
        let at = unix(vector::TIMESTAMP.parse().unwrap());
        vec![Vector {
            name: "sendgrid-python test/unit/test_eventwebhook.py",
            source: receiver(vector::PUBLIC_KEY),
            request: request(
                vector::PAYLOAD.as_bytes(),
                &[
                    (SIGNATURE_HEADER, vector::SIGNATURE),
                    (TIMESTAMP_HEADER, vector::TIMESTAMP),
                ],
                at,
            ),
        }]
    }

    /// ECDSA costs milliseconds in a debug build: generated bodies go to a receiver that takes
    /// unsigned events (`tests/properties.rs` signs arbitrary bytes, fewer of them).
    fn unsigned_source(&self) -> Option<SendGridEvents> {
        let mut s = settings("http://127.0.0.1:1");
        s.allow_unsigned_events = true;
        let source = SendGridEvents::new(s);
        assert!(!source.requires_signature());
        Some(source)
    }
}

cartback_testkit::source_conformance!(event_webhook, Events);

/// The mail/send sink with an API key and `from`, sending to the fake SendGrid.
struct MailSend;

impl SinkCase for MailSend {
    type Sink = SendGridSink;
    type Provider = HttpProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> SendGridSink {
        SendGridSink::new(settings(&format!("http://{provider}")), ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        message()
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(202).insert_header("X-Message-Id", "Wf3ZWk8wSs-c0A4TkUvNWg")
    }

    fn message_id(&self) -> Option<String> {
        Some("Wf3ZWk8wSs-c0A4TkUvNWg".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![API_KEY.into()]
    }
}

cartback_testkit::sink_conformance!(mail_send, MailSend);
