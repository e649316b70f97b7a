//! The JSON body each receiver gets. Field names are part of the public contract: receivers map
//! them in Zapier or Pabbly, so they change only with a new `type`.

use cartback_core::{Cart, ContactInfo, OutboundMessage};
use serde::Serialize;
use std::collections::BTreeMap;

/// `type` of a real hand-off.
pub const TYPE_ABANDONED: &str = "cart.abandoned";
/// `type` of a test-mode hand-off.
pub const TYPE_TEST: &str = "cart.test";

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
            kind: if m.test { TYPE_TEST } else { TYPE_ABANDONED },
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
        }
    }
}
