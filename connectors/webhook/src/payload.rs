//! The JSON body each receiver gets. Field names are part of the public contract: receivers map
//! them in Zapier or Pabbly, so they change only with a new `type`. A hand-off is `cart.abandoned`
//! (`cart.test` in test mode); the closing message after a purchase is `cart.recovered`, the same
//! body plus `order`.

use cartback_core::{Cart, ContactInfo, Money, OutboundMessage, Purpose};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// `type` of a real hand-off.
pub const TYPE_ABANDONED: &str = "cart.abandoned";
/// `type` of a test-mode hand-off.
pub const TYPE_TEST: &str = "cart.test";
/// `type` of the closing message: a cart handed off earlier was bought.
pub const TYPE_RECOVERED: &str = "cart.recovered";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookPayload<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The hub's message id, also sent as `webhook-id`: stable across retries.
    pub id: &'a str,
    pub channel: &'a str,
    pub metadata: &'a BTreeMap<String, String>,
    pub contact: Option<&'a ContactInfo>,
    pub cart: Option<&'a Cart>,
    pub message: MessageContent<'a>,
    pub links: Links<'a>,
    /// The order that bought the cart: only in a `cart.recovered` message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderInfo<'a>>,
    /// The discount code the step allotted (absent when the step offers none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<&'a str>,
}

/// The purchase that closed a hand-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderInfo<'a> {
    pub id: &'a str,
    /// The order's total (the cart's when the platform gave none; `null` without either).
    pub total: Option<Money>,
    pub placed_at: DateTime<Utc>,
}

/// The rendered message, when the channel has a template; absent fields are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageContent<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Links<'a> {
    /// The cart's recovery URL (`null` when the platform gave none).
    pub recovery: Option<&'a str>,
}

impl<'a> WebhookPayload<'a> {
    pub fn from_message(m: &'a OutboundMessage) -> Self {
        WebhookPayload {
            kind: match (&m.purpose, m.test) {
                (Purpose::Converted { .. }, _) => TYPE_RECOVERED,
                (Purpose::Reminder, true) => TYPE_TEST,
                (Purpose::Reminder, false) => TYPE_ABANDONED,
            },
            id: &m.id,
            channel: &m.channel_id,
            metadata: &m.metadata,
            contact: m.contact.as_ref(),
            cart: m.cart.as_ref(),
            message: MessageContent {
                subject: m.subject.as_deref(),
                text: m.text.as_deref(),
                html: m.html.as_deref(),
            },
            links: Links {
                recovery: m.cart.as_ref().and_then(|c| c.recovery_url.as_deref()),
            },
            discount_code: m.discount_code.as_deref(),
            order: match &m.purpose {
                Purpose::Reminder => None,
                Purpose::Converted {
                    order_id,
                    total,
                    placed_at,
                } => Some(OrderInfo {
                    id: order_id,
                    total: total.or(m.cart.as_ref().map(|c| c.total)),
                    placed_at: *placed_at,
                }),
            },
        }
    }
}
