//! cartback-webhook: the signed webhook hand-off. Each message becomes one JSON `POST` to a
//! configured URL (Zapier, Pabbly Connect, n8n, an in-house system), signed the
//! [Standard Webhooks](https://www.standardwebhooks.com/) way so any of its libraries can verify it.
//!
//! # Layout
//! - [`config`]: [`WebhookSettings`], the `[channel.<id>]` table with `type = "webhook"` (target URL,
//!   signing secret, extra static headers), and its pure validation.
//! - [`signature`]: [`sign`], the Standard Webhooks `v1` signature (base64 HMAC-SHA256 over
//!   `{id}.{timestamp}.{body}`, the key taken from a `whsec_` secret), public so receivers and
//!   tests can produce the same value.
//! - [`payload`]: the JSON body's wire types (`cart.abandoned` / `cart.test`, contact, cart,
//!   rendered message, links) built from an [`cartback_core::OutboundMessage`].
//! - [`sink`]: [`WebhookSink`], the `Sink` implementation: headers, the request, and the
//!   classification of the receiver's answer through the shared kit table (410 Gone permanent).
//!
//! Tests live in `tests/`: the published signature vector, settings validation, and the sink
//! against wiremock receivers.

pub mod config;
pub mod payload;
pub mod signature;
pub mod sink;

pub use config::WebhookSettings;
pub use signature::sign;
pub use sink::WebhookSink;

use cartback_core::Problem;
use cartback_core::{AddressKind, Sink, SinkContext};
use cartback_kit::plugin::BuildError;
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The `webhook` connector, as the registry lists it.
pub struct Webhook;

impl Connector for Webhook {
    type Settings = WebhookSettings;
    const TYPE: &'static str = "webhook";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &WebhookSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: the receiver gets the contact as the hub knows it.
    fn address(_: &WebhookSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &WebhookSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(WebhookSink::new(settings.clone(), ctx)?)))
    }
}
