//! cartback-klaviyo: Klaviyo webhooks in (consent and profile changes); normalized contact
//! updates and opt-outs out.
//!
//! # Layout
//! - [`config`]: [`KlaviyoSettings`], the `[source.<id>]` table with `type = "klaviyo"` (secret
//!   with rotation, timestamp window), and its pure validation.
//! - [`verify`]: the two ways in. Klaviyo system webhooks are signed:
//!   `Klaviyo-Signature = hex(HMAC-SHA256(secret, raw body + Klaviyo-Timestamp))`, with the
//!   timestamp (epoch seconds, epoch milliseconds or ISO-8601) within `max_age` of receipt. Flow
//!   "Webhook" actions are unsigned, so they carry the secret itself in `X-Cartback-Secret`
//!   (compared in constant time). [`verify::sign`] builds a valid signature for tests and docs.
//! - [`payload`]: the wire types: the system webhook envelope (`data[]` of `external_id`,
//!   `topic`, `payload`; `meta`), the profile and event shapes inside `payload`, and the flow
//!   webhook body cartback defines (see `tests/fixtures/README.md`).
//! - [`source`]: [`KlaviyoSource`], the `Source` implementation: topic routing and translation
//!   into `ContactUpdated` and `OptOut` events.
//!
//! Tests live in `tests/` (signature checks, golden translations of `tests/fixtures/`).

pub mod config;
pub mod payload;
pub mod source;
pub mod verify;

pub use config::KlaviyoSettings;
pub use source::KlaviyoSource;

use cartback_core::Problem;
use cartback_core::Source;
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
