//! Records returned by the store and the outcome of an ingest.

use cartback_core::{Cart, CartStatus, ContactInfo};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A contact as the hub keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactRecord {
    pub id: String,
    #[serde(flatten)]
    pub info: ContactInfo,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A cart with its contact, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CartRecord {
    #[serde(flatten)]
    pub cart: Cart,
    pub contact: Option<ContactRecord>,
}

/// Which carts to list.
#[derive(Debug, Clone, Default)]
pub struct CartFilter {
    /// Case-insensitive match on the contact's email.
    pub email: Option<String>,
    pub status: Option<CartStatus>,
    pub source_id: Option<String>,
    /// At most this many, newest update first (capped at 500).
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// A delivery id was seen before: nothing was written.
    Duplicate,
    /// Committed; one effect per event.
    Accepted { effects: Vec<Effect> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub event_id: String,
    pub kind: EffectKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectKind {
    /// This event id was stored before (redelivered inside another request).
    DuplicateEvent,
    /// A cart was created or updated; `stale` when the update was older than what is stored
    /// and only filled in missing fields.
    CartUpserted { cart_id: String, stale: bool },
    /// An order was recorded; `cart_id` is the cart it converted, if one matched.
    OrderRecorded { cart_id: Option<String>, new: bool },
    /// A contact was created or updated (`None` when the event did not identify anyone).
    ContactUpserted { contact_id: Option<String> },
    /// A consent change was applied to this many contacts.
    ConsentChanged { contacts: u64 },
    /// Recorded for later processing (message statuses).
    Recorded,
    /// Personal data erased: this many contacts removed.
    Erased { contacts: u64 },
}

impl EffectKind {
    pub fn label(&self) -> &'static str {
        match self {
            EffectKind::DuplicateEvent => "duplicate",
            EffectKind::CartUpserted { stale: true, .. } => "stale",
            EffectKind::CartUpserted { .. } => "cart",
            EffectKind::OrderRecorded { .. } => "order",
            EffectKind::ContactUpserted { .. } => "contact",
            EffectKind::ConsentChanged { .. } => "consent",
            EffectKind::Recorded => "recorded",
            EffectKind::Erased { .. } => "erased",
        }
    }
}
