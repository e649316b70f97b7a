//! cartback-omnisend: the hand-off to Omnisend. cartback decides when a cart is abandoned (and
//! measures); Omnisend's own checkout-abandonment automation sends. Each hand-off is one
//! customer event through the Events API (`POST /v5/events`, `X-API-KEY`):
//!
//! - a reminder: `started checkout` (or the configured custom event) with the contact (created
//!   or updated by the event itself), the cart's items and total, the hub's tracked recovery
//!   link, the discount code, and the flow, step and variant;
//! - a purchase of a handed-off cart: `placed order` (or the configured event), which cancels
//!   the automation.
//!
//! # Layout
//! - [`config`]: [`OmnisendSettings`], the `type = "omnisend"` table (API key, base URL, event
//!   names, origin) and its pure validation.
//! - [`payload`]: Omnisend's wire types: the event body, its contact and line items, and the
//!   problem+json error body.
//! - [`sink`]: [`OmnisendSink`], the `Sink` implementation: builds the event from an
//!   `OutboundMessage`, sends it, and classifies the answer (401/403 credential refused, 400/422
//!   naming the refused fields, 429 and 5xx retryable).
//! - `tests/`: the request against wiremock for both purposes (Omnisend's documented example
//!   included), the status classification, settings, and the sink conformance suite.

pub mod config;
pub mod payload;
pub mod sink;

pub use config::OmnisendSettings;
pub use sink::OmnisendSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `omnisend` connector, as the registry lists it.
pub struct Omnisend;

impl Connector for Omnisend {
    type Settings = OmnisendSettings;
    const TYPE: &'static str = "omnisend";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &OmnisendSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: Omnisend gets the contact as the hub knows it.
    fn address(_: &OmnisendSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &OmnisendSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(OmnisendSink::new(settings.clone(), ctx)?)))
    }
}
