//! The conformance suites (`cartback_testkit::conformance`) for Twilio: the receiver of status
//! callbacks and inbound messages runs the source suite (the six official request-validator
//! vectors, wrong / missing / truncated signatures, a malformed callback, an unused status,
//! generated bodies form-encoded, untyped and as JSON signed by `bodySHA256`), and the SMS sink
//! runs the sink suite against a wiremock Twilio.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{InboundRequest, OutboundMessage, Recipient, SinkContext};
use cartback_kit::Secret;
use cartback_testkit::conformance::post;
use cartback_testkit::conformance::sink::{HttpProvider, SinkCase};
use cartback_testkit::conformance::source::{SourceCase, Vector};
use cartback_twilio::payload::form_pairs;
use cartback_twilio::verify::body_sha256;
use cartback_twilio::{signature, TwilioEvents, TwilioSettings, TwilioSink};
use common::{encode, fixture, settings, ACCOUNT_SID, FROM, TOKEN, URL};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use wiremock::ResponseTemplate;

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const JSON: &str = "application/json";

/// twilio-python `tests/unit/test_request_validator.py`.
const VECTOR_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const VECTOR_PARAMS: [(&str, &str); 5] = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
    ("Caller", "+14158675309"),
];

struct Receiver;

/// `url` without a `bodySHA256` query parameter.
fn without_body_hash(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("bodySHA256="))
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

fn request(url: &str, content_type: Option<&str>, body: impl AsRef<[u8]>) -> InboundRequest {
    match content_type {
        Some(ct) => post(url, &[("content-type", ct)], body),
        None => post(url, &[], body),
    }
}

/// A published vector: `body` posted to `url` with the published signature.
fn vector(
    name: &'static str,
    url: &str,
    body: &[u8],
    content_type: &str,
    sig: &str,
) -> Vector<TwilioEvents> {
    let mut request = request(url, Some(content_type), body);
    request
        .headers
        .insert("x-twilio-signature", sig.parse().unwrap());
    Vector {
        name,
        source: TwilioEvents::new(settings()),
        request,
    }
}

impl SourceCase for Receiver {
    type Source = TwilioEvents;

    fn source(&self) -> TwilioEvents {
        TwilioEvents::new(settings())
    }

    /// A JSON body as Twilio signs it (its hash in the URL, the URL signed), else a form.
    fn sign(&self, request: &mut InboundRequest) {
        let json = request
            .header("content-type")
            .is_some_and(|c| c.contains("json"));
        let sig = if json {
            let base = without_body_hash(&request.url);
            let sep = if base.contains('?') { '&' } else { '?' };
            request.url = format!("{base}{sep}bodySHA256={}", body_sha256(&request.body));
            signature(TOKEN, &request.url, &[])
        } else {
            signature(TOKEN, &request.url, &form_pairs(&request.body))
        };
        request
            .headers
            .insert("x-twilio-signature", sig.parse().unwrap());
    }

    fn signature_header(&self) -> &'static str {
        "x-twilio-signature"
    }

    fn valid(&self) -> InboundRequest {
        request(URL, Some(FORM), fixture("status_delivered.form"))
    }

    fn malformed(&self) -> InboundRequest {
        request(URL, Some(FORM), encode(&[("MessageStatus", "delivered")]))
    }

    fn unused_topic(&self) -> InboundRequest {
        request(URL, Some(FORM), fixture("status_sent.form"))
    }

    fn vectors(&self) -> Vec<Vector<TwilioEvents>> {
        let form = encode(&VECTOR_PARAMS);
        let repeated = encode(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        let json_url = format!(
            "{VECTOR_URL}&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        vec![
            vector(
                "1: compute signature",
                VECTOR_URL,
                &form,
                FORM,
                "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            ),
            vector(
                "2: https default port added",
                VECTOR_URL,
                &form,
                FORM,
                "kvajT1Ptam85bY51eRf/AJRuM3w=",
            ),
            vector(
                "3: http default port added",
                "http://mycompany.com/myapp.php?foo=1&bar=2",
                &form,
                FORM,
                "0ZXoZLH/DfblKGATFgpif+LLRf4=",
            ),
            vector(
                "4: http custom port",
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                &form,
                FORM,
                "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            ),
            vector(
                "5: repeated key",
                VECTOR_URL,
                &repeated,
                FORM,
                "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
            ),
            vector(
                "6: JSON body by bodySHA256",
                &json_url,
                br#"{"property": "value", "boolean": true}"#,
                JSON,
                "a9nBmqA0ju/hNViExpshrM61xv4=",
            ),
        ]
    }

    /// Every fixture form-encoded, one without a content type, and one as JSON.
    fn seeds(&self) -> Vec<InboundRequest> {
        let mut seeds: Vec<InboundRequest> = [
            "status_delivered.form",
            "status_failed_21610.form",
            "status_undelivered.form",
            "status_sent.form",
            "inbound_stop.form",
            "inbound_start.form",
            "inbound_reply.form",
        ]
        .into_iter()
        .map(|name| request(URL, Some(FORM), fixture(name)))
        .collect();
        seeds.push(request(URL, None, fixture("inbound_stop.form")));
        seeds.push(request(
            URL,
            Some(JSON),
            br#"{"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+14155550100"}"#,
        ));
        seeds
    }
}

cartback_testkit::source_conformance!(receiver, Receiver);

/// An auth token long enough to be told apart from other text in a log line.
const SINK_TOKEN: &str = "tw-auth-token-5f4e3d2c1b0a";

struct Sms;

impl SinkCase for Sms {
    type Sink = TwilioSink;
    type Provider = HttpProvider;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> TwilioSink {
        let mut s = TwilioSettings::with_from(ACCOUNT_SID, Secret::new(SINK_TOKEN), FROM);
        s.base_url = Some(format!("http://{provider}"));
        TwilioSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        OutboundMessage {
            id: "msg_01".into(),
            channel_id: "sms".into(),
            to: Recipient {
                email: None,
                phone: Some("+14155550100".into()),
                name: Some("Ann".into()),
            },
            subject: None,
            html: None,
            text: Some("Your cart is waiting: https://shop.example/r/abc".into()),
            headers: BTreeMap::new(),
            metadata: BTreeMap::new(),
            contact: None,
            cart: None,
            test: false,
            discount_code: None,
            purpose: Default::default(),
        }
    }

    fn accepted(&self) -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
            "status": "queued",
        }))
    }

    fn message_id(&self) -> Option<String> {
        Some("SM1f0e8ae6ade43cb3c0ce4525424e404f".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![SINK_TOKEN.into()]
    }
}

cartback_testkit::sink_conformance!(sms, Sms);

/// Signing twice (the suite re-signs what it changes) leaves one hash in the URL.
#[test]
fn json_seeds_are_signed_by_their_hash() {
    let mut r = request(URL, Some(JSON), b"{}");
    Receiver.sign(&mut r);
    Receiver.sign(&mut r);
    assert_eq!(r.url, format!("{URL}?bodySHA256={}", body_sha256(b"{}")));
}
