//! The `Sink` trait: how a rendered reminder (or a hand-off) reaches a provider.
//!
//! A sink says *whether* a failure is retryable; the outbox alone decides *when* to retry.

use crate::cart::Cart;
use crate::contact::ContactInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// What address a channel sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Email,
    Phone,
    /// The shopper on the shop's own site (the on-site pop-up): any identified contact.
    Web,
    /// No address of its own: a hand-off to a platform (or a signed webhook) that receives the
    /// contact as the hub knows it; any identified contact.
    HandOff,
}

impl AddressKind {
    /// Reaches any identified contact (email or phone), not one kind of address.
    pub fn any_identity(&self) -> bool {
        matches!(self, AddressKind::Web | AddressKind::HandOff)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            AddressKind::Email => "email",
            AddressKind::Phone => "phone",
            AddressKind::Web => "web",
            AddressKind::HandOff => "hand-off",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Recipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One message to deliver. Hand-off sinks (marketing platforms) read `cart` and `contact`;
/// message sinks (email, SMS) read the rendered `subject`, `html` and `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// The hub's message id (idempotency key towards providers that accept one).
    pub id: String,
    pub channel_id: String,
    pub to: Recipient,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Extra headers (`List-Unsubscribe`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Flow, step, run ids: echoed back by providers that support custom args.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart: Option<Cart>,
    /// A test-mode message (reports leave it out).
    #[serde(default)]
    pub test: bool,
    /// The discount code the step allotted, if any (hand-offs pass it on to the platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
    /// Why it goes out: a reminder, or (hand-offs only) the news that the cart was bought.
    #[serde(default)]
    pub purpose: Purpose,
}

/// Why a message goes out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// A step of a flow: the reminder (or the hand-off of the abandoned cart).
    #[default]
    Reminder,
    /// A cart handed off earlier was bought: the platform is told once, so its own flow stops.
    /// Only hand-off channels get one; `cart` and `contact` are as they were handed off.
    Converted {
        order_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<crate::Money>,
        placed_at: chrono::DateTime<chrono::Utc>,
    },
}

/// What a provider said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (connect error, 408, 429, 5xx but 501), after `retry_after` when the provider said.
    #[error("retryable: {reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Will never succeed (bad address, rejected payload).
    #[error("permanent: {reason}")]
    Permanent { reason: String },
    /// The request may have reached the provider (timeout after sending): not re-sent by default.
    #[error("unknown outcome: {reason}")]
    Unknown { reason: String },
}

/// What a sink is told about where it runs, when it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkContext {
    /// The channel's configured id (its provider callbacks arrive at `/webhooks/{channel_id}`).
    pub channel_id: String,
    /// The hub's public base URL, without a trailing slash.
    pub public_url: String,
    /// How long one delivery may take before it is abandoned as unknown.
    pub timeout: Duration,
}

impl SinkContext {
    /// `{public_url}/webhooks/{channel_id}`: where the provider's status callbacks go.
    pub fn callback_url(&self) -> String {
        format!("{}/webhooks/{}", self.public_url, self.channel_id)
    }
}

#[async_trait::async_trait]
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// The config `type` (`"sendgrid"`).
    fn kind(&self) -> &'static str;

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError>;

    /// How many due messages one [`Sink::deliver_many`] call takes: 1 (the default) for a sink
    /// that sends one request per message; more for a platform with a batch endpoint (HubSpot's
    /// contact upsert takes 100). The outbox then hands it that many at once and counts one
    /// request against the channel's `rate` per call.
    fn batch_limit(&self) -> usize {
        1
    }

    /// Delivers several messages at once (at most [`Sink::batch_limit`]): one answer per
    /// message, in the order given. The default sends each through [`Sink::deliver`]. A failure of
    /// the whole request is every message's answer.
    async fn deliver_many(
        &self,
        messages: &[OutboundMessage],
    ) -> Vec<Result<Receipt, DeliveryError>> {
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            out.push(self.deliver(m).await);
        }
        out
    }
}
