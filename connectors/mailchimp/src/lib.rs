//! cartback-mailchimp: the hand-off of abandoned carts to a Mailchimp e-commerce store, so the
//! shop's own Mailchimp Abandoned Cart automation sends the emails; on a purchase, the order and
//! the cart's removal, so that automation stops.
//!
//! # Layout
//! - [`config`]: [`MailchimpSettings`], the `[channel.<id>]` table with `type = "mailchimp"`
//!   (API key and its data center, store id, audience id, base URL, product and order syncing),
//!   and its pure validation.
//! - [`payload`]: Mailchimp's e-commerce wire types (customer, cart, order, product, variant,
//!   audience member) and its problem+json error body.
//! - [`sink`]: [`MailchimpSink`], the `Sink` implementation: the requests of a hand-off and of a
//!   purchase, idempotent on a retry, and the classification of Mailchimp's answers.
//! - `lib.rs`: this page and the [`Connector`] impl: what the registry sees.
//!
//! Tests live in `tests/`: every request against a wiremock Mailchimp, the status
//! classification, and the sink conformance suite (one macro line).

pub mod config;
pub mod payload;
pub mod sink;

pub use config::MailchimpSettings;
pub use sink::MailchimpSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `mailchimp` hand-off channel, as the registry lists it.
pub struct Mailchimp;

impl Connector for Mailchimp {
    type Settings = MailchimpSettings;
    const TYPE: &'static str = "mailchimp";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &MailchimpSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn warnings(settings: &MailchimpSettings) -> Vec<String> {
        settings.warnings()
    }

    /// A hand-off: Mailchimp gets the contact as the hub knows it.
    fn address(_: &MailchimpSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &MailchimpSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(MailchimpSink::new(settings.clone(), ctx)?)))
    }
}
