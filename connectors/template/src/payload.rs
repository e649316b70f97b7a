//! Acme's webhook bodies, as its documentation gives them. Ids and amounts arrive as numbers or
//! strings: `cartback_kit::wire` keeps them exactly as sent.

use cartback_kit::wire::{Amount, Id};
use serde::Deserialize;

/// `checkout.updated`: the whole cart at one moment.
#[derive(Debug, Deserialize)]
pub struct Checkout {
    pub id: Id,
    /// RFC 3339; orders updates (never the arrival order).
    pub updated_at: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    pub total: Amount,
    #[serde(default)]
    pub recovery_url: Option<String>,
    #[serde(default)]
    pub items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
pub struct Item {
    #[serde(default)]
    pub product_id: Option<Id>,
    pub name: String,
    pub quantity: u32,
    pub price: Amount,
    #[serde(default)]
    pub url: Option<String>,
}

/// `order.created`: a purchase; `checkout_id` names the cart it converts.
#[derive(Debug, Deserialize)]
pub struct OrderCreated {
    pub id: Id,
    #[serde(default)]
    pub checkout_id: Option<Id>,
    pub created_at: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    pub total: Amount,
}
