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
}

impl TimerKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            TimerKind::CartCheck => "cart_check",
            TimerKind::RunStep => "run_step",
            TimerKind::Attribute => "attribute",
        }
    }

    pub fn parse(s: &str) -> Option<TimerKind> {
        match s {
            "cart_check" => Some(TimerKind::CartCheck),
            "run_step" => Some(TimerKind::RunStep),
            "attribute" => Some(TimerKind::Attribute),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Steps remain.
    Running,
    /// Every step ran.
    Completed,
    /// The shopper bought: the run stopped.
    Converted,
    /// Stopped for another reason (`exit_reason`).
    Exited,
    /// Control group: recorded, sent nothing.
    HeldOut,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Converted => "converted",
            RunStatus::Exited => "exited",
            RunStatus::HeldOut => "held_out",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "completed" => RunStatus::Completed,
            "converted" => RunStatus::Converted,
            "exited" => RunStatus::Exited,
            "held_out" => RunStatus::HeldOut,
            _ => return None,
        })
    }
}

/// One enrolment of a cart in a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub flow_id: String,
    pub cart_id: String,
    pub contact_id: Option<String>,
    pub variant: Option<String>,
    pub holdout: bool,
    pub status: RunStatus,
    /// Index of the next step to run.
    pub step: u32,
    pub test: bool,
    pub enrolled_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub exit_reason: Option<String>,
}

/// A cap checked inside the committing transaction: at most `max` within `since..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapCheck {
    pub max: u32,
    pub since: DateTime<Utc>,
}

/// A run to create when a timer commits.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run: RunRecord,
    /// Per-contact re-entry cap for this flow.
    pub reenter: Option<CapCheck>,
    /// When to run step 0 (none for held-out runs).
    pub first_step_at: Option<DateTime<Utc>>,
}

/// Closing messages (a hand-off platform told that the cart it was handed was bought) are
/// numbered `CLOSING_STEP + the step whose hand-off they close`: one per handed-off step, ever
/// (the outbox is unique per run and step). Reports, caps and attribution count only the steps
/// below it.
pub const CLOSING_STEP: u32 = 1_000_000;

/// A rendered message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message: cartback_core::OutboundMessage,
    pub run_id: String,
    pub step: u32,
    pub contact_id: Option<String>,
    pub cart_id: Option<String>,
    /// Cross-flow cap for this contact on this channel.
    pub cap: Option<CapCheck>,
    /// URLs the message's tracked links may redirect to, by index.
    pub links: Vec<String>,
}

/// Moves a run from `expect_step` on.
#[derive(Debug, Clone)]
pub struct RunUpdate {
    pub run_id: String,
    pub expect_step: u32,
    pub step: u32,
    pub status: RunStatus,
    pub exit_reason: Option<String>,
}

/// One line of a run's step log (for reports and debugging).
#[derive(Debug, Clone)]
pub struct StepLog {
    pub run_id: String,
    pub step: u32,
    pub outcome: String,
    pub detail: Option<String>,
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

/// Everything a fired timer does, committed in one transaction with its completion.
#[derive(Debug, Clone, Default)]
pub struct TimerCommit {
    pub abandon_cart: Option<String>,
    pub enrol: Vec<NewRun>,
    pub run_update: Option<RunUpdate>,
    pub steps: Vec<StepLog>,
    pub outbox: Vec<NewMessage>,
    /// Timers to create or move: (kind, subject, due).
    pub timers: Vec<(TimerKind, String, DateTime<Utc>)>,
    /// Fire this timer again at this time instead of completing it.
    pub reschedule: Option<DateTime<Utc>>,
    /// Orders credited to runs.
    pub conversions: Vec<ConversionRow>,
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// False when the lease was lost (another worker, or the subject changed): nothing was written.
    pub applied: bool,
    /// Runs actually created (a second enrolment of the same cart creates none).
    pub enrolled: Vec<String>,
    /// Runs refused by the re-entry cap.
    pub reentry_capped: Vec<String>,
    /// Messages queued; and those recorded as capped instead.
    pub queued: Vec<String>,
    pub capped: Vec<String>,
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

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent { provider_message_id: Option<String> },
    Retry { at: DateTime<Utc>, error: String },
    Failed { error: String },
    Unknown { error: String },
    Cancelled { reason: String },
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

/// An order credited to a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversionRow {
    pub source_id: String,
    pub order_id: String,
    pub run_id: String,
    pub flow_id: String,
    pub variant: Option<String>,
    pub holdout: bool,
    pub message_id: Option<String>,
    pub step: Option<u32>,
    pub channel_id: Option<String>,
    /// `clicked`, `delivered`, `sent`, or `none` (converted with no message in the window; holdout).
    pub touch: String,
    pub revenue_minor: i64,
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub enrolled_at: DateTime<Utc>,
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
