//! cartback-kit: what every connector shares, written once.
//!
//! # Layout
//! - [`secret`]: [`Secret`] (redacted `Debug`, read from config that took it from the environment) and
//!   [`SecretList`] (one secret, or several during a rotation).
//! - [`signature`]: HMAC-SHA256 / HMAC-SHA1 over raw bytes, hex and base64 encodings, constant-time
//!   comparison against every configured secret, and replay-window checks on platform timestamps.
//! - [`http`]: the reqwest client builder every HTTP connector uses, HTTP status → retryable /
//!   permanent classification, `Retry-After` parsing, reqwest errors → [`cartback_core::DeliveryError`]
//!   ([`http::permanent`] for a message that can never be sent), and the same answers as a
//!   poller's [`cartback_core::PollError`] ([`http::poll_status_error`], [`http::poll_transport_error`]).
//! - [`import`]: [`import::ThroughPoller`], an importer made of a poller started at the import's
//!   `since` (WooCommerce, Magento).
//! - [`plugin`]: the plugin seam: [`plugin::Connector`] (a connector describes itself), the
//!   registry's [`plugin::Entry`], and what it builds.
//! - [`settings`]: checks settings tables share (blank secrets, zero durations, phone regions,
//!   currencies, shop URLs), each a [`cartback_core::Problem`] at its key; [`settings::first`]
//!   turns a connector's `problems()` into its `validate()`.
//! - [`wire`]: ids and amounts as platforms send them (integer or string; string or number), kept
//!   exactly; lenient readers for nice-to-have fields (`lenient_text`, `lenient_image`, ...).
//! - [`token`]: signed link tokens for tracked links (click, recover, open, unsubscribe).

pub mod http;
pub mod import;
pub mod plugin;
pub mod secret;
pub mod settings;
pub mod signature;
pub mod token;
pub mod wire;

pub use secret::{Secret, SecretList};
pub use signature::{
    check_timestamp_window, constant_time_eq, hmac_sha1, hmac_sha256, verify_base64, verify_hex,
    Encoding,
};
