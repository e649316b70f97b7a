//! cartback-hubspot: HubSpot CRM contact webhooks in; normalized contact updates (email, phone,
//! names, email opt-out) and privacy erasures out.
//!
//! # Layout
//! - [`config`]: [`HubSpotSettings`], the `[source.<id>]` table with `type = "hubspot"` (the
//!   app's client secret with rotation, the v3 replay window), and its pure validation.
//! - [`verify`]: the three HubSpot signature versions (v3 `X-HubSpot-Signature-v3`: base64
//!   HMAC-SHA256 over method + URL + body + timestamp, with a replay window; v1/v2
//!   `X-HubSpot-Signature`: hex SHA-256 of secret + [method + URL +] body), all constant time,
//!   and [`verify::signature_v1`], [`verify::signature_v2`], [`verify::signature_v3`] for tests and
//!   docs. It never parses the body.
//! - [`payload`]: HubSpot's wire type: a delivery is a JSON array of [`payload::HubSpotEvent`].
//! - [`source`]: [`HubSpotSource`], the `Source` implementation: one normalized event per HubSpot
//!   event the hub uses, identified by HubSpot's `eventId`.
//!
//! Tests live in `tests/` (HubSpot's official signature vectors, golden translations of
//! `tests/fixtures/`).

pub mod config;
pub mod payload;
pub mod source;
pub mod verify;

pub use config::HubSpotSettings;
pub use source::HubSpotSource;

use cartback_core::Problem;
use cartback_core::Source;
use cartback_kit::plugin::{Connector, Role};
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
