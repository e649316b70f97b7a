//! The source conformance suite (`cartback_testkit::conformance`) for WooCommerce webhooks: the
//! vector derived in platforms.md (WooCommerce publishes none; the primitive is Shopify's),
//! wrong / missing / truncated signatures, a malformed order, an unused topic, and generated
//! bodies on every topic the source routes. The poller's tests stay in `tests/poll.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::InboundRequest;
use cartback_testkit::conformance::source::{SourceCase, Vector};
use cartback_woocommerce::{verify::sign, WooSource};
use common::{fixture, request, settings, SECRET};

struct Woo;

impl SourceCase for Woo {
    type Source = WooSource;

    fn source(&self) -> WooSource {
        WooSource::new(settings())
    }

    fn sign(&self, request: &mut InboundRequest) {
        let signature = sign(SECRET, &request.body);
        request
            .headers
            .insert("x-wc-webhook-signature", signature.parse().unwrap());
    }

    fn signature_header(&self) -> &'static str {
        "x-wc-webhook-signature"
    }

    fn valid(&self) -> InboundRequest {
        request("order.created", &fixture("order_pending.json"), &[])
    }

    fn malformed(&self) -> InboundRequest {
        request(
            "order.updated",
            br#"{"id": 727, "status": "pending", "#,
            &[],
        )
    }

    fn unused_topic(&self) -> InboundRequest {
        request("coupon.created", br#"{"id": 719, "code": "10off"}"#, &[])
    }

    fn vectors(&self) -> Vec<Vector<WooSource>> {
        vec![Vector {
            name: "derived in platforms.md §2 (secret test_secret_key, body {\"foo\": \"bar\"})",
            source: WooSource::new(settings()),
            request: request(
                "order.updated",
                br#"{"foo": "bar"}"#,
                &[(
                    "x-wc-webhook-signature",
                    "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
                )],
            ),
        }]
    }

    /// Every topic the source routes (a case variant, one it ignores and none at all too),
    /// with an order, and the abandoned-cart topics with a cart.
    fn seeds(&self) -> Vec<InboundRequest> {
        let order = fixture("order_pending.json");
        let cart = fixture("cart_abandoned.json");
        let mut seeds: Vec<InboundRequest> = [
            "order.created",
            "order.updated",
            "action.woocommerce_cart_abandoned",
            "cart_abandoned",
            "Order.Updated",
            "coupon.created",
            "",
        ]
        .into_iter()
        .map(|topic| request(topic, &order, &[]))
        .collect();
        for topic in ["action.woocommerce_cart_abandoned", "cart_abandoned"] {
            seeds.push(request(topic, &cart, &[]));
        }
        seeds.push(request(
            "order.updated",
            &fixture("order_processing.json"),
            &[],
        ));
        seeds
    }
}

cartback_testkit::source_conformance!(woocommerce, Woo);
