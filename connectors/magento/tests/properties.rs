//! Property tests over hostile input for the Magento poller (it has no inbound signature, so no
//! conformance suite): what it translates from REST JSON (search pages of quotes and orders, a
//! quote's totals), its error bodies and its stored cursor never panic.
//!
//! `PROPTEST_CASES` sets the number of cases (`cartback_testkit::conformance::property_config`).
#![allow(clippy::unwrap_used)]

use cartback_core::ContactInfo;
use cartback_kit::Secret;
use cartback_magento::payload::{ErrorBody, MagentoCart, MagentoOrder, SearchResult, Totals};
use cartback_magento::{Cursor, MagentoPoller, MagentoSettings};
use cartback_testkit::conformance::gen::{
    any_json, bytes_of, edges, form_text, hostile_bytes, json_of, shaped, shaped_one_of, Kind,
};
use cartback_testkit::conformance::property_config;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};
use std::sync::OnceLock;

const CARTS: &str = include_str!("fixtures/carts_search.json");
const TOTALS: &str = include_str!("fixtures/totals_1201.json");
const ORDERS: &str = include_str!("fixtures/orders_search.json");
const CART_FIELDS: &[(&str, Kind)] = &[
    ("/id", Kind::Id),
    ("/created_at", Kind::Time),
    ("/updated_at", Kind::Time),
    ("/is_active", Kind::Any),
    ("/items", Kind::Any),
    ("/items/0/item_id", Kind::Id),
    ("/items/0/sku", Kind::Text),
    ("/items/0/qty", Kind::Count),
    ("/items/0/name", Kind::Text),
    ("/items/0/price", Kind::Amount),
    ("/items/0/product_id", Kind::Id),
    ("/items/0/extension_attributes", Kind::Any),
    ("/items/1/qty", Kind::Count),
    ("/items/1/price", Kind::Amount),
    ("/customer", Kind::Any),
    ("/customer/id", Kind::Id),
    ("/customer/email", Kind::Email),
    ("/billing_address", Kind::Any),
    ("/billing_address/email", Kind::Email),
    ("/billing_address/telephone", Kind::Phone),
    ("/billing_address/country_id", Kind::Country),
    ("/currency", Kind::Any),
    ("/currency/quote_currency_code", Kind::Currency),
    ("/customer_is_guest", Kind::Any),
];
const TOTALS_FIELDS: &[(&str, Kind)] = &[
    ("/grand_total", Kind::Amount),
    ("/subtotal", Kind::Amount),
    ("/quote_currency_code", Kind::Currency),
    ("/items", Kind::Any),
    ("/items/0/item_id", Kind::Id),
    ("/items/0/row_total", Kind::Amount),
    ("/items/1/item_id", Kind::Id),
    ("/items/1/row_total", Kind::Amount),
];
const ORDER_FIELDS: &[(&str, Kind)] = &[
    ("/entity_id", Kind::Id),
    ("/increment_id", Kind::Text),
    ("/quote_id", Kind::Id),
    ("/customer_email", Kind::Email),
    ("/customer_firstname", Kind::Text),
    ("/customer_id", Kind::Id),
    ("/customer_is_guest", Kind::Any),
    ("/billing_address", Kind::Any),
    ("/billing_address/email", Kind::Email),
    ("/billing_address/telephone", Kind::Phone),
    ("/billing_address/country_id", Kind::Country),
    ("/grand_total", Kind::Amount),
    ("/order_currency_code", Kind::Currency),
    ("/created_at", Kind::Time),
    ("/state", Kind::OneOf(&["new", "canceled", "processing"])),
    ("/status", Kind::OneOf(&["pending", "canceled", "complete"])),
    ("/items", Kind::Any),
    ("/items/0/qty_ordered", Kind::Count),
    ("/items/0/price", Kind::Amount),
    ("/items/0/row_total", Kind::Amount),
    ("/items/0/parent_item_id", Kind::Id),
    ("/items/0/product_id", Kind::Id),
    ("/items/1/parent_item_id", Kind::Id),
    ("/items/1/qty_ordered", Kind::Count),
    ("/items/1/price", Kind::Amount),
];

/// A poller with every optional translation feature on (product URLs with both placeholders,
/// a recovery URL with the quote id, a phone region). It never calls the network here.
fn poller() -> &'static MagentoPoller {
    static POLLER: OnceLock<MagentoPoller> = OnceLock::new();
    POLLER.get_or_init(|| {
        MagentoPoller::new(MagentoSettings {
            product_url_template: Some(
                "{base_url}/catalog/product/view/id/{product_id}/{sku}".into(),
            ),
            recovery_url: Some("https://shop.example/checkout/cart/?quote={quote_id}".into()),
            default_phone_region: Some("US".into()),
            ..MagentoSettings::new(
                "https://shop.example/",
                Secret::new("xk2m9q4t7v1b8n3c5z6w0p2r4y6u8i1o"),
            )
        })
    })
}

fn contact() -> ContactInfo {
    ContactInfo {
        email: Some("ann.lee@example.com".into()),
        ..ContactInfo::default()
    }
}

/// What the poller does with one page of `carts/search` or `orders` and a `/totals` answer,
/// minus the HTTP: every record that reads as a quote becomes a `CheckoutStarted`, every one
/// that reads as an order an `OrderPlaced` (or an error), never a panic.
fn translate_page(page: &[u8], totals: &[u8]) {
    let totals: Totals = serde_json::from_slice(totals).unwrap_or_default();
    let Ok(result) = serde_json::from_slice::<SearchResult>(page) else {
        return;
    };
    for item in result.items {
        if let Ok(cart) = serde_json::from_value::<MagentoCart>(item.clone()) {
            let _ = poller().quote_event("mage", &cart, contact(), &totals);
        }
        if let Ok(order) = serde_json::from_value::<MagentoOrder>(item) {
            let _ = poller().order_event("mage", &order);
        }
    }
}

fn records(fixture: &str) -> Vec<Value> {
    json_of(fixture)["items"].as_array().unwrap().clone()
}

proptest! {
    #![proptest_config(property_config())]

    #[test]
    fn translation_never_panics_on_bytes(
        page in prop_oneof![hostile_bytes(CARTS), hostile_bytes(ORDERS)],
        totals in hostile_bytes(TOTALS),
    ) {
        translate_page(&page, &totals);
        translate_page(&page, TOTALS.as_bytes());
    }

    #[test]
    fn quotes_never_panic(
        quotes in vec(shaped_one_of(records(CARTS), CART_FIELDS), 0..3),
        totals in shaped(json_of(TOTALS), TOTALS_FIELDS),
        total_count in any_json(),
    ) {
        let page = json!({"items": quotes, "total_count": total_count});
        translate_page(&bytes_of(&page), &bytes_of(&totals));
    }

    #[test]
    fn orders_never_panic(
        orders in vec(shaped_one_of(records(ORDERS), ORDER_FIELDS), 0..3),
    ) {
        let page = json!({"items": orders, "total_count": 2});
        translate_page(&bytes_of(&page), b"{}");
    }

    /// Magento is polled, so it has no inbound signature to refuse; what else it reads from
    /// outside is its error bodies and the stored cursor.
    #[test]
    fn error_bodies_and_cursors_never_panic(
        body in prop_oneof![hostile_bytes(ORDERS), any_json().prop_map(|p| bytes_of(&json!({"message": "%1 %2 %fieldName", "parameters": p})))],
        cursor in prop_oneof![
            ".{0,80}",
            (select(edges(Kind::Time)), select(edges(Kind::Time)), ".{0,12}", ".{0,12}").prop_map(|(q, o, qp, op)| {
                format!("q={};qp={qp};o={};op={op}", form_text(q), form_text(o))
            }),
        ],
    ) {
        let _ = ErrorBody::parse(&body);
        if let Some(c) = Cursor::parse(&cursor) {
            let _ = Cursor::parse(&c.render());
        }
    }
}
