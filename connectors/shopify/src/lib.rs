//! cartback-shopify: Shopify webhooks in, normalized carts, orders and contacts out.
//!
//! # Layout
//! - [`config`]: [`ShopifySettings`] (the `[source.<id>]` table with `type = "shopify"`) and its validation.
//! - [`verify`]: the `X-Shopify-Hmac-Sha256` check (base64 HMAC-SHA256 of the raw body, any configured
//!   secret, constant time) and the replay window on `X-Shopify-Triggered-At`; [`verify::sign`] for tests.
//! - [`payload`]: Shopify's wire types (checkouts, carts, orders, customers, privacy topics), serde.
//! - [`source`]: [`ShopifySource`], the `Source` implementation: topic routing and translation into
//!   normalized events.

pub mod config;
pub mod payload;
pub mod source;
pub mod verify;

pub use config::ShopifySettings;
pub use source::ShopifySource;
