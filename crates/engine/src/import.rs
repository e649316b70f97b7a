//! Imports (`cartback import`, the backfill): a source's history read page by page through its
//! [`Importer`] and handed to the one way in ([`Engine::accept_with_cursor`]).
//!
//! - **Resumable.** Each page's events are committed together with where the next page starts,
//!   kept under its own key (`import:<source id>`, apart from the live poller's cursor), with the
//!   import's `since` and counts. A stop (between pages), a crash or a failure leaves the last
//!   committed page; starting the import again resumes there, with the `since` it began with.
//! - **Idempotent.** Event ids are stable, so a page read twice changes nothing. A finished import
//!   forgets its cursor: running it again reads everything again and changes nothing (counted as
//!   `unchanged`).
//! - **No reminder for a cart too old to remind**: imported carts go through the same rules as any
//!   other (`max_cart_age` in `enrol.rs`); `too_old` counts the imported carts no flow may remind.
//! - **One job per source at a time** on an instance ([`StartError::Running`]). Instances do not
//!   know each other's jobs; two running the same import only read twice (idempotent).

use crate::accept::Arrival;
use crate::front::Engine;
use cartback_core::{EventKind, Importer, PollError, Trust};
use cartback_store::{EffectKind, IngestOutcome, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The cursor key of `source_id`'s import.
pub fn cursor_key(source_id: &str) -> String {
    format!("import:{source_id}")
}

/// `"30d"` (a duration before `now`) or an RFC 3339 time (`2026-11-01T00:00:00Z`), or a date
/// (`2026-11-01`, midnight UTC).
pub fn parse_since(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    let d = cartback_core::duration::parse_duration(s).map_err(|e| {
        format!(
            "since {input:?}: {e}; give a duration (\"30d\") or a time (\"2026-11-01T00:00:00Z\")"
        )
    })?;
    let d = chrono::Duration::from_std(d).map_err(|_| format!("since {input:?} is too long"))?;
    now.checked_sub_signed(d)
        .ok_or_else(|| format!("since {input:?} is too long"))
}

/// Where an import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    Running,
    /// Stopped on request (or by the hub stopping) after a committed page: resumable.
    Stopped,
    Done,
    /// A permanent error, or retryable errors past the retry budget: resumable once fixed.
    Failed,
}

/// What the status route answers: where a job stands and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStatus {
    pub source: String,
    pub state: ImportState,
    /// Records changed at or after this time are read.
    pub since: DateTime<Utc>,
    /// Whether this job went on from a stopped one (its counts include the earlier pages).
    pub resumed: bool,
    /// Pages committed.
    pub pages: u64,
    /// Records read (checkouts, orders, quotes).
    pub records: u64,
    /// Records the whole import reads, when the platform counts them.
    pub total: Option<u64>,
    /// Events handed to the engine.
    pub events: u64,
    /// Carts created or updated.
    pub carts: u64,
    /// Orders recorded for the first time.
    pub orders: u64,
    /// Events already known (a second run, or a record also delivered by webhook).
    pub unchanged: u64,
    /// Carts stored but older than every flow's `max_cart_age`: never reminded.
    pub too_old: u64,
    /// Events the checks left out.
    pub skipped: u64,
    /// Retryable errors waited out.
    pub retries: u64,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What is kept with the cursor: where the next page starts and the counts so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    since: DateTime<Utc>,
    at: Option<String>,
    pages: u64,
    records: u64,
    total: Option<u64>,
    events: u64,
    carts: u64,
    orders: u64,
    unchanged: u64,
    too_old: u64,
    skipped: u64,
}

impl Saved {
    fn of(status: &ImportStatus, at: Option<String>) -> Saved {
        Saved {
            since: status.since,
            at,
            pages: status.pages,
            records: status.records,
            total: status.total,
            events: status.events,
            carts: status.carts,
            orders: status.orders,
            unchanged: status.unchanged,
            too_old: status.too_old,
            skipped: status.skipped,
        }
    }

    fn status(&self, source: &str, now: DateTime<Utc>) -> ImportStatus {
        ImportStatus {
            source: source.to_string(),
            state: ImportState::Stopped,
            since: self.since,
            resumed: true,
            pages: self.pages,
            records: self.records,
            total: self.total,
            events: self.events,
            carts: self.carts,
            orders: self.orders,
            unchanged: self.unchanged,
            too_old: self.too_old,
            skipped: self.skipped,
            retries: 0,
            error: None,
            started_at: now,
            finished_at: None,
        }
    }
}

/// Whether a configured source can import, and if not why.
#[derive(Debug, Clone)]
pub enum Importable {
    Yes(Arc<dyn Importer>),
    /// The reason (its type cannot import, or the settings an import needs are missing).
    No(String),
}

/// Why an import did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no source {0:?}")]
    UnknownSource(String),
    #[error("{0}")]
    CannotImport(String),
    #[error("an import of source {:?} is already running", .0.source)]
    Running(Box<ImportStatus>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How retryable errors are waited out.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Retryable errors in a row before the job fails.
    pub attempts: u32,
    /// The first wait when the platform names none (doubled each time).
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 8,
            first_wait: Duration::from_secs(2),
            max_wait: Duration::from_secs(120),
        }
    }
}

struct Job {
    status: Mutex<ImportStatus>,
    stop: tokio::sync::watch::Sender<bool>,
    finished: tokio::sync::watch::Sender<bool>,
}

impl Job {
    fn snapshot(&self) -> ImportStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut ImportStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// The hub's import jobs: the configured sources' importers and the jobs started on this instance.
pub struct Imports {
    engine: Arc<Engine>,
    sources: BTreeMap<String, Importable>,
    /// The connector types that can import (for the answer to a source that cannot).
    types: Vec<&'static str>,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    pub retry: Retry,
}

impl std::fmt::Debug for Imports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imports")
            .field("sources", &self.sources.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Imports {
    pub fn new(
        engine: Arc<Engine>,
        sources: BTreeMap<String, Importable>,
        types: Vec<&'static str>,
    ) -> Imports {
        Imports {
            engine,
            sources,
            types,
            jobs: Mutex::new(HashMap::new()),
            retry: Retry::default(),
        }
    }

    /// An import registry with no source (a hub built without a configuration).
    pub fn none(engine: Arc<Engine>) -> Imports {
        Imports::new(engine, BTreeMap::new(), Vec::new())
    }

    fn importer(&self, source_id: &str) -> Result<Arc<dyn Importer>, StartError> {
        match self.sources.get(source_id) {
            None => Err(StartError::UnknownSource(source_id.to_string())),
            Some(Importable::Yes(i)) => Ok(i.clone()),
            Some(Importable::No(reason)) => Err(StartError::CannotImport(format!(
                "source {source_id:?} cannot import: {reason} (types that can: {})",
                self.types.join(", ")
            ))),
        }
    }

    fn job(&self, source_id: &str) -> Option<Arc<Job>> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(source_id)
            .cloned()
    }

    /// Starts an import of `source_id` of what changed at or after `since`; a stopped or failed
    /// one (its cursor kept) resumes where it stood, with its own `since`, unless `restart`.
    pub async fn start(
        self: &Arc<Self>,
        source_id: &str,
        since: DateTime<Utc>,
        restart: bool,
    ) -> Result<ImportStatus, StartError> {
        let importer = self.importer(source_id)?;
        if let Some(job) = self.job(source_id) {
            let status = job.snapshot();
            if status.state == ImportState::Running {
                return Err(StartError::Running(Box::new(status)));
            }
        }
        let key = cursor_key(source_id);
        let now = self.engine.clock.now();
        if restart {
            self.engine.store.clear_poll_cursor(&key).await?;
        }
        let saved = match self.engine.store.poll_cursor(&key).await? {
            Some(raw) => match serde_json::from_str::<Saved>(&raw) {
                Ok(s) => Some(s),
                Err(err) => {
                    tracing::warn!(%source_id, error = %err, "Import cursor unreadable; starting over.");
                    None
                }
            },
            None => None,
        };
        let (status, at) = match saved {
            Some(s) => {
                let mut status = s.status(source_id, now);
                status.state = ImportState::Running;
                (status, s.at)
            }
            None => (
                ImportStatus {
                    source: source_id.to_string(),
                    state: ImportState::Running,
                    since,
                    resumed: false,
                    pages: 0,
                    records: 0,
                    total: None,
                    events: 0,
                    carts: 0,
                    orders: 0,
                    unchanged: 0,
                    too_old: 0,
                    skipped: 0,
                    retries: 0,
                    error: None,
                    started_at: now,
                    finished_at: None,
                },
                None,
            ),
        };
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (finished, _) = tokio::sync::watch::channel(false);
        let job = Arc::new(Job {
            status: Mutex::new(status.clone()),
            stop,
            finished,
        });
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(other) = jobs.get(source_id) {
                let s = other.snapshot();
                if s.state == ImportState::Running {
                    return Err(StartError::Running(Box::new(s)));
                }
            }
            jobs.insert(source_id.to_string(), job.clone());
        }
        tracing::info!(%source_id, since = %status.since, resumed = status.resumed, "Import started.");
        let this = self.clone();
        let id = source_id.to_string();
        tokio::spawn(async move {
            this.run(&id, importer.as_ref(), &job, at, stop_rx).await;
            let s = job.snapshot();
            tracing::info!(
                source_id = %id, state = ?s.state, pages = s.pages, events = s.events,
                carts = s.carts, orders = s.orders, too_old = s.too_old, "Import ended."
            );
            job.finished.send_replace(true);
        });
        Ok(status)
    }

    /// The import of `source_id`: the job started on this instance, else a stopped one kept in the
    /// store (resumable), else `None`.
    pub async fn status(&self, source_id: &str) -> Result<Option<ImportStatus>, StartError> {
        if !self.sources.contains_key(source_id) {
            return Err(StartError::UnknownSource(source_id.to_string()));
        }
        if let Some(job) = self.job(source_id) {
            return Ok(Some(job.snapshot()));
        }
        let saved = self
            .engine
            .store
            .poll_cursor(&cursor_key(source_id))
            .await?;
        let now = self.engine.clock.now();
        Ok(saved
            .and_then(|raw| serde_json::from_str::<Saved>(&raw).ok())
            .map(|s| s.status(source_id, now)))
    }

    /// Asks the running import of `source_id` to stop after its current page; its status (still
    /// `running` until that page is committed), or `None` when none runs.
    pub fn stop(&self, source_id: &str) -> Option<ImportStatus> {
        let job = self.job(source_id)?;
        job.stop.send_replace(true);
        Some(job.snapshot())
    }

    /// Waits until the job of `source_id` (if any) has ended; its status.
    pub async fn wait(&self, source_id: &str) -> Option<ImportStatus> {
        let job = self.job(source_id)?;
        let mut rx = job.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
        Some(job.snapshot())
    }

    /// Stops every running job after its current page and waits for them (the hub stopping).
    pub async fn stop_all(&self) {
        let jobs: Vec<(String, Arc<Job>)> = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (_, job) in &jobs {
            job.stop.send_replace(true);
        }
        for (id, _) in &jobs {
            self.wait(id).await;
        }
    }

    async fn run(
        &self,
        source_id: &str,
        importer: &dyn Importer,
        job: &Job,
        mut at: Option<String>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let key = cursor_key(source_id);
        let since = job.snapshot().since;
        let mut failures = 0u32;
        let end = |job: &Job, state: ImportState, error: Option<String>| {
            let now = self.engine.clock.now();
            job.update(|s| {
                s.state = state;
                s.error = error;
                s.finished_at = Some(now);
            });
        };
        loop {
            if *stop.borrow() {
                self.save_counts(source_id, job, at.clone()).await;
                return end(job, ImportState::Stopped, None);
            }
            let now = self.engine.clock.now();
            let page = match importer.page(source_id, at.as_deref(), since, now).await {
                Ok(p) => p,
                Err(PollError::Permanent { reason }) => {
                    self.save_counts(source_id, job, at.clone()).await;
                    return end(job, ImportState::Failed, Some(reason));
                }
                Err(PollError::Retryable {
                    reason,
                    retry_after,
                }) => {
                    failures += 1;
                    if failures > self.retry.attempts {
                        self.save_counts(source_id, job, at.clone()).await;
                        return end(
                            job,
                            ImportState::Failed,
                            Some(format!("{reason} ({failures} tries)")),
                        );
                    }
                    let backoff = self
                        .retry
                        .first_wait
                        .saturating_mul(1 << (failures - 1).min(16));
                    let wait = retry_after.unwrap_or(backoff).min(self.retry.max_wait);
                    tracing::warn!(%source_id, %reason, wait_ms = wait.as_millis() as u64, "Import page failed; retrying.");
                    job.update(|s| s.retries += 1);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            };
            failures = 0;
            let more = page.batch.more;
            let next = page.batch.cursor.clone();
            let events = page.batch.events;
            let mut counted = job.snapshot();
            counted.pages += 1;
            counted.records += page.records;
            counted.total = page.total.or(counted.total);
            counted.events += events.len() as u64;
            let snapshots: HashMap<String, (DateTime<Utc>, bool)> = events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::CartUpdated(s) | EventKind::CheckoutStarted(s) => {
                        Some((e.event_id.clone(), (s.updated_at, s.completed_at.is_some())))
                    }
                    _ => None,
                })
                .collect();
            let oldest = self.oldest_remindable(now);
            let cursor = serde_json::to_string(&Saved::of(&counted, next.clone()))
                .expect("the import cursor serializes");
            let arrival = Arrival {
                source_id,
                delivery_ids: &[],
                events,
                received_at: now,
                trust: Trust::Verified,
            };
            let accepted = match self
                .engine
                .accept_with_cursor(arrival, &key, Some(&cursor))
                .await
            {
                Ok(a) => a,
                Err(err) => {
                    return end(
                        job,
                        ImportState::Failed,
                        Some(format!("could not store a page: {err}")),
                    )
                }
            };
            counted.skipped += accepted.events_dropped as u64;
            if let IngestOutcome::Accepted { effects } = &accepted.outcome {
                for effect in effects {
                    match &effect.kind {
                        EffectKind::CartUpserted { stale: false, .. } => {
                            counted.carts += 1;
                            let old = snapshots.get(&effect.event_id).is_some_and(
                                |(updated, completed)| {
                                    !completed && oldest.is_some_and(|o| *updated < o)
                                },
                            );
                            if old {
                                counted.too_old += 1;
                            }
                        }
                        EffectKind::OrderRecorded { new: true, .. } => counted.orders += 1,
                        EffectKind::DuplicateEvent
                        | EffectKind::CartUpserted { stale: true, .. }
                        | EffectKind::OrderRecorded { new: false, .. } => counted.unchanged += 1,
                        _ => {}
                    }
                }
            }
            // The cursor committed with the page holds this page's reads, not yet its effects:
            // the next page's commit carries them, and a stop writes them (`save_counts`).
            job.update(|s| *s = counted.clone());
            metrics::counter!("cartback_imported_events_total", "source" => source_id.to_string())
                .increment(accepted_len(&accepted.outcome));
            if !more {
                if let Err(err) = self.finish(&key).await {
                    tracing::warn!(%source_id, error = %err, "Could not forget the finished import's cursor.");
                }
                return end(job, ImportState::Done, None);
            }
            at = next;
        }
    }

    /// Writes the counts as they stand with the cursor `at` (no event), so a resumed job goes on
    /// from them; nothing before the first page.
    async fn save_counts(&self, source_id: &str, job: &Job, at: Option<String>) {
        let status = job.snapshot();
        if status.pages == 0 {
            return;
        }
        let cursor =
            serde_json::to_string(&Saved::of(&status, at)).expect("the import cursor serializes");
        let arrival = Arrival {
            source_id,
            delivery_ids: &[],
            events: Vec::new(),
            received_at: self.engine.clock.now(),
            trust: Trust::Verified,
        };
        let key = cursor_key(source_id);
        if let Err(err) = self
            .engine
            .accept_with_cursor(arrival, &key, Some(&cursor))
            .await
        {
            tracing::warn!(%source_id, error = %err, "Could not save the import's counts.");
        }
    }

    async fn finish(&self, key: &str) -> StoreResult<bool> {
        self.engine.store.clear_poll_cursor(key).await
    }

    /// The time before which a cart's last activity is too old for every abandonment flow (the
    /// largest `max_cart_age`); `None` without such a flow.
    fn oldest_remindable(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let live = self.engine.live();
        live.flows
            .values()
            .filter(|f| f.enabled() && f.settings.trigger.on_abandonment())
            .map(|f| f.settings.max_cart_age.0)
            .max()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .and_then(|d| now.checked_sub_signed(d))
    }
}

fn accepted_len(outcome: &IngestOutcome) -> u64 {
    match outcome {
        IngestOutcome::Accepted { effects } => effects.len() as u64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_duration_before_now_a_time_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_since("30d", now).unwrap().to_rfc3339(),
            "2026-10-29T12:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-01T08:00:00+01:00", now)
                .unwrap()
                .to_rfc3339(),
            "2026-11-01T07:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-01", now).unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert!(parse_since("lately", now).unwrap_err().contains("30d"));
    }
}
