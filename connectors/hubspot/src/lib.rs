//! cartback-hubspot: HubSpot both ways. As a source, CRM contact webhooks in; normalized contact
//! updates (email, phone, names, email opt-out) and privacy erasures out. As a hand-off channel,
//! abandoned carts out to HubSpot contacts (and a custom behavioral event), so the shop's own
//! HubSpot workflow sends the reminders.
//!
//! # Layout
//! - [`config`]: [`HubSpotSettings`], the `[source.<id>]` table with `type = "hubspot"` (the
//!   app's client secret with rotation, the v3 replay window), and [`HubSpotChannelSettings`],
//!   the `[channel.<id>]` table with `type = "hubspot"` (access token, base URL, API version,
//!   event names, the contact property names), each with its pure validation.
//! - [`verify`]: the three HubSpot signature versions (v3 `X-HubSpot-Signature-v3`: base64
//!   HMAC-SHA256 over method + URL + body + timestamp, with a replay window; v1/v2
//!   `X-HubSpot-Signature`: hex SHA-256 of secret + [method + URL +] body), all constant time,
//!   and [`verify::signature_v1`], [`verify::signature_v2`], [`verify::signature_v3`] for tests and
//!   docs. It never parses the body.
//! - [`payload`]: HubSpot's wire types: a webhook delivery is a JSON array of
//!   [`payload::HubSpotEvent`]; the hand-off sends [`payload::BatchUpsert`] and
//!   [`payload::EventOccurrence`] and reads [`payload::BatchResult`] and [`payload::ErrorBody`].
//! - [`source`]: [`HubSpotSource`], the `Source` implementation: one normalized event per HubSpot
//!   event the hub uses, identified by HubSpot's `eventId`.
//! - [`sink`]: [`HubSpotSink`], the hand-off `Sink`: the contact upsert by email with the cart in
//!   contact properties, the optional event, and the classification of HubSpot's answers.
//!
//! Tests live in `tests/` (HubSpot's official signature vectors, golden translations of
//! `tests/fixtures/`, the hand-off against wiremock and the sink conformance suite).

pub mod config;
pub mod payload;
pub mod sink;
pub mod source;
pub mod verify;

pub use config::{ContactProperties, HubSpotChannelSettings, HubSpotSettings};
pub use sink::HubSpotSink;
pub use source::HubSpotSource;

use cartback_core::{AddressKind, Problem, Sink, SinkContext, Source};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `hubspot` connector, as the registry lists it.
pub struct HubSpot;

impl Connector for HubSpot {
    type Settings = HubSpotSettings;
    const TYPE: &'static str = "hubspot";
    const ROLE: Role = Role::Source;

    fn validate(settings: &HubSpotSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn source(settings: &HubSpotSettings) -> Option<Arc<dyn Source>> {
        Some(Arc::new(HubSpotSource::new(settings.clone())))
    }
}

/// The `hubspot` hand-off channel, as the registry lists it (the same `type`, the other role).
pub struct HubSpotChannel;

impl Connector for HubSpotChannel {
    type Settings = HubSpotChannelSettings;
    const TYPE: &'static str = "hubspot";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &HubSpotChannelSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn warnings(settings: &HubSpotChannelSettings) -> Vec<String> {
        settings.warnings()
    }

    /// A hand-off: HubSpot gets the contact as the hub knows it (upserted by email).
    fn address(_: &HubSpotChannelSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &HubSpotChannelSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(HubSpotSink::new(settings.clone(), ctx)?)))
    }
}
