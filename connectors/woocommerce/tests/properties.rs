//! Property tests over hostile input that are WooCommerce's own (the suite in `conformance.rs`
//! has the rest): orders, order lines and abandoned carts shaped like the fixtures with fields
//! at the edges of their meaning.
//!
//! `PROPTEST_CASES` sets the number of cases (`cartback_testkit::conformance::property_config`).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, EventKind, Source};
use cartback_testkit::conformance::gen::{bytes_of, json_of, shaped, shaped_one_of, Kind};
use cartback_testkit::conformance::property_config;
use cartback_woocommerce::WooSource;
use common::{fixture, request, settings};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

const ORDER_TOPICS: &[&str] = &["order.created", "order.updated"];
const CART_TOPICS: &[&str] = &["action.woocommerce_cart_abandoned", "cart_abandoned"];
const STATUSES: &[&str] = &[
    "pending",
    "wc-pending",
    "checkout-draft",
    "on-hold",
    "failed",
    "processing",
    "COMPLETED",
    "cancelled",
    "wc-",
];
const ORDER_FIELDS: &[(&str, Kind)] = &[
    ("/id", Kind::Id),
    ("/status", Kind::OneOf(STATUSES)),
    ("/currency", Kind::Currency),
    ("/date_created_gmt", Kind::Time),
    ("/date_modified_gmt", Kind::Time),
    ("/date_paid_gmt", Kind::Time),
    ("/total", Kind::Amount),
    ("/customer_id", Kind::Id),
    ("/order_key", Kind::Text),
    ("/number", Kind::Text),
    ("/payment_url", Kind::Text),
    ("/billing", Kind::Any),
    ("/billing/email", Kind::Email),
    ("/billing/phone", Kind::Phone),
    ("/billing/country", Kind::Country),
    ("/billing/first_name", Kind::Text),
    ("/line_items", Kind::Any),
    ("/line_items/0/quantity", Kind::Count),
    ("/line_items/0/price", Kind::Amount),
    ("/line_items/1/subtotal", Kind::Amount),
    ("/line_items/1/total", Kind::Amount),
];
/// One line of `line_items` (the order around it is the fixture's).
const LINE_FIELDS: &[(&str, Kind)] = &[
    ("/name", Kind::Text),
    ("/quantity", Kind::Count),
    ("/price", Kind::Amount),
    ("/subtotal", Kind::Amount),
    ("/total", Kind::Amount),
    ("/product_id", Kind::Id),
    ("/variation_id", Kind::Id),
    ("/sku", Kind::Text),
    ("/image", Kind::Any),
    ("/image/src", Kind::Text),
];
const CART_FIELDS: &[(&str, Kind)] = &[
    ("/cart_id", Kind::Id),
    ("/email", Kind::Email),
    ("/phone", Kind::Phone),
    ("/first_name", Kind::Text),
    ("/country", Kind::Country),
    ("/customer_id", Kind::Id),
    ("/currency", Kind::Currency),
    ("/updated_at", Kind::Time),
    ("/recovery_url", Kind::Text),
    ("/total", Kind::Amount),
    ("/items", Kind::Any),
    ("/items/0/name", Kind::Text),
    ("/items/0/quantity", Kind::Count),
    ("/items/0/price", Kind::Amount),
    ("/items/0/product_id", Kind::Id),
    ("/items/0/variation_id", Kind::Id),
    ("/items/0/url", Kind::Text),
    ("/items/0/image_url", Kind::Text),
    ("/items/1/quantity", Kind::Count),
    ("/items/1/price", Kind::Amount),
];

fn order() -> Value {
    json_of(fixture("order_pending.json"))
}

/// A delivery on `topic`, signed; handshake, verification and translation never panic.
fn translate(topic: &str, body: &Value) {
    let src = WooSource::new(settings());
    let req = request(topic, &bytes_of(body), &[]);
    let _ = src.handshake(&req);
    let v = verify(&src, &req).unwrap();
    let _ = src.translate(v);
}

fn order_with_lines() -> impl Strategy<Value = Value> {
    let order = order();
    let lines = order["line_items"].as_array().unwrap().clone();
    vec(shaped_one_of(lines, LINE_FIELDS), 0..4).prop_map(move |lines| {
        let mut o = order.clone();
        o["line_items"] = Value::Array(lines);
        o
    })
}

fn cart() -> impl Strategy<Value = Value> {
    let cart = json_of(fixture("cart_abandoned.json"));
    (shaped(cart, CART_FIELDS), any::<bool>()).prop_map(|(cart, wrapped)| {
        if wrapped {
            json!({"action": "woocommerce_cart_abandoned", "arg": cart})
        } else {
            cart
        }
    })
}

/// Found by `order_lines_never_panic`: a line without `price` takes its unit price from
/// `subtotal / quantity`, whose rounding (`minor + quantity / 2`) overflowed i64 (a panic in
/// debug builds, a wrapped negative price in release).
#[test]
fn huge_subtotal_over_quantity_is_exact() {
    let mut order = order();
    order["line_items"][1]["price"] = Value::Null;
    order["line_items"][1]["subtotal"] = json!("92233720368547758.07");
    order["line_items"][1]["quantity"] = json!(3);
    let src = WooSource::new(settings());
    let req = request("order.created", &bytes_of(&order), &[]);
    let t = src.translate(verify(&src, &req).unwrap()).unwrap();
    let EventKind::CheckoutStarted(cart) = &t.events[0].kind else {
        panic!("{t:?}");
    };
    assert_eq!(cart.items[1].unit_price.minor, i64::MAX / 3);
}

proptest! {
    #![proptest_config(property_config())]

    #[test]
    fn orders_never_panic(body in shaped(order(), ORDER_FIELDS), topic in select(ORDER_TOPICS)) {
        translate(topic, &body);
    }

    #[test]
    fn order_lines_never_panic(body in order_with_lines(), topic in select(ORDER_TOPICS)) {
        translate(topic, &body);
    }

    #[test]
    fn abandoned_carts_never_panic(body in cart(), topic in select(CART_TOPICS)) {
        translate(topic, &body);
    }
}
