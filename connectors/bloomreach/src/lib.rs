//! cartback-bloomreach: the hand-off to Bloomreach Engagement (formerly Exponea). cartback
//! decides when a cart is abandoned (and measures); a Bloomreach scenario that starts on an
//! event sends. Through the Tracking API of the project (`{base_url}/track/v2/projects/
//! {project_token}/…`, Basic auth with a private API key id and secret):
//!
//! - a reminder: the customer's properties updated (`POST …/customers`: email, phone, names,
//!   consent as the hub knows it), then one event (`POST …/customers/events`, default
//!   `cart_update` with `action: "update"`) carrying the cart in Bloomreach's cart_update
//!   properties, the tracked recovery link, the discount code and the flow, step and variant;
//! - a purchase of a handed-off cart: one `purchase` event (or the configured one), which the
//!   scenario exits on.
//!
//! # Layout
//! - [`config`]: [`BloomreachSettings`], the `type = "bloomreach"` table (instance URL, project
//!   token, key id and secret, event names, which id is the customer's `registered` id) and its
//!   pure validation.
//! - [`payload`]: Bloomreach's wire types: the customer and event bodies, the answer.
//! - [`sink`]: [`BloomreachSink`], the `Sink` implementation: builds both requests, sends them,
//!   and classifies the answers (401/403 credential refused, 400/422 and `"success": false`
//!   naming what Bloomreach refused, 429 and 5xx retryable).
//! - `tests/`: the requests against wiremock for both purposes, the status classification,
//!   settings, and the sink conformance suite.

pub mod config;
pub mod payload;
pub mod sink;

pub use config::{BloomreachSettings, CustomerId};
pub use sink::BloomreachSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `bloomreach` connector, as the registry lists it.
pub struct Bloomreach;

impl Connector for Bloomreach {
    type Settings = BloomreachSettings;
    const TYPE: &'static str = "bloomreach";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &BloomreachSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: Bloomreach gets the contact as the hub knows it.
    fn address(_: &BloomreachSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &BloomreachSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(BloomreachSink::new(settings.clone(), ctx)?)))
    }
}
