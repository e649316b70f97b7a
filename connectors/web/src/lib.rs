//! The on-site `web` channel: a step `send = { channel = "web" }` turns the "Previously added to
//! cart" pop-up on for that shopper for the channel's `window`. Nothing leaves the hub: the
//! message being `sent` is what the server's `/onsite/*` endpoints (crates/server/src/onsite.rs,
//! with the widget script) read.
//!
//! Rooms: `config.rs` ([`WebSettings`]), `sink.rs` ([`WebSink`]).

pub mod config;
pub mod sink;

pub use config::WebSettings;
pub use sink::WebSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `web` connector, as the registry lists it.
pub struct Web;

impl Connector for Web {
    type Settings = WebSettings;
    const TYPE: &'static str = "web";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &WebSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A shopper on the shop's own site: any identified contact.
    fn address(_: &WebSettings) -> Option<AddressKind> {
        Some(AddressKind::Web)
    }

    fn sink(_: &WebSettings, _: SinkContext) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(WebSink)))
    }
}
