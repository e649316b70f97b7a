//! cartback-klaviyo: Klaviyo webhooks in (consent and profile changes; normalized contact
//! updates and opt-outs), and the hand-off out: abandoned carts as Klaviyo events that a
//! Klaviyo flow is triggered by.
//!
//! Two connectors share `type = "klaviyo"`: [`Klaviyo`] is the `[source.<id>]`, [`KlaviyoChannel`]
//! the `[channel.<id>]`.
//!
//! # Layout
//! - [`config`]: [`KlaviyoSettings`], the `[source.<id>]` table (secret with rotation, timestamp
//!   window), and [`KlaviyoChannelSettings`], the `[channel.<id>]` table (private API key, base
//!   URL, revision, the two metric names, which id is the profile's `external_id`), each with its
//!   pure validation.
//! - [`verify`]: the two ways in. Klaviyo system webhooks are signed:
//!   `Klaviyo-Signature = hex(HMAC-SHA256(secret, raw body + Klaviyo-Timestamp))`, with the
//!   timestamp (epoch seconds, epoch milliseconds or ISO-8601) within `max_age` of receipt. Flow
//!   "Webhook" actions are unsigned, so they carry the secret itself in `X-Cartback-Secret`
//!   (compared in constant time). [`verify::sign`] builds a valid signature for tests and docs.
//! - [`payload`]: the wire types: the system webhook envelope (`data[]` of `external_id`,
//!   `topic`, `payload`; `meta`), the profile and event shapes inside `payload`, and the flow
//!   webhook body cartback defines (see `tests/fixtures/README.md`).
//!   Out: the Create Event request and Klaviyo's error body.
//! - [`source`]: [`KlaviyoSource`], the `Source` implementation: topic routing and translation
//!   into `ContactUpdated` and `OptOut` events.
//! - [`sink`]: [`KlaviyoSink`], the `Sink` implementation: one `POST /api/events` per hand-off
//!   (the profile inside, `unique_id` = the hub's message id), its answer classified through
//!   `cartback_kit::http` (401/403 a refused credential, 429 after `Retry-After`).
//!
//! Tests live in `tests/` (signature checks, golden translations of `tests/fixtures/`, the sink
//! against a wiremock Klaviyo, and both conformance suites).

pub mod config;
pub mod payload;
pub mod sink;
pub mod source;
pub mod verify;

pub use config::{KlaviyoChannelSettings, KlaviyoSettings};
pub use sink::KlaviyoSink;
pub use source::KlaviyoSource;

use cartback_core::Problem;
use cartback_core::{AddressKind, Sink, SinkContext, Source};
use cartback_kit::plugin::BuildError;
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The `klaviyo` connector, as the registry lists it.
pub struct Klaviyo;

impl Connector for Klaviyo {
    type Settings = KlaviyoSettings;
    const TYPE: &'static str = "klaviyo";
    const ROLE: Role = Role::Source;

    fn validate(settings: &KlaviyoSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn source(settings: &KlaviyoSettings) -> Option<Arc<dyn Source>> {
        Some(Arc::new(KlaviyoSource::new(settings.clone())))
    }
}

/// The `klaviyo` hand-off channel, as the registry lists it.
pub struct KlaviyoChannel;

impl Connector for KlaviyoChannel {
    type Settings = KlaviyoChannelSettings;
    const TYPE: &'static str = "klaviyo";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &KlaviyoChannelSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: Klaviyo receives the contact as the hub knows it, and Klaviyo's flow sends.
    fn address(_: &KlaviyoChannelSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &KlaviyoChannelSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(KlaviyoSink::new(settings.clone(), ctx)?)))
    }
}
