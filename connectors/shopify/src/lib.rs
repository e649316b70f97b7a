//! cartback-shopify: Shopify webhooks in; normalized carts, checkouts, orders, contacts and
//! privacy erasures out.
//!
//! # Layout
//! - [`config`]: [`ShopifySettings`], the `[source.<id>]` table with `type = "shopify"` (secrets
//!   with rotation, replay window, default phone region, shop-domain pin), its pure validation
//!   and [`ShopifySettings::warnings`] (valid but weaker setups, e.g. no `shop_domain`).
//! - [`verify`]: the signature check (`X-Shopify-Hmac-Sha256` or `shopify-hmac-sha256`: base64
//!   HMAC-SHA256 of the raw body, any configured secret, constant time), the required
//!   `X-Shopify-Triggered-At` and its replay window, and [`verify::sign`] for tests and docs. It
//!   never parses the body.
//! - [`payload`]: Shopify's wire types (checkouts, carts, orders, customers, privacy topics) with
//!   serde; ids above 2^53 kept exactly as text, money kept as decimal text. The privacy topics
//!   are read strictly (every documented field required, no other field allowed): Shopify signs
//!   the body, not the topic header, so the body must say what it is.
//! - [`source`]: [`ShopifySource`], the `Source` implementation: topic routing, delivery ids, and
//!   translation of the wire types into `cartback_core` events; privacy bodies must name the
//!   configured shop, and `shop/redact` is refused unless `shop_domain` is configured.
//! - [`graphql`]: the import's wire types (Admin GraphQL `abandonedCheckouts`, `orders`, counts,
//!   `extensions.cost`), its queries, and GraphQL records turned into the REST shapes above so
//!   one translation serves webhooks and imports.
//! - [`import`]: [`ShopifyImporter`], `cartback import` for Shopify: cursor pagination, the
//!   cost-based rate limit (waits from `throttleStatus`, `THROTTLED` retried), errors.
//!
//! Tests live in `tests/` (signature vectors, golden translations of `tests/fixtures/`).

pub mod config;
pub mod graphql;
pub mod import;
pub mod payload;
pub mod source;
pub mod verify;

pub use config::ShopifySettings;
pub use import::ShopifyImporter;
pub use source::ShopifySource;

use cartback_core::Problem;
use cartback_core::{Importer, Source};
use cartback_kit::plugin::{BuildError, Connector, Role};
use std::sync::Arc;

/// The `shopify` connector, as the registry lists it.
pub struct Shopify;

impl Connector for Shopify {
    type Settings = ShopifySettings;
    const TYPE: &'static str = "shopify";
    const ROLE: Role = Role::Source;
    const IMPORTS: bool = true;

    fn validate(settings: &ShopifySettings) -> Vec<Problem> {
        settings.problems()
    }

    fn warnings(settings: &ShopifySettings) -> Vec<String> {
        settings.warnings()
    }

    fn source(settings: &ShopifySettings) -> Option<Arc<dyn Source>> {
        Some(Arc::new(ShopifySource::new(settings.clone())))
    }

    /// The Admin GraphQL reader; needs `admin_access_token` and `shop_domain`.
    fn importer(settings: &ShopifySettings) -> Result<Option<Arc<dyn Importer>>, BuildError> {
        let importer = ShopifyImporter::new(settings.clone()).map_err(BuildError::Settings)?;
        Ok(Some(Arc::new(importer)))
    }
}
