//! The source conformance suite (`cartback_testkit::conformance`) for Shopify: its published
//! vector, wrong / missing / truncated signatures, a malformed body, an unused topic, and
//! generated bodies on every topic the source reads.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::InboundRequest;
use cartback_shopify::{verify::sign, ShopifySource};
use cartback_testkit::conformance::source::{SourceCase, Vector};
use common::{fixture, request, settings, SECRET};

struct Shopify;

impl SourceCase for Shopify {
    type Source = ShopifySource;

    fn source(&self) -> ShopifySource {
        ShopifySource::new(settings())
    }

    fn sign(&self, request: &mut InboundRequest) {
        let signature = sign(SECRET, &request.body);
        request
            .headers
            .insert("x-shopify-hmac-sha256", signature.parse().unwrap());
    }

    fn signature_header(&self) -> &'static str {
        "x-shopify-hmac-sha256"
    }

    fn valid(&self) -> InboundRequest {
        request("checkouts/create", &fixture("checkouts_create.json"), &[])
    }

    fn malformed(&self) -> InboundRequest {
        request(
            "checkouts/create",
            br#"{"token": "t", "line_items": ["#,
            &[],
        )
    }

    fn unused_topic(&self) -> InboundRequest {
        request("products/create", br#"{"id": 788032119674292922}"#, &[])
    }

    fn vectors(&self) -> Vec<Vector<ShopifySource>> {
        vec![Vector {
            name: "shopify-api-js lib/webhooks/__tests__/validate.test.ts",
            source: ShopifySource::new(settings()),
            request: request(
                "products/create",
                br#"{"foo": "bar"}"#,
                &[(
                    "x-shopify-hmac-sha256",
                    "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
                )],
            ),
        }]
    }

    /// Every topic with its own fixture, and a checkout sent as an order and as a cart.
    fn seeds(&self) -> Vec<InboundRequest> {
        [
            ("checkouts/create", "checkouts_create.json"),
            ("checkouts/update", "checkouts_update.json"),
            ("checkouts/create", "checkouts_create_jpy.json"),
            ("carts/update", "carts_update.json"),
            ("orders/create", "orders_create.json"),
            ("customers/update", "customers_update.json"),
            ("customers/redact", "customers_redact.json"),
            ("customers/data_request", "customers_data_request.json"),
            ("shop/redact", "shop_redact.json"),
            ("orders/create", "checkouts_create.json"),
            ("carts/update", "checkouts_create.json"),
        ]
        .into_iter()
        .map(|(topic, name)| request(topic, &fixture(name), &[]))
        .collect()
    }
}

cartback_testkit::source_conformance!(shopify, Shopify);
