//! cartback-segment: Segment events in (the Segment-compatible tracking API and the Segment
//! Webhooks destination; normalized carts, checkouts, orders and contacts), and the hand-off
//! out: abandoned carts sent to a Segment workspace through its Tracking API, for the
//! destinations and automations downstream.
//!
//! Two connectors share `type = "segment"`: [`Segment`] is the `[source.<id>]`,
//! [`SegmentChannel`] the `[channel.<id>]`.
//!
//! # Layout
//! - [`config`]: [`SegmentSettings`], the `[source.<id>]` table (write keys, the Webhooks
//!   destination's shared secret, default currency), and [`SegmentChannelSettings`], the
//!   `[channel.<id>]` table (a server write key, base URL, the two event names, which id is the
//!   `userId`), each with its pure validation.
//! - [`verify`]: the two ways in. API mode (`/v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`):
//!   `Authorization: Basic base64(writeKey + ":")`, or the body's `writeKey` when no header is sent.
//!   Webhook mode (`/webhooks/{id}`): `X-Signature = hex(HMAC-SHA1(shared secret, body))`, where a
//!   JSON array body is signed over its first element only. [`verify::sign`] and
//!   [`verify::basic_auth`] build valid credentials for tests and docs.
//! - [`payload`]: Segment's wire types (the common message fields, `context.traits`, identify
//!   traits, Ecommerce v2 properties and products) with lenient readers for ids and amounts; out,
//!   the `/v1/batch` body, every message marked `context.library.name = "cartback"`.
//! - [`source`]: [`SegmentSource`], the `Source` implementation: batch unpacking, Ecommerce v2 event
//!   routing (v1 aliases included), and translation into `cartback_core` events; the hub's own
//!   messages, coming back, are skipped.
//! - [`sink`]: [`SegmentSink`], the `Sink` implementation: one `POST /v1/batch` per hand-off
//!   (`identify` + `track`, `messageId`s derived from the hub's message id), its answer classified
//!   through `cartback_kit::http` (401/403 a refused credential, 429 after `Retry-After`).
//!
//! Tests live in `tests/` (credentials, the derived signature vector, golden translations of
//! `tests/fixtures/`, the sink against a wiremock Segment, and both conformance suites; the
//! fixtures README states which messages make carts).

pub mod config;
pub mod payload;
pub mod sink;
pub mod source;
pub mod verify;

pub use config::{SegmentChannelSettings, SegmentSettings};
pub use sink::SegmentSink;
pub use source::SegmentSource;

use cartback_core::Problem;
use cartback_core::{AddressKind, Sink, SinkContext, Source};
use cartback_kit::plugin::BuildError;
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The `segment` connector, as the registry lists it.
pub struct Segment;

impl Connector for Segment {
    type Settings = SegmentSettings;
    const TYPE: &'static str = "segment";
    const ROLE: Role = Role::Source;

    fn validate(settings: &SegmentSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn warnings(settings: &SegmentSettings) -> Vec<String> {
        settings.warnings()
    }

    fn source(settings: &SegmentSettings) -> Option<Arc<dyn Source>> {
        Some(Arc::new(SegmentSource::new(settings.clone())))
    }
}

/// The `segment` hand-off channel, as the registry lists it.
pub struct SegmentChannel;

impl Connector for SegmentChannel {
    type Settings = SegmentChannelSettings;
    const TYPE: &'static str = "segment";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &SegmentChannelSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: Segment receives the contact as the hub knows it, and what is downstream of
    /// it sends.
    fn address(_: &SegmentChannelSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &SegmentChannelSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(SegmentSink::new(settings.clone(), ctx)?)))
    }
}
