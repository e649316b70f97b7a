//! cartback-moengage: the hand-off to MoEngage. cartback decides when a cart is abandoned (and
//! measures); a MoEngage Flow (or an event-triggered campaign) sends. Through MoEngage's Data
//! API, at the workspace's data centre (`https://api-0N.moengage.com`), Basic auth with the
//! Workspace ID and the Data API key:
//!
//! - a reminder: the user created or updated (`POST /v1/customer/{workspace_id}`: email,
//!   mobile, names, the hub's contact id, an email opt-out as the hub knows it), then one event
//!   (`POST /v1/event/{workspace_id}`, default `Cart Abandoned`) carrying the cart, the tracked
//!   recovery link, the discount code and the flow, step and variant;
//! - a purchase of a handed-off cart: one event (default `Cart Recovered`) with the order id
//!   and total, the Flow's exit condition.
//!
//! # Layout
//! - [`config`]: [`MoEngageSettings`], the `type = "moengage"` table (workspace id, Data API
//!   key, data centre, event names, which id is the customer id) and its pure validation.
//! - [`payload`]: MoEngage's wire types: the customer and event bodies, the error body.
//! - [`sink`]: [`MoEngageSink`], the `Sink` implementation: builds both requests from an
//!   `OutboundMessage`, sends them, and classifies the answers (401/403 credential refused,
//!   400/422 naming what MoEngage refused, 429 and 5xx retryable).
//! - `tests/`: the requests against wiremock for both purposes (the documented example
//!   included), the status classification, settings, and the sink conformance suite.

pub mod config;
pub mod payload;
pub mod sink;

pub use config::{CustomerId, MoEngageSettings};
pub use sink::MoEngageSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `moengage` connector, as the registry lists it.
pub struct MoEngage;

impl Connector for MoEngage {
    type Settings = MoEngageSettings;
    const TYPE: &'static str = "moengage";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &MoEngageSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: MoEngage gets the contact as the hub knows it.
    fn address(_: &MoEngageSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &MoEngageSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(MoEngageSink::new(settings.clone(), ctx)?)))
    }
}
