//! cartback-woocommerce: WooCommerce webhooks in (and the REST orders API polled as a backstop);
//! normalized checkouts (unpaid orders), orders and abandoned carts out.
//!
//! # Layout
//! - [`config`]: [`WooSettings`], the `[source.<id>]` table with `type = "woocommerce"` (webhook
//!   secret with rotation, store URL and REST keys for polling, poll interval, phone region), and
//!   its pure validation.
//! - [`verify`]: the unsigned creation ping (`webhook_id=<n>`, answered before any check), the
//!   signature check (`X-WC-Webhook-Signature`: base64 HMAC-SHA256 of the raw body, any configured
//!   secret, constant time) and [`verify::sign`] for tests and docs. It never parses the body.
//! - [`payload`]: WooCommerce's wire types: the `/wp-json/wc/v3/orders` order representation the
//!   order webhooks carry, and the documented `cart_abandoned` payload of a companion plugin
//!   (see `tests/fixtures/README.md`).
//! - [`source`]: [`WooSource`], the `Source` implementation: topic routing, order status →
//!   checkout / order / ignored, and translation into `cartback_core` events. Event ids are
//!   `order:<id>:<date_modified_gmt>`, shared with the poller so webhook and polling never
//!   double-apply.
//! - [`poll`]: [`WooPoller`], the `Poller` reading `GET /wp-json/wc/v3/orders` by modification
//!   time with HTTP basic auth (WooCommerce does not retry failed webhook deliveries); the import
//!   (`cartback import`) is the same poller started at `--since` and run until caught up.
//!
//! Tests live in `tests/` (signature vectors, golden translations of `tests/fixtures/`, the
//! poller against wiremock).

pub mod config;
pub mod payload;
pub mod poll;
pub mod source;
pub mod verify;

pub use config::WooSettings;
pub use poll::WooPoller;
pub use source::WooSource;

use cartback_core::Problem;
use cartback_core::{Importer, Poller, Source};
use cartback_kit::plugin::BuildError;
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The `woocommerce` connector, as the registry lists it.
pub struct WooCommerce;

impl Connector for WooCommerce {
    type Settings = WooSettings;
    const TYPE: &'static str = "woocommerce";
    const ROLE: Role = Role::Source;
    const IMPORTS: bool = true;

    fn validate(settings: &WooSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn source(settings: &WooSettings) -> Option<Arc<dyn Source>> {
        Some(Arc::new(WooSource::new(settings.clone())))
    }

    /// Polled only when the REST API is configured (`store_url` and `consumer_key`).
    fn poller(settings: &WooSettings) -> Result<Option<Arc<dyn Poller>>, BuildError> {
        let polled = settings.store_url.is_some() && settings.consumer_key.is_some();
        Ok(polled.then(|| Arc::new(WooPoller::new(settings.clone())) as Arc<dyn Poller>))
    }

    /// The REST orders API read from `since` until caught up (the poller's requests and ids).
    fn importer(settings: &WooSettings) -> Result<Option<Arc<dyn Importer>>, BuildError> {
        if !settings.polls() {
            return Err(BuildError::Settings(
                "an import reads the REST API: set store_url, consumer_key and consumer_secret"
                    .into(),
            ));
        }
        let poller: Arc<dyn Poller> = Arc::new(WooPoller::new(settings.clone()));
        Ok(Some(Arc::new(cartback_kit::import::ThroughPoller::new(
            poller,
            WooCommerce::start_cursor,
        ))))
    }
}

impl WooCommerce {
    /// The poller's cursor for "orders modified at or after `since`".
    fn start_cursor(since: chrono::DateTime<chrono::Utc>) -> String {
        poll::Cursor {
            modified: since,
            page: 1,
        }
        .render()
    }
}
