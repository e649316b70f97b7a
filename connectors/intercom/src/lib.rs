//! cartback-intercom: the hand-off to Intercom. cartback decides when a cart is abandoned (and
//! measures); an Intercom Series (or outbound message) triggered by the event sends. Each
//! hand-off creates or updates the user (or lead) and submits a data event with the cart in
//! its metadata, within Intercom's limits (20 keys, strings of 255 characters): the items are
//! shortened to fit, never refused.
//!
//! # Layout
//! - [`config`]: [`IntercomSettings`], the `type = "intercom"` table (access token, region or
//!   base URL, API version, role, event names) and its pure validation.
//! - [`payload`]: Intercom's wire types: the contact, the event, the metadata builder that
//!   keeps within the limits, and the `error.list` body.
//! - [`sink`]: [`IntercomSink`], the `Sink` implementation: contact create (409 → update),
//!   event, and the classification of Intercom's answers (401/403 credential refused,
//!   400/404/422 naming what was refused, 429 after `Retry-After` / `X-RateLimit-Reset`).
//! - `tests/`: the requests against wiremock for both purposes (Intercom's documented example
//!   included), the metadata limits, the status classification, settings, and the sink
//!   conformance suite.

pub mod config;
pub mod payload;
pub mod sink;

pub use config::IntercomSettings;
pub use sink::IntercomSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `intercom` connector, as the registry lists it.
pub struct Intercom;

impl Connector for Intercom {
    type Settings = IntercomSettings;
    const TYPE: &'static str = "intercom";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &IntercomSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: Intercom gets the contact as the hub knows it.
    fn address(_: &IntercomSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &IntercomSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(IntercomSink::new(settings.clone(), ctx)?)))
    }
}
