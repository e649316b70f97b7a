//! cartback-testkit (dev-only): what tests need to drive a real hub, and the conformance suite
//! every connector runs.
//!
//! # Layout
//! - [`hub`] (feature `hub`, on by default): [`spawn_hub`] boots the real app in-process on
//!   `127.0.0.1:0` with a temporary SQLite file; [`Hub::restart`] stops it and starts it again on
//!   the same database.
//! - [`conformance`]: the suite every source and every sink passes, one macro line per connector
//!   ([`source_conformance!`], [`sink_conformance!`]), and the generators its property tests use.
//! - [`sign`]: platform signers (Shopify) so tests send what platforms send.
//! - [`sink`]: [`RecordingSink`], a `Sink` that records what it was asked to deliver.
//! - [`fixtures`]: loading files from a crate's `tests/fixtures/`.

pub mod conformance;
pub mod fixtures;
#[cfg(feature = "hub")]
pub mod hub;
pub mod sign;
pub mod sink;

#[cfg(feature = "hub")]
pub use hub::{spawn_hub, Hub};
pub use sink::RecordingSink;
