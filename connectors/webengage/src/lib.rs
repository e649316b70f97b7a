//! cartback-webengage: the hand-off to WebEngage. cartback decides when a cart is abandoned
//! (and measures); a WebEngage Journey that starts on an event sends. Through WebEngage's REST
//! API at the licence code's data centre (`api.webengage.com`, `api.in.webengage.com`,
//! `api.ksa.webengage.com`), `Authorization: Bearer <REST API key>`:
//!
//! - a reminder: the user created or updated (`POST /v1/accounts/{licence}/users`: email,
//!   phone, names, email/SMS opt-in as the hub knows it), then one custom event (`POST
//!   /v1/accounts/{licence}/events`, default `Cart Abandoned`) carrying the cart, the tracked
//!   recovery link, the discount code and the flow, step and variant;
//! - a purchase of a handed-off cart: one event (default `Cart Recovered`), the Journey's exit
//!   trigger.
//!
//! # Layout
//! - [`config`]: [`WebEngageSettings`], the `type = "webengage"` table (licence code, API key,
//!   data centre, event names, which id is the user id) and its pure validation.
//! - [`payload`]: WebEngage's wire types: the user and event bodies, the answer wrapper.
//! - [`sink`]: [`WebEngageSink`], the `Sink` implementation: builds both requests, sends them,
//!   and classifies the answers (401/403 credential refused, 404 the licence code, 400/422
//!   naming what WebEngage refused, 429 and 5xx retryable).
//! - `tests/`: the requests against wiremock for both purposes, the status classification,
//!   settings, and the sink conformance suite.

pub mod config;
pub mod payload;
pub mod sink;

pub use config::{UserId, WebEngageSettings};
pub use sink::WebEngageSink;

use cartback_core::{AddressKind, Problem, Sink, SinkContext};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `webengage` connector, as the registry lists it.
pub struct WebEngage;

impl Connector for WebEngage {
    type Settings = WebEngageSettings;
    const TYPE: &'static str = "webengage";
    const ROLE: Role = Role::Channel;

    fn validate(settings: &WebEngageSettings) -> Vec<Problem> {
        settings.problems()
    }

    /// A hand-off: WebEngage gets the contact as the hub knows it.
    fn address(_: &WebEngageSettings) -> Option<AddressKind> {
        Some(AddressKind::HandOff)
    }

    fn sink(
        settings: &WebEngageSettings,
        ctx: SinkContext,
    ) -> Result<Option<Arc<dyn Sink>>, BuildError> {
        Ok(Some(Arc::new(WebEngageSink::new(settings.clone(), ctx)?)))
    }
}
