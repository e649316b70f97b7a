//! cartback-sfmc: the hand-off to Salesforce Marketing Cloud Engagement. cartback decides when a
//! cart is abandoned (and measures); a Journey Builder journey sends. Each reminder fires the
//! journey's API entry event with the contact key and the cart as the event's `Data`; a purchase
//! of a handed-off cart fires a second, optional event definition (the journey's exit or goal).
//!
//! # Layout
//! - [`config`]: [`SfmcSettings`], the `type = "sfmc"` table (the installed package's client id
//!   and secret, the tenant subdomain, the MID, the entry and converted event definition keys,
//!   which id is the contact key, how many items the data carries) and its pure validation.
//! - [`payload`]: Marketing Cloud's wire types: the token request and answer, the entry event
//!   with its flat `Data` (data extension fields), and the error bodies.
//! - [`token`]: [`token::TokenCache`], the OAuth2 client-credentials token shared by every
//!   delivery of the channel: fetched once at a time, kept until shortly before `expires_in`,
//!   dropped when the REST host refuses it.
//! - [`sink`]: [`SfmcSink`], the `Sink` implementation: the entry event on the REST host the
//!   token answer names, one refetch and retry on a 401, and the classification of the answers
//!   (401/403 credential refused, 400 naming what Journey Builder refused, 429 and 5xx retryable).
//! - `tests/`: wiremock tests of the token (cached for many sends, refetched on expiry and on a
//!   refusal, a second refusal permanent, one fetch for concurrent sends), the event's request
//!   shape for both purposes, the status classification, settings, and the conformance suite.

pub mod config;
pub mod payload;
pub mod sink;
pub mod token;

pub use config::SfmcSettings;
pub use sink::SfmcSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `sfmc` connector, as the registry lists it.
pub struct Sfmc;

impl Connector for Sfmc {
    type Settings = SfmcSettings;
    const TYPE: &'static str = "sfmc";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &SfmcSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: Marketing Cloud gets the contact as the hub knows it.
    fn address(_: &SfmcSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &SfmcSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(SfmcSink::new(settings.clone(), ctx)?)))
    }
}
