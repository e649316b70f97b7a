//! cartback-smtp: the email sink that speaks SMTP to any relay (a mail provider's SMTP endpoint,
//! Postfix on the same host, a local catcher in development).
//!
//! # Layout
//! - [`config`]: [`SmtpSettings`], the `[channel.<id>]` table with `type = "smtp"` (host, port,
//!   security mode, credentials, sender), and its pure validation.
//! - [`message`]: turns an [`cartback_core::OutboundMessage`] into a MIME message (From, To,
//!   Reply-To, Subject, a `Message-ID` derived from the hub's message id, the message's extra
//!   headers such as `List-Unsubscribe`, text and HTML parts). Pure, no I/O.
//! - [`sink`]: [`SmtpSink`], the `Sink` implementation: the lettre transport built from the
//!   settings, and the mapping of SMTP replies and connection failures to
//!   [`cartback_core::DeliveryError`] (5xx permanent, 4xx retryable, cannot connect retryable,
//!   a timeout or a broken connection mid-conversation unknown).
//!
//! Tests live in `tests/`: settings validation, and the sink against a scripted SMTP listener
//! bound to port 0 inside the test.

pub mod config;
pub mod message;
pub mod sink;

pub use config::{Security, SmtpSettings};
pub use sink::SmtpSink;

use cartback_core::Problem;
use cartback_core::{AddressKind, Sink, SinkContext};
use cartback_kit::plugin::BuildError;
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The `smtp` connector, as the registry lists it.
pub struct Smtp;

impl Connector for Smtp {
    type Settings = SmtpSettings;
    const TYPE: &'static str = "smtp";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &SmtpSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn address(_: &SmtpSettings) -> Option<AddressKind> {
        Some(AddressKind::Email)
    }

    fn sink(
        settings: &SmtpSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(SmtpSink::new(settings.clone(), ctx)?)))
    }
}
