//! End-to-end tests of the whole hub live in `tests/`; this library holds what they share.
//!
//! # Layout
//! - `tests/ingress.rs`: webhooks in, carts out through the admin API, every status code, redelivery,
//!   ordering, restart.
//! - [`browser`]: a small WebDriver client for headless Chromium browser tests.
//! - [`rig`]: the engine on a real store with a manual clock and recording sinks.
//! - [`payloads`]: builders for realistic platform payloads (Shopify's field names).

pub mod browser;
pub mod payloads;
pub mod rig;
