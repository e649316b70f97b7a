//! Orders: a purchase, matched to its cart to convert it and credit the flow that won it back.

use crate::cart::LineItem;
use crate::contact::ContactInfo;
use crate::money::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The platform's order id (as a string: ids exceed 2^53).
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactInfo>,
    pub total: Money,
    #[serde(default)]
    pub items: Vec<LineItem>,
    pub placed_at: DateTime<Utc>,
    /// A platform test order (kept, never counted as revenue).
    #[serde(default)]
    pub test: bool,
}
