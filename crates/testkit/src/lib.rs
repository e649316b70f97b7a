//! cartback-testkit (dev-only): what tests need to drive a real hub.
//!
//! # Layout
//! - [`hub`]: [`spawn_hub`] boots the real app in-process on `127.0.0.1:0` with a temporary SQLite
//!   file; [`Hub::restart`] stops it and starts it again on the same database.
//! - [`sign`]: platform signers (Shopify) so tests send what platforms send.
//! - [`sink`]: [`RecordingSink`], a `Sink` that records what it was asked to deliver.
//! - [`fixtures`]: loading files from a crate's `tests/fixtures/`.

pub mod fixtures;
pub mod hub;
pub mod sign;
pub mod sink;

pub use hub::{spawn_hub, Hub};
pub use sink::RecordingSink;
