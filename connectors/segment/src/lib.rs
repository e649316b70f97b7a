//! cartback-segment: Segment events in (the Segment-compatible tracking API and the Segment
//! Webhooks destination); normalized carts, checkouts, orders and contacts out.
//!
//! # Layout
//! - [`config`]: [`SegmentSettings`], the `[source.<id>]` table with `type = "segment"` (write
//!   keys, the Webhooks destination's shared secret, default currency), and its pure validation.
//! - [`verify`]: the two ways in. API mode (`/v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`):
//!   `Authorization: Basic base64(writeKey + ":")`, or the body's `writeKey` when no header is sent.
//!   Webhook mode (`/webhooks/{id}`): `X-Signature = hex(HMAC-SHA1(shared secret, body))`, where a
//!   JSON array body is signed over its first element only. [`verify::sign`] and
//!   [`verify::basic_auth`] build valid credentials for tests and docs.
//! - [`payload`]: Segment's wire types (the common message fields, `context.traits`, identify
//!   traits, Ecommerce v2 properties and products) with lenient readers for ids and amounts.
//! - [`source`]: [`SegmentSource`], the `Source` implementation: batch unpacking, Ecommerce v2 event
//!   routing (v1 aliases included), and translation into `cartback_core` events.
//!
//! Tests live in `tests/` (credentials, the derived signature vector, golden translations of
//! `tests/fixtures/`; the fixtures README states which messages make carts).

pub mod config;
pub mod payload;
pub mod source;
pub mod verify;

pub use config::SegmentSettings;
pub use source::SegmentSource;

use cartback_core::Problem;
use cartback_core::Source;
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
