//! Segment's wire types: the common message fields (`spec/common.md`), identify traits and the
//! Ecommerce v2 properties (`spec/ecommerce/v2.md`).
//!
//! Only the fields the hub reads are declared; unknown fields are ignored. Every field is read
//! leniently (a shape we do not expect makes it absent), because analytics libraries send
//! whatever the page code passes. Strictness lives in the translation: a message the hub uses
//! must have a `messageId`, and amounts must be exact decimals.

use cartback_kit::wire::lenient_text;
use cartback_kit::wire::lenient_value as lenient;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A money amount as sent: a JSON number (read exactly with `Money::from_json_number`) or a
/// decimal string (`Money::parse_decimal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amount {
    Number(serde_json::Number),
    Text(String),
}

fn lenient_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Amount>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => Some(Amount::Number(n)),
        Value::String(s) if !s.trim().is_empty() => Some(Amount::Text(s.trim().to_string())),
        _ => None,
    })
}

/// A quantity as sent: kept raw and checked in translation (`2`, `"2"`; not `1.5` or `-1`).
fn lenient_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        v => Some(v),
    })
}

/// `traits` (identify) and `context.traits` (every call).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Traits {
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub phone: Option<String>,
    #[serde(
        default,
        rename = "firstName",
        alias = "first_name",
        deserialize_with = "lenient_text"
    )]
    pub first_name: Option<String>,
    #[serde(
        default,
        rename = "lastName",
        alias = "last_name",
        deserialize_with = "lenient_text"
    )]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Context {
    #[serde(default, deserialize_with = "lenient")]
    pub traits: Option<Traits>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub locale: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub timezone: Option<String>,
}

/// One entry of `properties.products[]` (or the product fields of `Product Added`).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Product {
    #[serde(default, alias = "id", deserialize_with = "lenient_text")]
    pub product_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub variant: Option<String>,
    #[serde(default, deserialize_with = "lenient_amount")]
    pub price: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_value")]
    pub quantity: Option<Value>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub image_url: Option<String>,
}

/// Ecommerce v2 `properties` (the fields of Cart Viewed, Checkout Started, Order Completed).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Properties {
    #[serde(default, deserialize_with = "lenient_text")]
    pub cart_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub order_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub checkout_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "lenient_amount")]
    pub total: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_amount")]
    pub subtotal: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_amount")]
    pub value: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_amount")]
    pub revenue: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    /// The whole cart. `None` when absent or not an array (a single product event).
    #[serde(default, deserialize_with = "lenient")]
    pub products: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub checkout_url: Option<String>,
}

/// One Segment message (`track`, `identify`, `page`, ...), alone or inside a batch.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Message {
    #[serde(default, rename = "type", deserialize_with = "lenient_text")]
    pub kind: Option<String>,
    #[serde(default, rename = "messageId", deserialize_with = "lenient_text")]
    pub message_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub timestamp: Option<String>,
    #[serde(default, rename = "receivedAt", deserialize_with = "lenient_text")]
    pub received_at: Option<String>,
    #[serde(default, rename = "sentAt", deserialize_with = "lenient_text")]
    pub sent_at: Option<String>,
    #[serde(default, rename = "userId", deserialize_with = "lenient_text")]
    pub user_id: Option<String>,
    #[serde(default, rename = "anonymousId", deserialize_with = "lenient_text")]
    pub anonymous_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub event: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub properties: Option<Properties>,
    #[serde(default, deserialize_with = "lenient")]
    pub traits: Option<Traits>,
    #[serde(default, deserialize_with = "lenient")]
    pub context: Option<Context>,
}
