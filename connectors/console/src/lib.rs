//! The `console` channel: prints each rendered message to standard output. For trying the hub
//! without a provider account, and for demos. The only place shoppers' addresses are printed on
//! purpose.
//!
//! Rooms: `config.rs` ([`ConsoleSettings`]), `sink.rs` ([`ConsoleSink`]).

pub mod config;
pub mod sink;

pub use config::ConsoleSettings;
pub use sink::ConsoleSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `console` connector, as the registry lists it.
pub struct Console;

impl Connector for Console {
    type Settings = ConsoleSettings;
    const TYPE: &'static str = "console";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &ConsoleSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn address(settings: &ConsoleSettings) -> Option<AddressKind> {
        Some(settings.address_kind())
    }

    fn sink(
        settings: &ConsoleSettings,
        _: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(ConsoleSink::new(settings.clone()))))
    }
}
