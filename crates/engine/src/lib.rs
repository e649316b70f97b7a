//! cartback-engine: deciding that a cart is abandoned and running the flows that win it back.
//!
//! # Layout
//! - [`poll`]: the worker that reads polled sources (platform APIs) and commits events with their cursor.
//! - [`report`]: flow reports: funnel per step, channel and variant; treated vs holdout with a z-test.
//! - [`links`]: tracked links: every URL of a message becomes a signed hub link; targets stored by index.
//! - [`config`]: the `[flow.*]`, `[template.*]` and `[limits]` tables and their pure validation,
//!   so `cartback check-config` can report every problem before anything starts.
//!
//! Abandonment timers, the router, flow runs, templates and attribution build on the store's
//! durable tables and arrive with the engine issue.

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
