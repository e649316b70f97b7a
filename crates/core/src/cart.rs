//! Carts: what a source reports ([`CartSnapshot`]) and what the hub keeps ([`Cart`]).

use crate::contact::ContactInfo;
use crate::money::{Currency, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of a cart or order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_title: Option<String>,
    pub quantity: u32,
    /// Price of one unit.
    pub unit_price: Money,
    /// Price of the line (unit price times quantity, after line discounts when the platform says so).
    pub line_price: Money,
    /// Product page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// A cart (or checkout) as a source reports it at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartSnapshot {
    /// Stable key of this cart within its source (a cart token, else a checkout token).
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_token: Option<String>,
    /// The platform's numeric or string id of the cart/checkout resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactInfo>,
    pub items: Vec<LineItem>,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtotal: Option<Money>,
    pub total: Money,
    /// Where the shopper resumes the cart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_url: Option<String>,
    /// The platform's own last-update time: the order of updates, never the arrival order.
    pub updated_at: DateTime<Utc>,
    /// Set when the platform reports the checkout completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// Where a cart stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    /// Being shopped, or not yet judged abandoned.
    Open,
    /// Judged abandoned; flows may be running.
    Abandoned,
    /// An order matched it.
    Converted,
}

impl CartStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CartStatus::Open => "open",
            CartStatus::Abandoned => "abandoned",
            CartStatus::Converted => "converted",
        }
    }

    pub fn parse(s: &str) -> Option<CartStatus> {
        match s {
            "open" => Some(CartStatus::Open),
            "abandoned" => Some(CartStatus::Abandoned),
            "converted" => Some(CartStatus::Converted),
            _ => None,
        }
    }
}

/// A cart as the hub keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// The hub's id.
    pub id: String,
    pub source_id: String,
    pub key: String,
    #[serde(default)]
    pub cart_token: Option<String>,
    #[serde(default)]
    pub checkout_token: Option<String>,
    #[serde(default)]
    pub platform_id: Option<String>,
    pub status: CartStatus,
    #[serde(default)]
    pub contact_id: Option<String>,
    pub items: Vec<LineItem>,
    pub currency: Currency,
    #[serde(default)]
    pub subtotal: Option<Money>,
    pub total: Money,
    #[serde(default)]
    pub recovery_url: Option<String>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub converted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub order_id: Option<String>,
    pub created_at: DateTime<Utc>,
}
