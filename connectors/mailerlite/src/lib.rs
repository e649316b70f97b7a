//! cartback-mailerlite: the hand-off to MailerLite. cartback decides when a cart is abandoned
//! (and measures); a MailerLite automation that starts when a subscriber joins a group sends.
//! Through MailerLite's API (`https://connect.mailerlite.com/api`, Bearer token):
//!
//! - a reminder: the subscriber created or updated by email (`POST /api/subscribers`) with the
//!   cart in custom fields the shop created (the tracked recovery link, total, items, discount
//!   code, flow, step, variant, status `abandoned`) and added to the configured group, whose
//!   automation sends;
//! - a purchase of a handed-off cart: the same upsert with status `recovered` and the order id
//!   (the automation's exit condition), then the subscriber removed from the group
//!   (`DELETE /api/subscribers/{id}/groups/{group_id}`), so the automation stops and the next
//!   abandoned cart enters it again.
//!
//! # Layout
//! - [`config`]: [`MailerLiteSettings`], the `type = "mailerlite"` table (token, group, field
//!   keys) and its pure validation.
//! - [`payload`]: MailerLite's wire types: the subscriber upsert, its answer, the error body.
//! - [`sink`]: [`MailerLiteSink`], the `Sink` implementation: builds the upsert from an
//!   `OutboundMessage`, sends it, and classifies the answers (401/403 credential refused, 422
//!   naming the refused fields, 429 and 5xx retryable).
//! - `tests/`: the requests against wiremock for both purposes, the status classification,
//!   settings, and the sink conformance suite.

pub mod config;
pub mod payload;
pub mod sink;

pub use config::MailerLiteSettings;
pub use sink::MailerLiteSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `mailerlite` connector, as the registry lists it.
pub struct MailerLite;

impl Connector for MailerLite {
    type Settings = MailerLiteSettings;
    const TYPE: &'static str = "mailerlite";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &MailerLiteSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: MailerLite gets the contact as the hub knows it.
    fn address(_: &MailerLiteSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &MailerLiteSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(MailerLiteSink::new(settings.clone(), ctx)?)))
    }
}
