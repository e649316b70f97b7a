//! SQLite's threads: the group-commit **writer** (every write is a job; each job in its own
//! savepoint, the group committed once), the **syncer** (flushes the WAL before any caller is
//! answered) and the **checkpointer** (copies the WAL back without stopping the writer).

use crate::exec::{BoxFut, Exec, Lite};
use std::time::Duration;

/// One piece of work for SQLite's writer thread.
pub(crate) type WriteJob = Box<dyn for<'c> FnOnce(&'c mut dyn Exec) -> BoxFut<'c, Done> + Send>;

/// What a job did: keep its savepoint or undo it; and how to answer its caller once the group
/// commit is known (`Some(error)` if it failed).
pub(crate) struct Done {
    pub(crate) keep: bool,
    pub(crate) deliver: Answer,
}

/// SQLite has one writer, and a durable commit is an fsync. Two threads share the work:
///
/// - the **writer** owns its own connection (rusqlite, prepared statements cached), takes every
///   job waiting, runs each in its own savepoint (one failing job never spoils the others) and
///   commits once, with `synchronous = NORMAL`: the commit is written to the WAL but not yet
///   flushed to disk. Every statement runs on this thread: no hop per statement.
/// - the **syncer** then `fdatasync`s the WAL, which makes every commit written so far durable,
///   and only then answers each caller. While it waits on the disk, the writer already runs the
///   next group: one flush covers every commit made in the meantime.
///
/// So a caller still hears "done" only once its commit is on disk (a 2xx means durable), and a
/// group's fsync no longer stalls the next group. Under load N commits share one flush; alone, a
/// job waits for nobody.
/// A scratch database (`durable` false) is answered by the writer itself: nothing waits for a
/// flush that never comes.
pub(crate) fn group_writer(
    mut lite: Lite,
    mut rx: tokio::sync::mpsc::Receiver<WriteJob>,
    synced: std::sync::mpsc::Sender<Vec<Answer>>,
    wal: std::path::PathBuf,
    durable: bool,
) {
    fn step(lite: &Lite, sql: &str) -> Result<(), String> {
        lite.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    let mut groups: u64 = 0;
    while let Some(first) = rx.blocking_recv() {
        groups += 1;
        if groups.is_multiple_of(32) {
            bound_wal(&lite, &wal);
        }
        let mut jobs = vec![first];
        while jobs.len() < 1024 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(jobs.len());
        let mut failure = step(&lite, "BEGIN IMMEDIATE").err();
        if failure.is_none() {
            for job in jobs {
                if let Err(e) = step(&lite, "SAVEPOINT job") {
                    failure = Some(e);
                    break;
                }
                // A job that panics (a bug) is undone and its caller hears "not committed";
                // the writer and the other jobs of the group carry on.
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    futures::executor::block_on(job(&mut lite))
                }));
                let keep = done.as_ref().is_ok_and(|d| d.keep);
                let undone = if keep {
                    Ok(())
                } else {
                    step(&lite, "ROLLBACK TO SAVEPOINT job")
                };
                if let Ok(done) = done {
                    answers.push(done.deliver);
                }
                if let Err(e) = undone.and_then(|()| step(&lite, "RELEASE SAVEPOINT job")) {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none() {
            failure = step(&lite, "COMMIT").err();
        }
        if let Some(e) = &failure {
            tracing::error!(error = %e, "A group commit failed; its writes were not kept.");
            let _ = lite.conn.execute_batch("ROLLBACK");
            // Jobs never reached are dropped: their callers hear "not committed".
            for deliver in answers {
                deliver(Some(e));
            }
            continue;
        }
        if !durable {
            for deliver in answers {
                deliver(None);
            }
            continue;
        }
        if let Err(std::sync::mpsc::SendError(answers)) = synced.send(answers) {
            for deliver in answers {
                deliver(Some("the WAL syncer has stopped"));
            }
        }
    }
}

/// Under sustained writes the checkpointer never quite catches up, and the WAL can only start over
/// once every frame is copied back. Past [`WAL_SOFT_LIMIT`] the writer finishes the copy itself,
/// between two groups (the checkpointer has done most of it), so the next group starts the WAL
/// from the beginning and `journal_size_limit` trims the file.
pub(crate) fn bound_wal(lite: &Lite, wal: &std::path::Path) {
    let big = std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_SOFT_LIMIT);
    if big {
        if let Err(e) = lite
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::warn!(error = %e, "WAL checkpoint failed; it is retried.");
        }
    }
}

/// The WAL size past which the writer completes a checkpoint itself.
pub(crate) const WAL_SOFT_LIMIT: u64 = 64 * 1024 * 1024;

/// An answer waiting for its commit to be durable.
pub(crate) type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// Flushes SQLite's WAL file to disk, then answers every caller whose commit it covers, and
/// tells the checkpointer there is something to copy.
pub(crate) fn wal_syncer(
    wal: std::path::PathBuf,
    rx: std::sync::mpsc::Receiver<Vec<Answer>>,
    wrote: std::sync::mpsc::Sender<()>,
) {
    let mut file: Option<std::fs::File> = None;
    while let Ok(first) = rx.recv() {
        let mut answers = first;
        while let Ok(more) = rx.try_recv() {
            answers.extend(more);
        }
        if file.is_none() {
            file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&wal)
                .ok();
        }
        let flushed = match &file {
            Some(f) => f
                .sync_data()
                .map_err(|e| format!("flushing {}: {e}", wal.display())),
            None => Err(format!("cannot open {}", wal.display())),
        };
        if let Err(e) = &flushed {
            tracing::error!(error = %e, "Could not make a group commit durable.");
            file = None;
        }
        let failure = flushed.err();
        for deliver in answers {
            deliver(failure.as_deref());
        }
        let _ = wrote.send(());
    }
}

/// Copies the WAL back into the database file from a connection of its own, so the writer never
/// stops for a checkpoint (its `wal_autocheckpoint` is off). `PASSIVE` never blocks the writer or
/// the readers; a busy moment is simply retried on the next round.
pub(crate) fn checkpointer(lite: Lite, rx: std::sync::mpsc::Receiver<()>) {
    const PAUSE: Duration = Duration::from_millis(50);
    while rx.recv().is_ok() {
        while rx.try_recv().is_ok() {}
        if let Err(e) = lite
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::warn!(error = %e, "WAL checkpoint failed; it is retried.");
        }
        std::thread::sleep(PAUSE);
    }
}
