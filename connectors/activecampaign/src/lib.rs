//! cartback-activecampaign: the hand-off to ActiveCampaign. cartback decides when a cart is
//! abandoned (and measures); ActiveCampaign's "Abandons cart" automation sends. Each reminder
//! syncs the contact, finds or creates the Deep Data e-commerce customer of the configured
//! connection, and writes the cart as an abandoned order (`externalcheckoutid` = the hub's
//! cart id, `abandoned_date`, `source: 1`, the items, `orderUrl` = the tracked recovery link);
//! a purchase of a handed-off cart updates that order with the shop's order id, marking it
//! recovered.
//!
//! # Layout
//! - [`config`]: [`ActiveCampaignSettings`], the `type = "activecampaign"` table (the account's
//!   API URL, API token, connection id, contact custom fields) and its pure validation.
//! - [`payload`]: ActiveCampaign's wire types: contact sync, e-commerce customer and order,
//!   the lists read back, and the error bodies.
//! - [`sink`]: [`ActiveCampaignSink`], the `Sink` implementation: the requests of a hand-off
//!   and the classification of ActiveCampaign's answers (401/403 credential refused,
//!   400/404/422 naming the refused field, 429 and 5xx retryable).
//! - `tests/`: the requests against wiremock for both purposes (ActiveCampaign's documented
//!   example included), the status classification, settings, and the sink conformance suite.

pub mod config;
pub mod payload;
pub mod sink;

pub use config::ActiveCampaignSettings;
pub use sink::ActiveCampaignSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `activecampaign` connector, as the registry lists it.
pub struct ActiveCampaign;

impl Connector for ActiveCampaign {
    type Settings = ActiveCampaignSettings;
    const TYPE: &'static str = "activecampaign";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &ActiveCampaignSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: ActiveCampaign gets the contact as the hub knows it.
    fn address(_: &ActiveCampaignSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &ActiveCampaignSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(ActiveCampaignSink::new(
            settings.clone(),
            ctx,
        )?)))
    }
}
