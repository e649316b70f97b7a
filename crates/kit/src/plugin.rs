//! The plugin seam: a connector describes itself once, and the registry is a list of them.
//!
//! A connector crate exports one type implementing [`Connector`]: its config `type`, its settings
//! (serde, unknown keys refused), `validate` (every problem with its key path), and what it builds:
//! a source (webhooks), a poller (a platform read through its API), an importer (its history read
//! once: `cartback import`), a sink (a channel) with the
//! address it sends to, a receiver for the provider's callbacks. The binary's registry lists
//! `&Entry::<TheConnector>::NEW`, one line each; everything else (check-config, serve, the docs'
//! type list) reads that list through the object-safe [`Plugin`] and [`Configured`].

use cartback_core::{AddressKind, Importer, Poller, Problem, Sink, SinkContext, Source};
use serde::de::DeserializeOwned;
use std::any::Any;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;

/// What a connector is configured as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `[source.<id>]`: a platform that sends (or is read for) carts, orders and contacts.
    Source,
    /// `[channel.<id>]`: where reminders go (a message provider, the pop-up, a hand-off).
    Channel,
}

/// Why a configured connector could not be built (its settings passed `validate`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A setting that only turned out wrong when used (a key that does not decode, say).
    #[error("{0}")]
    Settings(String),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}

impl From<String> for BuildError {
    fn from(message: String) -> Self {
        BuildError::Settings(message)
    }
}

/// One connector, described once. Everything but `TYPE`, `ROLE` and `Settings` has a default, so
/// a source-only connector writes `validate` and `source`, a channel `validate`, `address`, `sink`.
pub trait Connector: Send + Sync + 'static {
    /// The settings table, minus `type` (and, for channels, the outbox's keys). Serde, with
    /// `#[serde(deny_unknown_fields)]`.
    type Settings: DeserializeOwned + Debug + Send + Sync + 'static;
    /// The config `type` (`"shopify"`).
    const TYPE: &'static str;
    const ROLE: Role;
    /// Whether [`Connector::importer`] can build an importer (with the right settings): the
    /// types listed when an import is asked of a source that cannot import.
    const IMPORTS: bool = false;

    /// Every problem with the settings, key paths relative to the table (`"secret"`).
    fn validate(_settings: &Self::Settings) -> Vec<Problem> {
        Vec::new()
    }

    /// What works but is risky (`check-config` prints these; `serve` logs them at warn).
    fn warnings(_settings: &Self::Settings) -> Vec<String> {
        Vec::new()
    }

    /// The webhook receiver at `/webhooks/<id>` (sources).
    fn source(_settings: &Self::Settings) -> Option<Arc<dyn Source>> {
        None
    }

    /// The API reader (polled sources).
    fn poller(_settings: &Self::Settings) -> Result<Option<Arc<dyn Poller>>, BuildError> {
        Ok(None)
    }

    /// The history reader (`cartback import`). `Ok(None)`: this type cannot import; an error says
    /// which settings an import needs.
    fn importer(_settings: &Self::Settings) -> Result<Option<Arc<dyn Importer>>, BuildError> {
        Ok(None)
    }

    /// The address a channel sends to (channels).
    fn address(_settings: &Self::Settings) -> Option<AddressKind> {
        None
    }

    /// The channel's sink (channels).
    fn sink(
        _settings: &Self::Settings,
        _ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(None)
    }

    /// The receiver of the provider's callbacks (delivery events, inbound SMS) at
    /// `/webhooks/<channel id>` (channels).
    fn receiver(_settings: &Self::Settings) -> Option<Arc<dyn Source>> {
        None
    }
}

/// A connector as the registry holds it (object-safe).
pub trait Plugin: Send + Sync {
    fn kind(&self) -> &'static str;
    fn role(&self) -> Role;
    /// Whether this type can import (`Connector::IMPORTS`).
    fn imports(&self) -> bool;
    /// Reads and validates a table; `at` is its key path (`source.shop`), for the problems.
    fn configure(
        &self,
        table: serde_json::Value,
        at: &str,
    ) -> Result<Arc<dyn Configured>, Vec<Problem>>;
}

/// A connector with its settings read and validated.
pub trait Configured: Send + Sync + Debug {
    fn kind(&self) -> &'static str;
    fn role(&self) -> Role;
    fn warnings(&self) -> Vec<String>;
    fn source(&self) -> Option<Arc<dyn Source>>;
    fn poller(&self) -> Result<Option<Arc<dyn Poller>>, BuildError>;
    fn importer(&self) -> Result<Option<Arc<dyn Importer>>, BuildError>;
    fn address(&self) -> Option<AddressKind>;
    fn sink(&self, ctx: SinkContext) -> Result<Option<Arc<dyn Sink>>, BuildError>;
    fn receiver(&self) -> Option<Arc<dyn Source>>;
    /// The settings, for the few parts that read one connector's settings (the server reads the
    /// `web` channel's to serve the pop-up): `settings().downcast_ref::<WebSettings>()`.
    fn settings(&self) -> &dyn Any;
}

/// The registry's line for connector `C`: `&Entry::<cartback_shopify::Shopify>::NEW`.
pub struct Entry<C>(PhantomData<fn() -> C>);

impl<C: Connector> Entry<C> {
    pub const NEW: Self = Entry(PhantomData);
}

impl<C: Connector> Plugin for Entry<C> {
    fn kind(&self) -> &'static str {
        C::TYPE
    }

    fn role(&self) -> Role {
        C::ROLE
    }

    fn imports(&self) -> bool {
        C::IMPORTS
    }

    fn configure(
        &self,
        table: serde_json::Value,
        at: &str,
    ) -> Result<Arc<dyn Configured>, Vec<Problem>> {
        let settings: C::Settings = parse(table).map_err(|p| vec![p.under(at)])?;
        let problems: Vec<Problem> = C::validate(&settings)
            .into_iter()
            .map(|p| p.under(at))
            .collect();
        if problems.is_empty() {
            Ok(Arc::new(Settled::<C> { settings }))
        } else {
            Err(problems)
        }
    }
}

/// Reads a table into `T`; a problem names the key path inside it (`replay_window`).
pub fn parse<T: DeserializeOwned>(table: serde_json::Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize::<_, T>(table).map_err(|err| {
        let inner = err.path().to_string();
        let path = if inner == "." { String::new() } else { inner };
        Problem::new(path, err.into_inner().to_string())
    })
}

struct Settled<C: Connector> {
    settings: C::Settings,
}

impl<C: Connector> Debug for Settled<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(C::TYPE)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<C: Connector> Configured for Settled<C> {
    fn kind(&self) -> &'static str {
        C::TYPE
    }
    fn role(&self) -> Role {
        C::ROLE
    }
    fn warnings(&self) -> Vec<String> {
        C::warnings(&self.settings)
    }
    fn source(&self) -> Option<Arc<dyn Source>> {
        C::source(&self.settings)
    }
    fn poller(&self) -> Result<Option<Arc<dyn Poller>>, BuildError> {
        C::poller(&self.settings)
    }
    fn importer(&self) -> Result<Option<Arc<dyn Importer>>, BuildError> {
        C::importer(&self.settings)
    }
    fn address(&self) -> Option<AddressKind> {
        C::address(&self.settings)
    }
    fn sink(&self, ctx: SinkContext) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        C::sink(&self.settings, ctx)
    }
    fn receiver(&self) -> Option<Arc<dyn Source>> {
        C::receiver(&self.settings)
    }
    fn settings(&self) -> &dyn Any {
        &self.settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct S {
        n: u32,
    }

    struct Demo;
    impl Connector for Demo {
        type Settings = S;
        const TYPE: &'static str = "demo";
        const ROLE: Role = Role::Source;
        fn validate(s: &S) -> Vec<Problem> {
            if s.n == 0 {
                vec![Problem::new("n", "must be at least 1")]
            } else {
                Vec::new()
            }
        }
    }

    static LIST: &[&dyn Plugin] = &[&Entry::<Demo>::NEW];

    #[test]
    fn a_connector_is_read_validated_and_listed() {
        assert_eq!(LIST[0].kind(), "demo");
        let ok = LIST[0]
            .configure(serde_json::json!({"n": 2}), "source.x")
            .unwrap();
        assert_eq!(ok.kind(), "demo");
        assert_eq!(ok.settings().downcast_ref::<S>().unwrap().n, 2);
        let err = LIST[0]
            .configure(serde_json::json!({"n": 0}), "source.x")
            .unwrap_err();
        assert_eq!(err[0].to_string(), "source.x.n: must be at least 1");
        let err = LIST[0]
            .configure(serde_json::json!({"n": 1, "m": 2}), "source.x")
            .unwrap_err();
        assert!(
            err[0]
                .to_string()
                .starts_with("source.x.m: unknown field `m`"),
            "{err:?}"
        );
    }
}
