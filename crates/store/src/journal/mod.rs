//! The ingest journal (SQLite only): how a webhook is answered at the speed of one appended,
//! flushed line, while carts, contacts, orders and timers are updated a moment later.
//!
//! # The path of one inbound request
//! 1. [`Journal::ingest`] encodes the translated request (source, delivery ids, events, when it
//!    arrived, how far it is believed) as one **record** and hands it to the journal thread.
//! 2. The **journal thread** appends every record waiting as one write to the current segment file
//!    (`<database>.ingest/<first seq>.log`), `fdatasync`s it, numbers the records (`seq`, one
//!    after another, never reused) and passes them on to the projector. The caller learns that
//!    its record is durable, and how many records are still ahead of it.
//! 3. The **projector** applies records in order, each as one job of the writer's group commit:
//!    the same transaction body as an inline ingest (delivery ids, events, cart, contact, order,
//!    debounce timer), plus `journal_state.applied_seq = seq`. A job whose predecessor is not yet
//!    applied changes nothing, so records are applied exactly once and in order, across crashes.
//! 4. The caller is answered with what the projection did (`200` and the effects, as without the
//!    journal) when fewer than `wait_below` records were ahead of it, else at once with
//!    [`IngestOutcome::Queued`] (`202`: durable, applied within moments). So a lone webhook
//!    sees its cart when it is answered, and a burst is answered as fast as it can be written.
//!
//! # Bounds
//! While a burst is arriving (more than [`BURST_RATE`] requests a second) and nobody waits for a
//! projection, the projector holds back (at most [`MAX_HOLD`] at a time, then applies a batch) so
//! the cores go to answering. Records waiting to be applied are
//! counted in bytes: past `max_pending_mb` every caller waits for its own projection, so a hub
//! fed faster than its database can apply answers at the database's pace and its disk use stays
//! bounded. A waiting record is read back from its segment when applied (the page cache keeps it
//! warm): memory holds only its place, about 100 bytes. A segment file is deleted once every record in it is applied (`SEGMENT_BYTES` each).
//!
//! # Crashes
//! At start, before anything is served, every record after the watermark is read back and applied
//! (a torn record at the end of the last segment was never acknowledged and is dropped), and the
//! old segments are deleted. A record that fails to apply five times is set aside whole in
//! `journal_failed` with its error, and the projector goes on.

use crate::model::IngestOutcome;
use crate::{Ingest, StoreError, StoreResult};
use cartback_core::{Event, Trust};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

mod settings;
pub use settings::JournalSettings;

/// A new segment file is started past this size.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Records applied per round, as jobs of the writer's group commits.
const BATCH: usize = 512;
/// Arrivals per second above which a burst is on and the projector may hold back: beyond what a
/// projector sharing the cores can apply while the same cores answer.
const BURST_RATE: f64 = 2_000.0;
/// How often the projector measures the arrival rate while it holds back.
const WINDOW: Duration = Duration::from_millis(10);
/// The longest the projector holds back at a time.
const MAX_HOLD: Duration = Duration::from_secs(1);
/// Under load, how long the journal thread waits for more records before a flush, and how many
/// it waits for at most.
const GATHER: Duration = Duration::from_micros(250);
const GATHER_UPTO: usize = 64;
/// Failed attempts after which a record is set aside in `journal_failed`.
const MAX_ATTEMPTS: u32 = 5;
/// Bytes before each record: payload length, CRC-32 of seq and payload, seq.
const HEADER: usize = 16;

/// One inbound request as the journal keeps it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub source_id: String,
    pub delivery_ids: Vec<String>,
    pub events: Vec<Event>,
    pub received_at: DateTime<Utc>,
    /// Records written before trust levels existed were all from verified sources.
    #[serde(default)]
    pub trust: Trust,
}

/// A [`Record`] as the caller has it, encoded without copying it first.
#[derive(Serialize)]
struct RecordRef<'a> {
    source_id: &'a str,
    delivery_ids: &'a [String],
    events: &'a [Event],
    received_at: DateTime<Utc>,
    trust: Trust,
}

impl Record {
    fn encode(ingest: Ingest<'_>) -> StoreResult<Vec<u8>> {
        // Most records are a few KB: one allocation, not a series of doublings.
        let mut buf = Vec::with_capacity(4096);
        serde_json::to_writer(
            &mut buf,
            &RecordRef {
                source_id: ingest.source_id,
                delivery_ids: ingest.delivery_ids,
                events: ingest.events,
                received_at: ingest.received_at,
                trust: ingest.trust,
            },
        )
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a journal record: {e}")))?;
        Ok(buf)
    }

    pub fn decode(payload: &[u8]) -> StoreResult<Record> {
        serde_json::from_slice(payload)
            .map_err(|e| StoreError::Corrupt(format!("cannot decode a journal record: {e}")))
    }

    pub fn ingest(&self) -> Ingest<'_> {
        Ingest {
            source_id: &self.source_id,
            delivery_ids: &self.delivery_ids,
            events: &self.events,
            received_at: self.received_at,
            trust: self.trust,
        }
    }
}

/// What the journal thread and the projector share.
#[derive(Debug)]
struct Shared {
    /// Records flushed and not yet applied.
    pending: AtomicU64,
    pending_bytes: AtomicU64,
    /// Callers waiting for their own record's projection.
    waiting: AtomicU64,
    /// Every record up to this one is applied (as far as the projector has heard).
    applied: AtomicU64,
    /// Requests ever handed to the journal (their rate tells a burst).
    arrivals: AtomicU64,
    max_pending_bytes: u64,
}

/// What a caller hears when its record is flushed: how many records are ahead of it.
type Flushed = Result<u64, String>;
type Applied = oneshot::Sender<StoreResult<IngestOutcome>>;

struct Append {
    payload: Vec<u8>,
    flushed: oneshot::Sender<Flushed>,
    applied: Applied,
}

/// A flushed record on its way to the database, read back and decoded when applied.
struct Entry {
    seq: u64,
    body: Body,
    applied: Option<Applied>,
    attempts: u32,
}

/// Where a record's payload is while it waits: in its segment file. The page cache keeps it warm,
/// and the caller's buffer is freed at once, so a burst does not pile up on the heap.
struct Body {
    file: Arc<std::fs::File>,
    offset: u64,
    len: u64,
}

impl Body {
    fn bytes(&self) -> StoreResult<Vec<u8>> {
        let mut buf = vec![0u8; self.len as usize];
        self.file
            .read_exact_at(&mut buf, self.offset)
            .map_err(|e| StoreError::Commit(format!("cannot read back a journal record: {e}")))?;
        Ok(buf)
    }
}

/// The handle [`SqlStore::ingest`] goes through when the journal is on.
#[derive(Debug)]
pub(crate) struct Journal {
    appends: flume::Sender<Append>,
    shared: Arc<Shared>,
    wait_below: u64,
}

/// Lowers the count of waiting callers when a wait ends, however it ends.
struct Waiting<'a>(&'a AtomicU64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Journal {
    pub(crate) async fn ingest(&self, ingest: Ingest<'_>) -> StoreResult<IngestOutcome> {
        let payload = Record::encode(ingest)?;
        let (flushed, on_flush) = oneshot::channel();
        let (applied, on_apply) = oneshot::channel();
        self.shared.arrivals.fetch_add(1, Ordering::Relaxed);
        self.appends
            .send_async(Append {
                payload,
                flushed,
                applied,
            })
            .await
            .map_err(|_| StoreError::Commit("the ingest journal has stopped".into()))?;
        let ahead = on_flush
            .await
            .map_err(|_| StoreError::Commit("the journal write was not confirmed".into()))?
            .map_err(StoreError::Commit)?;
        let full = self.shared.pending_bytes.load(Ordering::SeqCst) > self.shared.max_pending_bytes;
        if ahead >= self.wait_below && !full {
            return Ok(IngestOutcome::Queued);
        }
        self.shared.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.shared.waiting);
        // The record is durable: if the projector cannot answer, it is still applied later.
        on_apply.await.unwrap_or(Ok(IngestOutcome::Queued))
    }

    /// Records flushed and not yet applied.
    pub(crate) fn pending(&self) -> u64 {
        self.shared.pending.load(Ordering::SeqCst)
    }
}

/// What the projector needs from the database it applies records to: the SQLite store implements
/// it (`sqlite_journal.rs`), so this module does not depend on the store's.
#[async_trait::async_trait]
pub(crate) trait Projection: Clone + Send + Sync + 'static {
    /// The last record applied.
    async fn watermark(&self) -> StoreResult<u64>;
    /// Applies record `seq` (its predecessor must be applied) as one writer job; the answer comes
    /// once it is committed.
    async fn apply(
        &self,
        seq: u64,
        payload: &[u8],
    ) -> StoreResult<tokio::sync::oneshot::Receiver<StoreResult<IngestOutcome>>>;
    /// Moves the watermark to `seq` (records before it were applied by an earlier run).
    async fn skip_to(&self, seq: u64) -> StoreResult<()>;
    /// Keeps a record that cannot be applied in `journal_failed`, and moves past it.
    async fn set_aside(&self, seq: u64, record: String, error: String) -> StoreResult<()>;
}

/// The journal's folder for the SQLite database at `db_path`.
pub(crate) fn dir_for(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".ingest");
    PathBuf::from(name)
}

/// Applies whatever an earlier run left in the journal at `dir`, deletes its segments, and, when
/// `settings.enabled`, starts the journal thread and the projector.
pub(crate) async fn open<P: Projection>(
    store: &P,
    dir: &Path,
    settings: &JournalSettings,
) -> StoreResult<Option<Journal>> {
    let io = |what: &str, e: std::io::Error| {
        StoreError::Commit(format!("ingest journal {}: {what}: {e}", dir.display()))
    };
    if !settings.enabled && !dir.exists() {
        return Ok(None);
    }
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create it", e))?;
    let lock = lock(dir).await.map_err(|e| io("cannot lock it", e))?;
    let old = segments(dir).map_err(|e| io("cannot list it", e))?;
    let mut applied = store.watermark().await?;
    let mut last_seq = applied;
    let mut queue = VecDeque::new();
    let mut bytes = 0u64;
    for (_, path) in &old {
        for (seq, body) in read_segment(path).map_err(|e| io("cannot read a segment", e))? {
            last_seq = last_seq.max(seq);
            if seq <= applied {
                continue;
            }
            bytes += body.len;
            queue.push_back(Entry {
                seq,
                body,
                applied: None,
                attempts: 0,
            });
        }
    }
    let shared = Arc::new(Shared {
        pending: AtomicU64::new(queue.len() as u64),
        pending_bytes: AtomicU64::new(bytes),
        waiting: AtomicU64::new(0),
        applied: AtomicU64::new(applied),
        arrivals: AtomicU64::new(0),
        max_pending_bytes: u64::from(settings.max_pending_mb) * 1024 * 1024,
    });
    if !queue.is_empty() {
        tracing::info!(
            records = queue.len(),
            "Applying the ingest journal left by the last run."
        );
    }
    while !queue.is_empty() {
        if let Some(seq) = queue.front().map(|e| e.seq) {
            if seq > applied + 1 {
                tracing::error!(
                    from = applied + 1,
                    to = seq - 1,
                    "Ingest journal records are unreadable (damaged on disk); they are skipped."
                );
                store.skip_to(seq - 1).await?;
            }
        }
        apply_round(store, &mut queue, &shared).await;
        applied = shared.applied.load(Ordering::SeqCst);
        if let Some(stuck) = queue.front().filter(|e| e.attempts > MAX_ATTEMPTS) {
            // Not even set aside: the database refuses writes. Starting would serve on top of it.
            return Err(StoreError::Commit(format!(
                "ingest journal record {} can be neither applied nor set aside; see the log",
                stuck.seq
            )));
        }
    }
    for (_, path) in &old {
        std::fs::remove_file(path).map_err(|e| io("cannot delete an applied segment", e))?;
    }
    if !settings.enabled {
        drop(lock);
        let _ = std::fs::remove_file(dir.join("LOCK"));
        let _ = std::fs::remove_dir(dir);
        return Ok(None);
    }
    let next = last_seq.max(applied) + 1;
    let (path, file) = new_segment(dir, next).map_err(|e| io("cannot start a segment", e))?;
    let (appends, rx) = flume::bounded(4096);
    let (to_project, projected) = tokio::sync::mpsc::unbounded_channel();
    {
        let shared = shared.clone();
        let dir = dir.to_path_buf();
        std::thread::Builder::new()
            .name("cartback-journal".into())
            .spawn(move || {
                JournalThread {
                    _lock: lock,
                    dir,
                    file,
                    len: 0,
                    zeroed: 0,
                    broken: None,
                    segments: VecDeque::from([(next, path)]),
                    next_seq: next,
                    shared,
                    to_project,
                }
                .run(rx)
            })
            .map_err(|e| io("cannot start the journal thread", e))?;
    }
    tokio::spawn(project(store.clone(), projected, shared.clone()));
    Ok(Some(Journal {
        appends,
        shared,
        wait_below: u64::from(settings.wait_below),
    }))
}

/// Locks the journal folder: two stores appending to, and deleting, the same segments would lose
/// records. A store closing in this process lets go within moments, so the lock is awaited a little.
async fn lock(dir: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::other(
                    "another cartback process is using this database",
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Segment files in `dir`, oldest first, with the seq each starts at.
fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let first = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(first) = first {
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The records of one segment (each seq, and where its payload is), in order, up to the first one
/// that is torn or damaged; read through once to check them, not kept in memory.
fn read_segment(path: &Path) -> std::io::Result<Vec<(u64, Body)>> {
    let file = Arc::new(std::fs::File::open(path)?);
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file.as_ref());
    let mut out = Vec::new();
    let mut at = 0u64;
    let mut header = [0u8; HEADER];
    let mut payload = Vec::new();
    loop {
        if let Err(e) = reader.read_exact(&mut header) {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                break; // the end of the file
            }
            return Err(e);
        }
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().unwrap_or([0; 4]));
        let (len, crc) = (word(0), word(4));
        if len == 0 && crc == 0 {
            break; // the zeros written ahead: the end of the records
        }
        payload.resize(len as usize, 0);
        let whole = reader.read_exact(&mut payload).is_ok();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&header[8..]);
        hasher.update(&payload);
        if !whole || hasher.finalize() != crc {
            tracing::warn!(
                segment = %path.display(),
                offset = at,
                "The ingest journal ends in a torn record (never acknowledged); it is dropped."
            );
            break;
        }
        let seq = u64::from_le_bytes(header[8..].try_into().unwrap_or([0; 8]));
        out.push((
            seq,
            Body {
                file: file.clone(),
                offset: at + HEADER as u64,
                len: u64::from(len),
            },
        ));
        at += HEADER as u64 + u64::from(len);
    }
    Ok(out)
}

fn new_segment(dir: &Path, first: u64) -> std::io::Result<(PathBuf, Arc<std::fs::File>)> {
    let path = dir.join(format!("{first:020}.log"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    // The new name must survive a power loss as much as what is written in it.
    std::fs::File::open(dir)?.sync_all()?;
    Ok((path, Arc::new(file)))
}

struct JournalThread {
    /// Held while the thread runs: one process, one store, per journal.
    _lock: std::fs::File,
    dir: PathBuf,
    /// The current segment, shared with the entries that read their records back from it.
    file: Arc<std::fs::File>,
    len: u64,
    /// Segment files not yet deleted, oldest first, with their first seq; the last is `file`.
    segments: VecDeque<(u64, PathBuf)>,
    next_seq: u64,
    /// Bytes of the segment known to hold zeros or records (see `zero_ahead`).
    zeroed: u64,
    /// Set when a failed write could not be undone: every later group is refused.
    broken: Option<String>,
    shared: Arc<Shared>,
    to_project: tokio::sync::mpsc::UnboundedSender<Entry>,
}

impl JournalThread {
    fn run(mut self, rx: flume::Receiver<Append>) {
        let mut buf = Vec::with_capacity(1 << 20);
        let mut last_group = 0;
        loop {
            let first = match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(a) => a,
                Err(flume::RecvTimeoutError::Timeout) => {
                    self.prune();
                    continue;
                }
                Err(flume::RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = vec![first];
            // Under load (the last group had company), wait a moment for more: one flush for
            // many records costs the cores less than many flushes for a few.
            let until = (last_group > 1).then(|| Instant::now() + GATHER);
            while batch.len() < 4096 {
                match rx.try_recv() {
                    Ok(a) => batch.push(a),
                    Err(_) => match until {
                        Some(until) if batch.len() < GATHER_UPTO => match rx.recv_deadline(until) {
                            Ok(a) => batch.push(a),
                            Err(_) => break,
                        },
                        _ => break,
                    },
                }
            }
            last_group = batch.len();
            buf.clear();
            let first_seq = self.next_seq;
            let mut offsets = Vec::with_capacity(batch.len());
            for (i, a) in batch.iter().enumerate() {
                let seq = first_seq + i as u64;
                offsets.push(self.len + (buf.len() + HEADER) as u64);
                let mut hasher = crc32fast::Hasher::new();
                hasher.update(&seq.to_le_bytes());
                hasher.update(&a.payload);
                buf.extend_from_slice(&(a.payload.len() as u32).to_le_bytes());
                buf.extend_from_slice(&hasher.finalize().to_le_bytes());
                buf.extend_from_slice(&seq.to_le_bytes());
                buf.extend_from_slice(&a.payload);
            }
            let written = match &self.broken {
                Some(e) => Err(std::io::Error::other(e.clone())),
                None => self
                    .zero_ahead(self.len + buf.len() as u64)
                    .and_then(|()| self.file.write_all_at(&buf, self.len))
                    .and_then(|()| self.file.sync_data()),
            };
            if let Err(e) = written {
                let e = format!("writing the ingest journal: {e}");
                tracing::error!(error = %e, "Could not make journal records durable.");
                // Whatever part of the group reached the file is zeroed again, so a restart
                // finds the journal ending at the last acknowledged record; the next group
                // takes the same place and the same numbers. If even that fails, every later
                // request is refused (and redelivered by its platform) until a restart.
                if self.broken.is_none() {
                    let zeros = vec![0u8; buf.len()];
                    if let Err(z) = self
                        .file
                        .write_all_at(&zeros, self.len)
                        .and_then(|()| self.file.sync_data())
                    {
                        tracing::error!(error = %z, "The ingest journal cannot be repaired; webhooks are refused until a restart.");
                        self.broken = Some(e.clone());
                    }
                }
                for a in batch {
                    let _ = a.flushed.send(Err(e.clone()));
                }
                continue;
            }
            self.len += buf.len() as u64;
            self.next_seq += batch.len() as u64;
            let bytes: u64 = batch.iter().map(|a| a.payload.len() as u64).sum();
            self.shared
                .pending
                .fetch_add(batch.len() as u64, Ordering::SeqCst);
            self.shared.pending_bytes.fetch_add(bytes, Ordering::SeqCst);
            let applied = self.shared.applied.load(Ordering::SeqCst);
            for (i, (a, offset)) in batch.into_iter().zip(offsets).enumerate() {
                let seq = first_seq + i as u64;
                let entry = Entry {
                    seq,
                    body: Body {
                        file: self.file.clone(),
                        offset,
                        len: a.payload.len() as u64,
                    },
                    applied: Some(a.applied),
                    attempts: 0,
                };
                if self.to_project.send(entry).is_err() {
                    // The runtime is shutting down: the record is on disk and is applied at the
                    // next start.
                    let _ = a.flushed.send(Err("the hub is stopping".into()));
                    continue;
                }
                let _ = a.flushed.send(Ok(seq.saturating_sub(applied + 1)));
            }
            if self.len >= SEGMENT_BYTES {
                if let Err(e) = self.rotate() {
                    tracing::error!(error = %e, "Could not start a new journal segment; the current one grows.");
                }
            }
            self.prune();
        }
    }

    /// Keeps zeros written ahead of the records (a few MiB at a time), so flushing a group only
    /// writes data blocks: no change of size or block map for the filesystem to journal first.
    /// A reader stops at the first all-zero header.
    fn zero_ahead(&mut self, upto: u64) -> std::io::Result<()> {
        const STEP: u64 = 4 * 1024 * 1024;
        if upto <= self.zeroed {
            return Ok(());
        }
        let zeros = vec![0u8; 1024 * 1024];
        let target = upto.div_ceil(STEP) * STEP;
        while self.zeroed < target {
            self.file.write_all_at(&zeros, self.zeroed)?;
            self.zeroed += zeros.len() as u64;
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let (path, file) = new_segment(&self.dir, self.next_seq)?;
        self.file = file;
        self.len = 0;
        self.zeroed = 0;
        self.segments.push_back((self.next_seq, path));
        Ok(())
    }

    /// Deletes the segments whose every record is applied.
    fn prune(&mut self) {
        let applied = self.shared.applied.load(Ordering::SeqCst);
        while self.segments.len() > 1 && self.segments[1].0 <= applied + 1 {
            if let Some((_, path)) = self.segments.pop_front() {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(segment = %path.display(), error = %e, "Could not delete an applied journal segment.");
                }
            }
        }
    }
}

/// The projector: applies flushed records in order until the journal thread stops.
async fn project<P: Projection>(
    store: P,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Entry>,
    shared: Arc<Shared>,
) {
    let mut queue = VecDeque::new();
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(e) => queue.push_back(e),
                None => return,
            }
        }
        while let Ok(e) = rx.try_recv() {
            queue.push_back(e);
        }
        // While a burst is arriving and nobody waits for a projection, the cores answer webhooks.
        let held = Instant::now();
        let mut mark = (held, shared.arrivals.load(Ordering::Relaxed));
        while shared.waiting.load(Ordering::SeqCst) == 0
            && shared.pending_bytes.load(Ordering::SeqCst) < shared.max_pending_bytes / 2
            && held.elapsed() < MAX_HOLD
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
            while let Ok(e) = rx.try_recv() {
                queue.push_back(e);
            }
            let elapsed = mark.0.elapsed();
            if elapsed >= WINDOW {
                let now = shared.arrivals.load(Ordering::Relaxed);
                if (now - mark.1) as f64 / elapsed.as_secs_f64() < BURST_RATE {
                    break;
                }
                mark = (Instant::now(), now);
            }
        }
        apply_round(&store, &mut queue, &shared).await;
    }
}

/// Applies up to [`BATCH`] records from the front of `queue`. A record that fails stays at the
/// front (its caller, if waiting, hears [`IngestOutcome::Queued`]) and is retried after a pause;
/// after [`MAX_ATTEMPTS`] it is set aside in `journal_failed`.
async fn apply_round<P: Projection>(store: &P, queue: &mut VecDeque<Entry>, shared: &Shared) {
    // Only records that follow one another (a replay may find a gap; see `open`).
    let mut n = 0;
    while n < queue.len().min(BATCH) && (n == 0 || queue[n].seq == queue[n - 1].seq + 1) {
        n += 1;
    }
    let mut answers = Vec::with_capacity(n);
    for entry in queue.iter().take(n) {
        let answer = match entry.body.bytes() {
            Ok(bytes) => store.apply(entry.seq, &bytes).await,
            Err(e) => Err(e),
        };
        answers.push(answer);
    }
    let mut failure = None;
    for answer in answers {
        let result = match answer {
            Ok(rx) => rx
                .await
                .unwrap_or_else(|_| Err(StoreError::Commit("the write was dropped".into()))),
            Err(e) => Err(e),
        };
        match result {
            Ok(outcome) if failure.is_none() => {
                if let Some(entry) = queue.pop_front() {
                    done(shared, &entry);
                    if let Some(tx) = entry.applied {
                        let _ = tx.send(Ok(outcome));
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                // Later jobs of the round find their predecessor missing and change nothing.
                failure.get_or_insert(e);
            }
        }
    }
    let Some(error) = failure else { return };
    let Some(entry) = queue.front_mut() else {
        return;
    };
    entry.attempts += 1;
    if let Some(tx) = entry.applied.take() {
        let _ = tx.send(Ok(IngestOutcome::Queued));
    }
    tracing::warn!(seq = entry.seq, attempt = entry.attempts, error = %error, "Could not apply an ingest journal record; it is retried.");
    if entry.attempts >= MAX_ATTEMPTS {
        let record = entry
            .body
            .bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        match store.set_aside(entry.seq, record, error.to_string()).await {
            Ok(()) => {
                tracing::error!(seq = entry.seq, error = %error, "An ingest journal record was set aside in journal_failed.");
                if let Some(entry) = queue.pop_front() {
                    done(shared, &entry);
                }
                return;
            }
            Err(e) => {
                tracing::error!(seq = entry.seq, error = %e, "Could not set aside an ingest journal record.")
            }
        }
    }
    let pause = Duration::from_millis(100 << entry.attempts.min(5));
    tokio::time::sleep(pause).await;
}

fn done(shared: &Shared, entry: &Entry) {
    shared.applied.fetch_max(entry.seq, Ordering::SeqCst);
    shared.pending.fetch_sub(1, Ordering::SeqCst);
    shared
        .pending_bytes
        .fetch_sub(entry.body.len, Ordering::SeqCst);
}
