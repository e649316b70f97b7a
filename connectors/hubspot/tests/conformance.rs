//! The source conformance suite (`cartback_testkit::conformance`) for HubSpot webhooks: the
//! official v1, v2 and v3 vectors, wrong / missing / truncated v3 signatures, a malformed batch,
//! a batch of nothing the hub uses, and generated bodies signed v1, v2 and v3.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::InboundRequest;
use cartback_hubspot::verify::{signature_v1, signature_v2, signature_v3};
use cartback_hubspot::HubSpotSource;
use cartback_testkit::conformance::source::{SourceCase, Vector};
use chrono::DateTime;
use common::{fixture, settings, unsigned, with_headers, SECRET, URL};
use http::Method;

/// HubSpot/hubspot-api-python `tests/spec/utils/test_signature.py` (the body is literally this
/// Python-repr text, single quotes included).
const BODY: &[u8] = b"{'example_field':'example_value'}";
const URI: &str = "https://www.example.com/webhook_uri";

struct HubSpot;

fn vector(
    name: &'static str,
    method: Method,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Vector<HubSpotSource> {
    Vector {
        name,
        source: HubSpotSource::new(settings()),
        request: with_headers(unsigned(method, URI, body), headers),
    }
}

impl SourceCase for HubSpot {
    type Source = HubSpotSource;

    fn source(&self) -> HubSpotSource {
        HubSpotSource::new(settings())
    }

    /// As `X-HubSpot-Signature-Version` says (v1, v2), else v3 at the time of receipt.
    fn sign(&self, request: &mut InboundRequest) {
        let method = request.method.as_str().to_string();
        let version = request
            .header("x-hubspot-signature-version")
            .map(str::to_ascii_lowercase);
        let headers: Vec<(&str, String)> = match version.as_deref() {
            Some("v1") => vec![("x-hubspot-signature", signature_v1(SECRET, &request.body))],
            Some("v2") => vec![(
                "x-hubspot-signature",
                signature_v2(SECRET, &method, &request.url, &request.body),
            )],
            _ => {
                let ts = request.received_at.timestamp_millis().to_string();
                let sig = signature_v3(SECRET, &method, &request.url, &request.body, &ts);
                vec![
                    ("x-hubspot-signature-v3", sig),
                    ("x-hubspot-request-timestamp", ts),
                ]
            }
        };
        for (name, value) in headers {
            request.headers.insert(name, value.parse().unwrap());
        }
    }

    fn signature_header(&self) -> &'static str {
        "x-hubspot-signature-v3"
    }

    fn valid(&self) -> InboundRequest {
        unsigned(Method::POST, URL, &fixture("contact_batch.json"))
    }

    fn malformed(&self) -> InboundRequest {
        unsigned(
            Method::POST,
            URL,
            br#"[{"subscriptionType": "contact.creation", "objectId": 1}]"#,
        )
    }

    fn unused_topic(&self) -> InboundRequest {
        unsigned(
            Method::POST,
            URL,
            br#"[{"eventId": 1, "occurredAt": 1763654400000, "subscriptionType": "company.creation", "objectId": 3}]"#,
        )
    }

    fn vectors(&self) -> Vec<Vector<HubSpotSource>> {
        let v1 = "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750";
        let mut v3 = vector(
            "v3 (received at its own time)",
            Method::POST,
            BODY,
            &[
                (
                    "x-hubspot-signature-v3",
                    "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
                ),
                ("x-hubspot-request-timestamp", "15000000"),
            ],
        );
        v3.request.received_at = DateTime::from_timestamp_millis(15_000_000).unwrap();
        vec![
            vector("v1", Method::POST, BODY, &[("x-hubspot-signature", v1)]),
            vector(
                "v1 with its version header",
                Method::POST,
                BODY,
                &[
                    ("x-hubspot-signature", v1),
                    ("x-hubspot-signature-version", "v1"),
                ],
            ),
            vector(
                "v2",
                Method::POST,
                BODY,
                &[
                    (
                        "x-hubspot-signature",
                        "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383",
                    ),
                    ("x-hubspot-signature-version", "v2"),
                ],
            ),
            vector(
                "v2, GET without a body",
                Method::GET,
                b"",
                &[
                    (
                        "x-hubspot-signature",
                        "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e",
                    ),
                    ("x-hubspot-signature-version", "v2"),
                ],
            ),
            v3,
        ]
    }

    /// The fixture batch signed v3, v2 and v1.
    fn seeds(&self) -> Vec<InboundRequest> {
        let batch = fixture("contact_batch.json");
        vec![
            self.valid(),
            with_headers(
                unsigned(Method::POST, URL, &batch),
                &[("x-hubspot-signature-version", "v2")],
            ),
            with_headers(
                unsigned(Method::POST, URL, &batch),
                &[("x-hubspot-signature-version", "V1")],
            ),
        ]
    }
}

cartback_testkit::source_conformance!(hubspot, HubSpot);
