//! Records returned by the store and the outcome of an ingest. What the engine decides and the
//! store writes is in `decisions`.

use cartback_core::{Cart, CartStatus, ContactInfo};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::decisions::*;

/// A contact as the hub keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactRecord {
    pub id: String,
    #[serde(flatten)]
    pub info: ContactInfo,
    /// A verified source (a signed webhook, a server key) reported this email: it may be sent to.
    /// `false` while it is only claimed by a public key (`cartback_core::Trust::Claimed`).
    pub email_verified: bool,
    /// The same for the phone.
    pub phone_verified: bool,
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
    pub contact_id: Option<String>,
    /// At most this many, newest update first (capped at 500).
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// A delivery id was seen before: nothing was written.
    Duplicate,
    /// Committed; one effect per event.
    Accepted { effects: Vec<Effect> },
    /// Durable in the ingest journal and applied within moments (SQLite under load; see
    /// `journal`): whether it was a duplicate, and what it changed, is not known yet.
    Queued,
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

/// One event of the log as it arrived (`ReadModel::replay_events`): enough to apply it again.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayEvent {
    /// Its number in the log.
    pub seq: i64,
    pub event: cartback_core::Event,
    pub received_at: DateTime<Utc>,
    pub trust: cartback_core::Trust,
}

/// One event of the log as it was applied (`ReadModel::logged_event`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub kind: cartback_core::EventKind,
    pub cart_id: Option<String>,
    pub contact_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

// ---- engine records ---------------------------------------------------------------------------

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Is this cart abandoned yet (per flow threshold)? Pushed back by every cart update.
    CartCheck,
    /// Run the next step of a flow run.
    RunStep,
    /// Credit a new order to the flow runs (and messages) that won it.
    Attribute,
    /// Start the flows a tracked event or a contact's new tag triggers (`event:<name>`,
    /// `tag:<name>`); the subject is the event's log number, or `tag:<contact id>:<tag>`.
    Trigger,
}

impl TimerKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            TimerKind::CartCheck => "cart_check",
            TimerKind::RunStep => "run_step",
            TimerKind::Attribute => "attribute",
            TimerKind::Trigger => "trigger",
        }
    }

    pub fn parse(s: &str) -> Option<TimerKind> {
        match s {
            "cart_check" => Some(TimerKind::CartCheck),
            "run_step" => Some(TimerKind::RunStep),
            "attribute" => Some(TimerKind::Attribute),
            "trigger" => Some(TimerKind::Trigger),
            _ => None,
        }
    }
}

/// A claimed timer. Its `lease_until` proves the claim when committing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub id: i64,
    pub kind: TimerKind,
    pub subject: String,
    pub due_at: DateTime<Utc>,
    pub lease_until: i64,
    pub attempts: u32,
}

/// One entry of a run's step log, as the runs API shows it: what became of step `step` (0 for the
/// first): `queued`, `waited`, `deferred` (quiet hours), `skipped` (a condition), `no_consent`,
/// `unverified_address`, `template_error`, with its detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    pub step: u32,
    pub outcome: String,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// How often each step ended each way, for a flow's report (`outcome` as in [`StepRecord`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeGroup {
    pub step: u32,
    pub outcome: String,
    pub runs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Queued,
    /// Claimed by a worker; its request has not gone out yet.
    Claimed,
    /// The request is on its way to the provider.
    Sending,
    Sent,
    Failed,
    Unknown,
    /// Over a cross-flow cap: recorded, never sent.
    Capped,
    /// The shopper bought (or opted out) before it went out.
    Cancelled,
}

impl OutboxStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Claimed => "claimed",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
            OutboxStatus::Unknown => "unknown",
            OutboxStatus::Capped => "capped",
            OutboxStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxStatus> {
        Some(match s {
            "queued" => OutboxStatus::Queued,
            "claimed" => OutboxStatus::Claimed,
            "sending" => OutboxStatus::Sending,
            "sent" => OutboxStatus::Sent,
            "failed" => OutboxStatus::Failed,
            "unknown" => OutboxStatus::Unknown,
            "capped" => OutboxStatus::Capped,
            "cancelled" => OutboxStatus::Cancelled,
            _ => return None,
        })
    }
}

/// A queued message, claimed for delivery or listed.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: String,
    pub run_id: String,
    pub step: u32,
    pub channel_id: String,
    pub contact_id: Option<String>,
    pub cart_id: Option<String>,
    pub status: OutboxStatus,
    pub message: cartback_core::OutboundMessage,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    #[serde(skip)]
    pub lease_until: Option<i64>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub test: bool,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What the engine knows of a run's messages (for `delivered`/`opened`/`clicked`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Engagement {
    pub delivered: bool,
    pub opened: bool,
    pub clicked: bool,
}

/// An order as attribution needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub source_id: String,
    pub order_id: String,
    pub cart_id: Option<String>,
    pub contact_id: Option<String>,
    pub total_minor: i64,
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub test: bool,
}

/// What happened to one message of a run, for last-touch attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTouch {
    pub message_id: String,
    pub step: u32,
    pub channel_id: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub clicked_at: Option<DateTime<Utc>>,
}

/// Counts of runs by group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunGroup {
    pub variant: Option<String>,
    pub holdout: bool,
    pub runs: u64,
}

/// Message counts by step, channel and variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageGroup {
    pub step: u32,
    pub channel_id: String,
    pub variant: Option<String>,
    pub sent: u64,
    pub delivered: u64,
    pub opened: u64,
    pub clicked: u64,
    pub unsubscribed: u64,
}

/// Conversions by group, credited step and channel, and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionGroup {
    pub holdout: bool,
    pub variant: Option<String>,
    pub step: Option<u32>,
    pub channel_id: Option<String>,
    pub currency: String,
    pub runs: u64,
    pub orders: u64,
    pub revenue_minor: i64,
}

/// The raw material of a flow report.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    pub runs: Vec<RunGroup>,
    pub messages: Vec<MessageGroup>,
    pub conversions: Vec<ConversionGroup>,
    /// Distinct converted runs per (holdout, variant), whatever the currency.
    pub converted_runs: Vec<RunGroup>,
    /// What became of each step (sent, skipped and why), over treated runs.
    pub outcomes: Vec<OutcomeGroup>,
}

#[cfg(test)]
mod closing_step_tests {
    /// The SQL that leaves closing messages out writes the number out: it must be this one.
    #[test]
    fn the_sql_names_the_closing_step() {
        let want = format!("step < {}", super::CLOSING_STEP);
        for (file, sql, n) in [
            ("reports.rs", include_str!("reports.rs"), 1),
            ("runs.rs", include_str!("runs.rs"), 1),
            ("timers.rs", include_str!("timers.rs"), 1),
        ] {
            assert_eq!(sql.matches(&want).count(), n, "{file}");
        }
    }
}
