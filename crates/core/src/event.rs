//! Normalized events: what every source translates its platform's payloads into.

use crate::cart::CartSnapshot;
use crate::change::CartChange;
use crate::contact::ContactInfo;
use crate::order::Order;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One normalized event. `(source_id, event_id)` is its dedupe key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub source_id: String,
    /// The platform's own event or delivery id, stable across redeliveries.
    pub event_id: String,
    /// The platform topic it came from (`checkouts/update`), for logs and metrics.
    pub topic: String,
    /// When it happened on the platform.
    pub occurred_at: DateTime<Utc>,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A cart changed (items, totals, identity).
    CartUpdated(CartSnapshot),
    /// A checkout was started or updated: a cart with contact details.
    CheckoutStarted(CartSnapshot),
    /// One product added to or removed from a cart (a platform that reports clicks, not carts).
    CartChanged(CartChange),
    /// Any other named shopping event (`event:<name>` flows start on it).
    Tracked(Tracked),
    /// A purchase: converts the matching cart.
    OrderPlaced(Order),
    /// Identity, consent or time zone changed.
    ContactUpdated(ContactInfo),
    /// A provider reported what happened to a message the hub sent.
    MessageStatus(MessageStatusUpdate),
    /// A shopper opted out of a channel (SMS STOP, unsubscribe link, spam report).
    OptOut(OptOut),
    /// Erase personal data (privacy law requests such as Shopify's `customers/redact`).
    Erasure(Erasure),
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::CartUpdated(_) => "cart_updated",
            EventKind::CheckoutStarted(_) => "checkout_started",
            EventKind::CartChanged(_) => "cart_changed",
            EventKind::Tracked(_) => "tracked",
            EventKind::OrderPlaced(_) => "order_placed",
            EventKind::ContactUpdated(_) => "contact_updated",
            EventKind::MessageStatus(_) => "message_status",
            EventKind::OptOut(_) => "opt_out",
            EventKind::Erasure(_) => "erasure",
        }
    }
}

/// A named event (Segment's `track`), for flows triggered by `event:<name>`: who did it, the cart
/// it concerns if it says, and its properties (for templates and conditions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    /// The event's name as sent (`Wishlist Product Added`); flows match it case-insensitively.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactInfo>,
    /// The cart's key within the source, when the event names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_key: Option<String>,
    /// The event's properties (an object; at most a few KB are kept).
    #[serde(default)]
    pub properties: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Delivered,
    Opened,
    Clicked,
    Bounced,
    Complained,
    Failed,
    /// The shopper unsubscribed through this message.
    Unsubscribed,
    /// An on-site pop-up was closed by the shopper.
    Dismissed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatusUpdate {
    /// The hub's message id when the provider echoes it (custom args), else `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The provider's message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    pub status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptOutChannel {
    Email,
    Sms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOut {
    pub channel: OptOutChannel,
    /// Email or E.164 phone.
    pub address: String,
    /// `true` to opt back in (SMS START).
    #[serde(default)]
    pub resubscribe: bool,
}

/// What to erase. Anonymous aggregates (counts, revenue) are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Erasure {
    /// One shopper: every contact matching any of these identifiers.
    Contact {
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        external_id: Option<String>,
        /// Orders the platform lists for this shopper.
        #[serde(default)]
        order_ids: Vec<String>,
    },
    /// Everything personal that came from this source.
    Source,
}
