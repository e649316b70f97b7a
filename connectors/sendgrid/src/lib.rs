//! cartback-sendgrid: reminders out through SendGrid's v3 Mail Send API; delivery, engagement
//! and opt-out events back in through its (signed) Event Webhook.
//!
//! # Layout
//! - [`config`]: [`SendGridSettings`], the `type = "sendgrid"` table (API key, sender, reply-to,
//!   base URL, categories, event-webhook verification key or `allow_unsigned_events`, sandbox
//!   mode), sender parsing, its pure validation and [`SendGridSettings::warnings`].
//! - [`payload`]: SendGrid's wire types: the `mail/send` request body, its error body, and one
//!   Event Webhook event. Kept apart so the shapes can be checked against SendGrid's docs.
//! - [`sink`]: [`SendGridSink`], the `Sink` implementation: builds the request body (custom args
//!   carry the hub's message id, tracking off, `List-Unsubscribe` headers passed through), sends
//!   it, and maps the answer through `cartback_kit::http` (status table, `Retry-After`, transport
//!   errors).
//! - [`verify`]: the Signed Event Webhook check (ECDSA P-256 / SHA-256 over timestamp + raw body)
//!   and the 10-minute replay window, as two separate steps, plus [`verify::sign`] for tests.
//! - [`source`]: [`SendGridEvents`], the `Source` implementation: verification with the
//!   configured key, and translation of the event array into message statuses and opt-outs.
//!
//! Without `event_webhook_public_key`, event webhooks are refused (401): an unsigned event could
//! be forged by anyone who knows the URL (a `group_resubscribe` would undo an opt-out). Only
//! `allow_unsigned_events = true` accepts them unsigned; [`SendGridSettings::warnings`] then
//! reports it, and a key together with that flag fails validation.
//!
//! Tests live in `tests/` (wiremock sink classification, the official signature vector, golden
//! translation of `tests/fixtures/`).

pub mod config;
pub mod payload;
pub mod sink;
pub mod source;
pub mod verify;

pub use config::SendGridSettings;
pub use sink::SendGridSink;
pub use source::SendGridEvents;

use cartback_core::Problem;
use cartback_core::{AddressKind, Sink, SinkContext, Source};
use cartback_kit::plugin::BuildError;
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The `sendgrid` connector, as the registry lists it.
pub struct SendGrid;

impl Connector for SendGrid {
    type Settings = SendGridSettings;
    const TYPE: &'static str = "sendgrid";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &SendGridSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn warnings(settings: &SendGridSettings) -> Vec<String> {
        settings.warnings()
    }

    fn address(_: &SendGridSettings) -> Option<AddressKind> {
        Some(AddressKind::Email)
    }

    fn sink(
        settings: &SendGridSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(SendGridSink::new(settings.clone(), ctx)?)))
    }

    /// The Event Webhook (delivery, open, click, bounce, unsubscribe).
    fn receiver(settings: &SendGridSettings) -> Option<Arc<dyn Source>> {
        Some(Arc::new(SendGridEvents::new(settings.clone())))
    }
}
