//! The [`Importer`] trait: a platform's history read once, page by page (`cartback import`, the
//! backfill), as opposed to a [`crate::Poller`], which follows what changes from now on.
//!
//! The engine runs an import job: it asks for one page at a time with the cursor the previous page
//! returned, commits each page's events together with that cursor (so a stop or a crash resumes at
//! the last committed page), and stops when a page says `more: false`. Event ids must be stable
//! (the same record read twice gives the same id), so a second run changes nothing.

use crate::source::{PollBatch, PollError};
use chrono::{DateTime, Utc};

/// One page of an import: the events, where the next page starts, whether there is one, and, when
/// the platform can say, how many records the whole import reads (for a progress bar).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportPage {
    /// `events`, `cursor` (where the next page starts) and `more` (false: the import is complete).
    pub batch: PollBatch,
    /// Records this page read (checkouts, orders, quotes...), events or not.
    pub records: u64,
    /// Records the whole import is expected to read, when the platform counts them.
    pub total: Option<u64>,
}

/// A platform whose history the hub can read (Shopify's Admin GraphQL API; WooCommerce and
/// Magento through their pollers).
#[async_trait::async_trait]
pub trait Importer: Send + Sync + std::fmt::Debug {
    /// The config `type`.
    fn kind(&self) -> &'static str;

    /// Reads the page at `cursor` (`None`: the first page) of the records changed at or after
    /// `since`. `source_id` goes into every event; `now` is the engine clock. A retryable error
    /// may be retried with the same cursor.
    async fn page(
        &self,
        source_id: &str,
        cursor: Option<&str>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ImportPage, PollError>;
}
