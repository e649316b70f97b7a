//! WooCommerce's wire types: the order as `GET /wp-json/wc/v3/orders/{id}` represents it (what
//! the `order.*` webhooks carry and what the poller reads), and the `cart_abandoned` payload a
//! companion plugin sends (documented in `tests/fixtures/README.md`).
//!
//! Only the fields the hub reads are declared; unknown fields are ignored. Fields the hub needs
//! are typed strictly, so a payload that does not fit is a clear error; nice-to-have fields
//! (`sku`, `image`, `payment_url`, names) are read leniently: an unexpected shape or `null` makes
//! the field absent, never the delivery fail.

use serde::{Deserialize, Deserializer};

use cartback_kit::wire::{lenient_image, lenient_string};
pub use cartback_kit::wire::{Amount, Id};

/// An id that may be absent, `null`, `0` or `""`: `None` for all of those.
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let id: Option<Id> = serde_json::from_value(value).ok();
    Ok(id.filter(|i| i.non_zero().is_some()))
}

/// The order's `billing` block (the only place a guest's email and phone live).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Billing {
    #[serde(default, deserialize_with = "lenient_string")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone: Option<String>,
    /// ISO 3166 alpha-2.
    #[serde(default, deserialize_with = "lenient_string")]
    pub country: Option<String>,
}

/// One of an order's `line_items`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderLine {
    pub name: String,
    #[serde(default, deserialize_with = "lenient_id")]
    pub product_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub variation_id: Option<Id>,
    pub quantity: u32,
    /// Unit price (a JSON number in the REST API).
    #[serde(default)]
    pub price: Option<Amount>,
    /// Line total before discounts, excluding tax.
    #[serde(default)]
    pub subtotal: Option<Amount>,
    /// Line total after discounts, excluding tax.
    pub total: Amount,
    #[serde(default, deserialize_with = "lenient_string")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "lenient_image")]
    pub image: Option<String>,
}

/// An order (`/wp-json/wc/v3/orders` representation).
#[derive(Debug, Clone, Deserialize)]
pub struct WooOrder {
    pub id: Id,
    #[serde(default, deserialize_with = "lenient_string")]
    pub number: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub order_key: Option<String>,
    pub status: String,
    pub currency: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub date_created_gmt: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub date_modified_gmt: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub date_paid_gmt: Option<String>,
    /// Grand total including tax and shipping.
    pub total: Amount,
    #[serde(default, deserialize_with = "lenient_id")]
    pub customer_id: Option<Id>,
    #[serde(default)]
    pub billing: Option<Billing>,
    #[serde(default)]
    pub line_items: Vec<OrderLine>,
    /// The store's own pay-for-order link (REST v3); used when `store_url` is not configured.
    #[serde(default, deserialize_with = "lenient_string")]
    pub payment_url: Option<String>,
}

/// One line of a `cart_abandoned` payload.
#[derive(Debug, Clone, Deserialize)]
pub struct CartLine {
    #[serde(default, deserialize_with = "lenient_id")]
    pub product_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub variation_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub sku: Option<String>,
    pub name: String,
    pub quantity: u32,
    /// Unit price.
    pub price: Amount,
    #[serde(default, deserialize_with = "lenient_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub image_url: Option<String>,
}

/// The `action.woocommerce_cart_abandoned` / `cart_abandoned` payload (our design; see
/// `tests/fixtures/README.md`).
#[derive(Debug, Clone, Deserialize)]
pub struct AbandonedCart {
    pub cart_id: Id,
    #[serde(default, deserialize_with = "lenient_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub last_name: Option<String>,
    /// ISO 3166 alpha-2, to read a national phone number.
    #[serde(default, deserialize_with = "lenient_string")]
    pub country: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub customer_id: Option<Id>,
    pub currency: String,
    /// ISO-8601; without an offset it is read as UTC.
    pub updated_at: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub recovery_url: Option<String>,
    /// Cart total; the sum of the lines when absent.
    #[serde(default)]
    pub total: Option<Amount>,
    #[serde(default)]
    pub items: Vec<CartLine>,
}
