//! cartback-engine: deciding that a cart is abandoned and running the flows that win it back.
//!
//! # Layout
//! - [`engine`]: the [`Engine`]: timers → enrolment → steps → outbox → sinks, test mode, workers;
//!   [`Channel`] (a sink with its outbox settings) and who is reachable on it.
//! - [`flows`]: flows compiled from their tables (steps, variants, quiet hours, caps).
//! - [`assign`]: holdout and variant assignment (stable hashes of flow and contact).
//! - [`quiet`]: quiet hours in the shopper's time zone.
//! - [`template`]: minijinja templates, their start-up checks, money formatting.
//! - [`links`]: tracked links: every URL of a message becomes a signed hub link; targets stored by
//!   index; URLs off the shop's `link_hosts` are removed.
//! - [`poll`]: the worker that reads polled sources (platform APIs) and commits events with their cursor.
//! - [`report`]: flow reports: funnel per step, channel and variant; treated vs holdout with a z-test.
//! - [`config`]: the `[flow.*]`, `[template.*]` and `[limits]` tables and their pure validation,
//!   so `cartback check-config` can report every problem before anything starts.

pub mod assign;
pub mod config;
pub mod engine;
pub mod flows;
pub mod links;
pub mod poll;
pub mod quiet;
pub mod report;
pub mod template;

pub use engine::{AddressKind, Channel, Engine, TestError, TestReport};
