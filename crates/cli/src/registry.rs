//! The one registry that maps a config `type` to a connector: a plain enum with a `match`, one
//! cargo feature per connector. Adding a platform touches this file, `Cargo.toml` and the docs only.

use crate::config::{typed, Problem};
use cartback_core::Source;
use serde_json::Value;
use std::sync::Arc;

/// Source types this build knows.
pub const SOURCE_TYPES: &[&str] = &[
    #[cfg(feature = "shopify")]
    "shopify",
];

/// Channel types this build knows.
pub const CHANNEL_TYPES: &[&str] = &["console"];

#[derive(Debug, Clone)]
pub enum SourceSettings {
    #[cfg(feature = "shopify")]
    Shopify(cartback_shopify::ShopifySettings),
}

#[derive(Debug, Clone)]
pub enum ChannelSettings {
    Console(crate::console::ConsoleSettings),
}

fn checked<T>(
    parsed: Option<T>,
    validate: impl Fn(&T) -> Result<(), String>,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let t = parsed?;
    match validate(&t) {
        Ok(()) => Some(t),
        Err(message) => {
            problems.push(Problem {
                path: at.to_string(),
                message,
            });
            None
        }
    }
}

pub fn source_settings(
    kind: &str,
    value: Value,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<SourceSettings> {
    match kind {
        #[cfg(feature = "shopify")]
        "shopify" => checked(
            typed(value, at, problems),
            |s: &cartback_shopify::ShopifySettings| s.validate(),
            at,
            problems,
        )
        .map(SourceSettings::Shopify),
        _ => {
            let _ = value;
            None
        }
    }
}

pub fn channel_settings(
    kind: &str,
    value: Value,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<ChannelSettings> {
    match kind {
        "console" => checked(
            typed(value, at, problems),
            crate::console::ConsoleSettings::validate,
            at,
            problems,
        )
        .map(ChannelSettings::Console),
        _ => None,
    }
}

pub fn build_source(settings: &SourceSettings) -> Arc<dyn Source> {
    match settings {
        #[cfg(feature = "shopify")]
        SourceSettings::Shopify(s) => Arc::new(cartback_shopify::ShopifySource::new(s.clone())),
    }
}

/// Builds a channel's sink and says what address it sends to.
pub fn build_channel(id: &str, settings: &ChannelSettings) -> cartback_engine::Channel {
    use cartback_engine::{AddressKind, Channel};
    match settings {
        ChannelSettings::Console(s) => {
            let address = match s.address.as_str() {
                "sms" => AddressKind::Phone,
                "any" => AddressKind::Identity,
                _ => AddressKind::Email,
            };
            Channel::new(
                id,
                Arc::new(crate::console::ConsoleSink::new(s.clone())),
                address,
            )
        }
    }
}
