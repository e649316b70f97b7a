//! The template connector: the crate a new connector starts from (docs/CONNECTORS.md, "Add a
//! connector"). It is a complete, working source for an imaginary platform ("Acme") that signs
//! its webhooks `X-Acme-Signature: hex(HMAC-SHA256(secret, timestamp + "." + body))` with an
//! `X-Acme-Timestamp` and sends `checkout.updated` and `order.created` JSON bodies. It is built
//! and tested with the workspace, so it stays true, but it is not in the registry.
//!
//! Rooms (every connector has the same):
//! - `config.rs`: the settings table (serde, unknown keys refused) and `problems` (every problem
//!   with its key path).
//! - `verify.rs`: the signature over the raw body and headers, the replay window. No parsing.
//! - `payload.rs`: the platform's wire types, as documented.
//! - `source.rs`: topic routing and translation into normalized events (a sink connector has
//!   `sink.rs` instead; a polled one `poll.rs`).
//! - `lib.rs`: this page and the [`Connector`] impl: what the registry sees.
//! - `tests/`: golden fixtures and the conformance suite (one macro line).

pub mod config;
pub mod payload;
pub mod source;
pub mod verify;

pub use config::TemplateSettings;
pub use source::TemplateSource;

use cartback_core::{Problem, Source};
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The template connector, as a registry would list it:
/// `&Entry::<cartback_template::Template>::NEW`.
pub struct Template;

impl Connector for Template {
    type Settings = TemplateSettings;
    const TYPE: &'static str = "template";
    const ROLE: Role = Role::Source;

    fn validate(settings: &TemplateSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn source(settings: &TemplateSettings) -> Option<Arc<dyn Source>> {
        Some(Arc::new(TemplateSource::new(settings.clone())))
    }
}
