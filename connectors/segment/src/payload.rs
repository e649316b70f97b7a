//! Segment's wire types: the common message fields (`spec/common.md`), identify traits and the
//! Ecommerce v2 properties (`spec/ecommerce/v2.md`).
//!
//! In: what a message may carry, read leniently (below). Out: what the hand-off channel sends to
//! the Tracking API's `POST /v1/batch` ([`Batch`], [`OutMessage`], [`OutProduct`]), every
//! message marked with the hub's own `context.library` ([`HUB_LIBRARY`]) so the source can
//! tell the hub's messages from the shop's when they come back.
//!
//! Only the fields the hub reads are declared; unknown fields are ignored. Every field is read
//! leniently (a shape we do not expect makes it absent), because analytics libraries send
//! whatever the page code passes. Strictness lives in the translation: a message the hub uses
//! must have a `messageId`, and amounts must be exact decimals.

use cartback_kit::wire::lenient_text;
use cartback_kit::wire::lenient_value as lenient;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Map;
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
    /// Who sent the message (`{"name": "analytics.js", ...}`); the hub's own is [`HUB_LIBRARY`].
    #[serde(default, deserialize_with = "lenient")]
    pub library: Option<LibraryIn>,
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

/// `context.library` as received.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct LibraryIn {
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: Option<String>,
}

/// `context.library.name` of every message the hub sends.
pub const HUB_LIBRARY: &str = "cartback";

/// Segment takes at most this many bytes per message (and 500 KB per batch).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// `messageId`s must be shorter than this.
pub const MAX_MESSAGE_ID_CHARS: usize = 100;

/// The body of `POST /v1/batch`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batch {
    pub batch: Vec<OutMessage>,
}

/// One `identify` or `track` message of a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutMessage {
    /// `identify` or `track`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Segment's dedupe key (under 100 characters, at least a day's look-back).
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(rename = "userId", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(rename = "anonymousId", skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    /// `track` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `identify` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traits: Option<Map<String, Value>>,
    /// `track` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    /// ISO-8601; absent for what happens now (Segment dates it on receipt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    pub context: OutContext,
}

/// The `context` of a message the hub sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutContext {
    pub library: Library,
    /// The shopper's email and phone on a `track`, for destinations that match on them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traits: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// `context.library`: [`HUB_LIBRARY`] and the hub's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Library {
    pub name: &'static str,
    pub version: &'static str,
}

impl Library {
    pub fn hub() -> Library {
        Library {
            name: HUB_LIBRARY,
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// One cart line as an Ecommerce v2 product (decimal prices).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutProduct {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The price of one unit.
    pub price: f64,
    pub quantity: u32,
    /// The product page, through the hub's tracked link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// 1-based place in the cart.
    pub position: usize,
}
