//! cartback-drip: the hand-off to Drip. cartback decides when a cart is abandoned (and
//! measures); Drip's own cart-abandonment workflow sends. Each reminder upserts the person and
//! sends a Shopper Activity cart event (`cart_url` = the hub's tracked recovery link, the
//! items); a purchase of a handed-off cart sends the order event (`placed`).
//!
//! # Layout
//! - [`config`]: [`DripSettings`], the `type = "drip"` table (API token, account id, provider,
//!   the cart event's action, base URL) and its pure validation.
//! - [`payload`]: Drip's wire types: the person, the cart and order events, their items, and
//!   the error body.
//! - [`sink`]: [`DripSink`], the `Sink` implementation: the requests of a hand-off (basic auth
//!   with the token, account id in the path) and the classification of Drip's answers (401/403
//!   credential refused, 400/422 naming the refused attribute, 429 and 5xx retryable).
//! - `tests/`: the requests against wiremock for both purposes (Drip's documented example
//!   included), the status classification, settings, and the sink conformance suite.

pub mod config;
pub mod payload;
pub mod sink;

pub use config::DripSettings;
pub use sink::DripSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `drip` connector, as the registry lists it.
pub struct Drip;

impl Connector for Drip {
    type Settings = DripSettings;
    const TYPE: &'static str = "drip";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &DripSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: Drip gets the contact as the hub knows it.
    fn address(_: &DripSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &DripSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(DripSink::new(settings.clone(), ctx)?)))
    }
}
