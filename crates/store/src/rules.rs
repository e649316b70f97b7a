//! The seam through which the engine's rules reach ingest.
//!
//! Ingest applies two decisions that are the engine's, not the store's: where a cart's
//! abandonment check goes after an update (the debounce), and which cart an order converts. The
//! engine writes them once (`cartback_engine::rules`) and hands them to the store when it opens
//! ([`crate::SqlStore::with_rules`]); the store gathers the facts, asks, and writes the answer in
//! the same transaction. No rule travels with a call or a journal record.
//!
//! A store opened without the engine's rules ([`NoRules`]) schedules no abandonment check and
//! converts only the cart an order names by its checkout or cart token.

use cartback_core::{CartSnapshot, CartStatus, Order};
use chrono::{DateTime, Utc};

/// What to do with a cart's abandonment check after a fresh update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckPlan {
    /// (Re)schedule it at this instant.
    Due(DateTime<Utc>),
    /// The cart cannot be abandoned: drop any pending check.
    Cancel,
    /// Leave it as it is (no flow looks for abandoned carts).
    Untouched,
}

/// The carts an order could convert, as the store found them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderCandidates {
    /// The cart whose checkout token the order names.
    pub by_checkout: Option<String>,
    /// The cart whose cart token (or key) the order names.
    pub by_cart_token: Option<String>,
    /// The ordering contact's open or abandoned carts, most recently updated first (at most 20),
    /// with when each was last updated.
    pub contact_carts: Vec<(String, DateTime<Utc>)>,
}

/// The engine's ingest rules, as the store asks them.
pub trait IngestRules: Send + Sync + std::fmt::Debug + 'static {
    /// After a fresh (not stale) update leaves a cart with `status`: where its check goes.
    fn cart_check(&self, status: CartStatus, snapshot: &CartSnapshot) -> CheckPlan;

    /// Which of `found` the order converts, if any.
    fn order_cart(&self, order: &Order, found: &OrderCandidates) -> Option<String>;

    /// Whether a flow starts on the tracked event `name` (`event:<name>`): then its ingest
    /// schedules a `trigger` timer for the engine.
    fn triggers_on(&self, name: &str) -> bool {
        let _ = name;
        false
    }
}

/// No rules: no abandonment check is scheduled, and an order converts only the cart it names.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRules;

impl IngestRules for NoRules {
    fn cart_check(&self, _: CartStatus, _: &CartSnapshot) -> CheckPlan {
        CheckPlan::Untouched
    }

    fn order_cart(&self, _: &Order, found: &OrderCandidates) -> Option<String> {
        found
            .by_checkout
            .clone()
            .or_else(|| found.by_cart_token.clone())
    }
}
