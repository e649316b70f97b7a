//! cartback-magento: Magento 2 / Adobe Commerce read through its REST API (open-source Magento
//! has no webhooks, so this source polls); normalized checkouts (active quotes with an email) and
//! orders out.
//!
//! # Layout
//! - [`config`]: [`MagentoSettings`], the `[source.<id>]` table with `type = "magento"` (shop URL,
//!   optional store code, integration access token, poll interval, page size, product URL
//!   template, recovery URL, phone region), and its pure validation.
//! - [`payload`]: Magento's wire types: the `searchCriteria` result envelope, `CartInterface`,
//!   `CartItemInterface`, `TotalsInterface`, `OrderInterface` and the `{"message", "parameters"}`
//!   error body, read leniently (floats, ids as numbers or strings, `null`s).
//! - [`poll`]: [`MagentoPoller`], the `Poller`: one page of `GET /V1/carts/search` (by
//!   `updated_at`, active quotes) plus `/V1/carts/{id}/totals` per usable quote, and one page of
//!   `GET /V1/orders` (by `created_at`) per poll; float amounts turned into exact money by
//!   rounding their decimal text.
//! - The import (`cartback import`): the same poller, its cursor started at `--since`, run until
//!   caught up.
//! - [`cursor`]: the combined cursor (quotes' and orders' positions in one string) and Magento's
//!   time format.
//!
//! Tests live in `tests/` (the poller against a wiremock Magento, with fixtures described in
//! `tests/fixtures/README.md`).

pub mod config;
pub mod cursor;
pub mod payload;
pub mod poll;

pub use config::MagentoSettings;
pub use poll::{Cursor, MagentoPoller};

use cartback_core::Problem;
use cartback_core::{Importer, Poller};
use cartback_kit::plugin::BuildError;
use cartback_kit::plugin::{Connector, Role};
use std::sync::Arc;

/// The `magento` connector, as the registry lists it.
pub struct Magento;

impl Connector for Magento {
    type Settings = MagentoSettings;
    const TYPE: &'static str = "magento";
    const ROLE: Role = Role::Source;
    const IMPORTS: bool = true;

    fn validate(settings: &MagentoSettings) -> Vec<Problem> {
        settings.problems()
    }

    fn poller(settings: &MagentoSettings) -> Result<Option<Arc<dyn Poller>>, BuildError> {
        Ok(Some(Arc::new(MagentoPoller::new(settings.clone()))))
    }

    /// The poller started at `since` (quotes and orders) and run until caught up.
    fn importer(settings: &MagentoSettings) -> Result<Option<Arc<dyn Importer>>, BuildError> {
        let poller: Arc<dyn Poller> = Arc::new(MagentoPoller::new(settings.clone()));
        Ok(Some(Arc::new(cartback_kit::import::ThroughPoller::new(
            poller,
            start_cursor,
        ))))
    }
}

/// The poller's cursor for "quotes and orders at or after `since`".
fn start_cursor(since: chrono::DateTime<chrono::Utc>) -> String {
    let p = cursor::Position { since, page: 1 };
    Cursor {
        quotes: p,
        orders: p,
    }
    .render()
}
