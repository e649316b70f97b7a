//! What the engine decides and the store writes: the records of a decision (a fired timer's
//! [`TimerCommit`]: runs enrolled or moved on, the step log, messages queued, conversions; a
//! delivery's [`DeliveryOutcome`]). They carry no rule: the engine (`cartback_engine`'s stages)
//! fills them, the store commits them in one transaction and says what it could apply
//! ([`CommitOutcome`]). They are defined here, beside the store that writes them, because the
//! engine depends on the store and not the other way round.

use crate::model::TimerKind;
use chrono::{DateTime, Utc};
use serde::Serialize;

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
    /// What started it, when no cart abandonment did: `event:<log seq>` or `tag:<name>`
    /// ([`crate::roles::Runs::run_trigger`]).
    pub trigger: Option<String>,
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

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent { provider_message_id: Option<String> },
    Retry { at: DateTime<Utc>, error: String },
    Failed { error: String },
    Unknown { error: String },
    Cancelled { reason: String },
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

/// A channel's send rate as the engine read it from `rate = "N/period"`, for
/// [`Outbox::take_send_tokens`](crate::Outbox::take_send_tokens): the deployment-wide bucket
/// refills at `per_second` and holds at most `burst` tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendRate {
    pub per_second: f64,
    pub burst: u32,
}

/// What [`Outbox::take_send_tokens`](crate::Outbox::take_send_tokens) gave: `granted` is either
/// every token asked for or none; `left` is what the shared bucket still holds after it (whole
/// or fractional), from which the engine tells how long to wait before asking again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendTokens {
    pub granted: u32,
    pub left: f64,
}
