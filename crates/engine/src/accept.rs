//! The one way in: every front door hands the engine translated events here: the webhook handler,
//! the hub's own tracking and on-site events, pollers and imports.
//!
//! What every arrival passes, whichever door it came through: the events' checks
//! (`cartback_core::check_events`: no negative price, no over-long address, no control
//! character), then only links on the shop's own hosts are kept (`[server] link_hosts`), then the
//! store commits it with the engine's rules ([`crate::rules`], given to the store when it
//! opened): the debounce of the abandonment check and which cart an order converts.

use crate::front::Engine;
use cartback_core::{Event, EventKind, Trust};
use cartback_store::{Ingest, StoreError};
use chrono::{DateTime, Utc};

pub use cartback_store::{Effect, EffectKind, IngestOutcome};

/// One inbound request's events, translated.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    pub source_id: &'a str,
    /// The platform's ids for the request: a redelivery of one is a duplicate, and changes nothing.
    pub delivery_ids: &'a [String],
    pub events: Vec<Event>,
    pub received_at: DateTime<Utc>,
    /// Whether the request's contact details are the shopper's, or only claims (a public key).
    pub trust: Trust,
}

/// What became of an arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub outcome: IngestOutcome,
    /// Links dropped because their host is not the shop's.
    pub links_dropped: usize,
    /// Events left out: a poll's that failed the checks (a webhook's are refused whole), and
    /// named events no `event:<name>` flow starts on.
    pub events_dropped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// An event failed the checks: the caller's mistake (a webhook answers 400 with it).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Engine {
    /// Takes a pushed request (a webhook, a tracking or on-site event): refused whole when an
    /// event fails the checks; committed once durable.
    pub async fn accept(&self, mut arrival: Arrival<'_>) -> Result<Accepted, AcceptError> {
        cartback_core::check_events(&mut arrival.events).map_err(AcceptError::Invalid)?;
        let unused = self.drop_unused_tracked(&mut arrival.events);
        if arrival.events.is_empty() && unused > 0 {
            // Only named events no flow starts on: nothing to keep.
            return Ok(Accepted {
                outcome: IngestOutcome::Accepted {
                    effects: Vec::new(),
                },
                links_dropped: 0,
                events_dropped: unused,
            });
        }
        let links_dropped = self.link_policy.scrub_events(&mut arrival.events);
        let outcome = self.store.ingest(ingest(&arrival)).await?;
        Ok(Accepted {
            outcome,
            links_dropped,
            events_dropped: unused,
        })
    }

    /// Leaves out the tracked events no `event:<name>` flow starts on (the log keeps only what a
    /// flow can use); returns how many.
    fn drop_unused_tracked(&self, events: &mut Vec<Event>) -> usize {
        if !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Tracked(_)))
        {
            return 0;
        }
        let wanted = crate::rules::trigger_events(&self.live().flows);
        let before = events.len();
        events.retain(|e| match &e.kind {
            EventKind::Tracked(t) => wanted.contains(&t.name.trim().to_lowercase()),
            _ => true,
        });
        before - events.len()
    }

    /// Takes one poll's events and the cursor the next poll starts from, committed together. An
    /// event that fails the checks is left out and the cursor still moves (polling it again would
    /// fail again).
    pub async fn accept_polled(
        &self,
        arrival: Arrival<'_>,
        cursor: Option<&str>,
    ) -> Result<Accepted, StoreError> {
        let key = arrival.source_id;
        self.accept_with_cursor(arrival, key, cursor).await
    }

    /// [`Engine::accept_polled`] with the cursor kept under `cursor_key` (an import's
    /// `import:<source id>`, apart from the source's live poller).
    pub async fn accept_with_cursor(
        &self,
        mut arrival: Arrival<'_>,
        cursor_key: &str,
        cursor: Option<&str>,
    ) -> Result<Accepted, StoreError> {
        let before = arrival.events.len();
        let source_id = arrival.source_id;
        arrival.events.retain_mut(
            |e| match cartback_core::check_events(std::slice::from_mut(e)) {
                Ok(()) => true,
                Err(reason) => {
                    tracing::warn!(%source_id, %reason, "Skipped a polled event.");
                    false
                }
            },
        );
        let events_dropped =
            before - arrival.events.len() + self.drop_unused_tracked(&mut arrival.events);
        let links_dropped = self.link_policy.scrub_events(&mut arrival.events);
        let outcome = self
            .store
            .ingest_with_cursor(ingest(&arrival), cursor_key, cursor)
            .await?;
        Ok(Accepted {
            outcome,
            links_dropped,
            events_dropped,
        })
    }
}

fn ingest<'a>(a: &'a Arrival<'a>) -> Ingest<'a> {
    Ingest {
        source_id: a.source_id,
        delivery_ids: a.delivery_ids,
        events: &a.events,
        received_at: a.received_at,
        trust: a.trust,
    }
}
