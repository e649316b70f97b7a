//! cartback-twilio: Twilio Programmable Messaging. Reminders go out as SMS; delivery reports
//! and inbound STOP / START replies come back as message-status and opt-out events.
//!
//! # Layout
//! - [`config`]: [`TwilioSettings`], the table with `type = "twilio"` (account sid, auth token,
//!   sender or Messaging Service, API base URL, status callbacks on/off), and its pure validation.
//! - [`payload`]: Twilio's wire types: the `Messages.json` create response, the REST error body
//!   `{"code","message","more_info","status"}` with the error codes the hub names, and the form
//!   fields of status callbacks and inbound messages.
//! - [`sink`]: [`TwilioSink`], the `Sink` implementation: the form-encoded create-message request
//!   with Basic auth, and the classification of Twilio's answer (error code 20429 retryable,
//!   other 4xx permanent, 429 / 5xx retryable with `Retry-After`).
//! - [`verify`]: the `X-Twilio-Signature` check (base64 HMAC-SHA1 of the URL plus sorted form
//!   params, port variants, `bodySHA256` for JSON bodies, constant time) and [`signature`] for
//!   tests and docs. It never translates the body.
//! - [`source`]: [`TwilioEvents`], the `Source` implementation: status callbacks → message
//!   status (and 21610 → opt-out), inbound keywords → SMS opt-out / opt-in.
//!
//! Tests live in `tests/` (the six official signature vectors, wiremock status classification,
//! translations of the form bodies in `tests/fixtures/`, settings validation).

pub mod config;
pub mod payload;
pub mod sink;
pub mod source;
pub mod verify;

pub use config::TwilioSettings;
pub use sink::TwilioSink;
pub use source::TwilioEvents;
pub use verify::signature;

use cartback_core::Problem;
use cartback_core::{AddressKind, Sink, SinkContext, Source};
use cartback_kit::plugin::BuildError;
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The `twilio` connector, as the registry lists it.
pub struct Twilio;

impl Connector for Twilio {
    type Settings = TwilioSettings;
    const TYPE: &'static str = "twilio";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &TwilioSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn address(_: &TwilioSettings) -> Option<AddressKind> {
        Some(AddressKind::Phone)
    }

    fn sink(
        settings: &TwilioSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(TwilioSink::new(settings.clone(), ctx)?)))
    }

    /// Status callbacks and inbound SMS (STOP / START).
    fn receiver(settings: &TwilioSettings) -> Option<Arc<dyn Source>> {
        Some(Arc::new(TwilioEvents::new(settings.clone())))
    }
}
