//! SQLite's ingest journal: answers, exactly-once application, and what a restart finds.
//! (Every test of `suite.rs` also runs with the journal on: `sqlite_journal`.)
#![allow(clippy::unwrap_used)]

use cartback_core::{CartSnapshot, Currency, Event, EventKind, LineItem, Money};
use cartback_store::journal::JournalSettings;
use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use cartback_store::{Backend, CartFilter, Ingest, IngestOutcome, SqlStore, Store};
use chrono::{DateTime, TimeZone, Utc};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").unwrap())
}

fn checkout(id: &str, key: &str, qty: u32) -> Event {
    Event {
        source_id: "shop".into(),
        event_id: id.into(),
        topic: "checkouts/update".into(),
        occurred_at: t(0),
        kind: EventKind::CheckoutStarted(CartSnapshot {
            key: key.into(),
            cart_token: Some(key.into()),
            checkout_token: None,
            platform_id: None,
            contact: None,
            items: vec![LineItem {
                product_id: Some("1".into()),
                variant_id: Some("1".into()),
                sku: None,
                title: "Mug".into(),
                variant_title: None,
                quantity: qty,
                unit_price: usd(1250),
                line_price: usd(1250 * i64::from(qty)),
                url: None,
                image_url: None,
            }],
            currency: Currency::parse("USD").unwrap(),
            subtotal: None,
            total: usd(1250 * i64::from(qty)),
            recovery_url: None,
            updated_at: t(i64::from(qty)),
            completed_at: None,
        }),
    }
}

async fn send(store: &SqlStore, delivery: &str, event: Event) -> IngestOutcome {
    let ids = vec![delivery.to_string()];
    store
        .ingest(Ingest {
            source_id: "shop",
            delivery_ids: &ids,
            events: &[event],
            received_at: t(0),
            trust: cartback_core::Trust::Verified,
        })
        .await
        .unwrap()
}

fn settings(wait_below: u32) -> JournalSettings {
    JournalSettings {
        wait_below,
        ..Default::default()
    }
}

async fn sqlite(journal: JournalSettings) -> TestDb {
    TestDb::new(Backend::Sqlite)
        .await
        .unwrap()
        .with_journal(journal)
}

fn all() -> CartFilter {
    CartFilter {
        limit: 500,
        ..Default::default()
    }
}

async fn drained(store: &SqlStore) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.ingest_backlog() > 0 {
        assert!(Instant::now() < deadline, "the journal was not applied");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Rows of `table` in the test database, read around the store.
fn count(db: &TestDb, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(db_file(db)).unwrap();
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn db_file(db: &TestDb) -> PathBuf {
    db.dir().unwrap().join("test.db")
}

fn journal_dir(db: &TestDb) -> PathBuf {
    db.dir().unwrap().join("test.db.ingest")
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_lone_webhook_is_answered_with_its_effects() {
    let db = sqlite(settings(32)).await;
    let store = db.open().await.unwrap();
    let IngestOutcome::Accepted { effects } = send(&store, "d1", checkout("e1", "k1", 1)).await
    else {
        panic!("a lone webhook waits for its projection");
    };
    assert_eq!(effects.len(), 1);
    assert_eq!(store.ingest_backlog(), 0);
    let carts = store.carts(&all()).await.unwrap();
    assert_eq!(carts.len(), 1, "its cart is there when it is answered");
    assert_eq!(
        send(&store, "d1", checkout("e1", "k1", 1)).await,
        IngestOutcome::Duplicate
    );
    assert_eq!(segment_files(&journal_dir(&db)).len(), 1);
}

#[tokio::test]
async fn queued_webhooks_are_applied_once_in_order_and_redeliveries_change_nothing() {
    let db = sqlite(settings(0)).await;
    let store = db.open().await.unwrap();
    for i in 0..200u32 {
        let out = send(
            &store,
            &format!("d{i}"),
            checkout(&format!("e{i}"), &format!("k{}", i % 100), i + 1),
        )
        .await;
        assert_eq!(
            out,
            IngestOutcome::Queued,
            "nobody waits with wait_below = 0"
        );
    }
    drained(&store).await;
    let carts = store.carts(&all()).await.unwrap();
    assert_eq!(carts.len(), 100);
    for c in &carts {
        let n: u32 = c.cart.key.trim_start_matches('k').parse().unwrap();
        assert_eq!(
            c.cart.items[0].quantity,
            n + 101,
            "the later update of {} won",
            c.cart.key
        );
    }
    assert_eq!(count(&db, "events"), 200);
    // Every delivery again, while nothing waits: queued, then found to be duplicates.
    for i in 0..200u32 {
        send(
            &store,
            &format!("d{i}"),
            checkout(&format!("x{i}"), "kx", 1),
        )
        .await;
    }
    drained(&store).await;
    assert_eq!(count(&db, "events"), 200, "redeliveries changed nothing");
    assert_eq!(store.carts(&all()).await.unwrap().len(), 100);
    let applied: i64 = rusqlite::Connection::open(db_file(&db))
        .unwrap()
        .query_row("SELECT applied_seq FROM journal_state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        applied, 400,
        "every record counted once, duplicates included"
    );
}

/// Appends a record to a segment file the way the journal thread does.
fn append(file: &Path, seq: u64, delivery: &str, event: &Event) {
    let payload = serde_json::to_vec(&serde_json::json!({
        "source_id": "shop",
        "delivery_ids": [delivery],
        "events": [event],
        "received_at": t(0),
        "order_match_window_ms": 604_800_000u64,
        "cart_check_after_ms": null,
    }))
    .unwrap();
    append_raw(file, seq, payload);
}

fn append_raw(file: &Path, seq: u64, payload: Vec<u8>) {
    use std::os::unix::fs::FileExt;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&seq.to_le_bytes());
    crc.update(&payload);
    let mut record = Vec::new();
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc.finalize().to_le_bytes());
    record.extend_from_slice(&seq.to_le_bytes());
    record.extend_from_slice(&payload);
    // After the last record: the journal keeps zeros written ahead, and a header of zeros ends it.
    let bytes = std::fs::read(file).unwrap_or_default();
    let mut at = 0;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        at += 16 + len;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(file)
        .unwrap();
    f.write_all_at(&record, at as u64).unwrap();
}

#[tokio::test]
async fn records_left_by_a_crash_are_applied_once_at_the_next_start() {
    let db = sqlite(settings(32)).await;
    // A first run applies records 1 and 2, then "crashes" with 3..=5 flushed but not applied,
    // and record 6 torn half-way through its write (it was never acknowledged).
    {
        let store = db.open().await.unwrap();
        send(&store, "d1", checkout("e1", "k1", 1)).await;
        send(&store, "d2", checkout("e2", "k2", 1)).await;
        store.close().await;
    }
    let dir = journal_dir(&db);
    let old = segment_files(&dir);
    assert_eq!(old.len(), 1);
    append(&old[0], 3, "d3", &checkout("e3", "k3", 1));
    append(&old[0], 4, "d1", &checkout("e1-again", "k1", 9)); // a redelivery of d1
    append(&old[0], 5, "d5", &checkout("e5", "k5", 1));
    let torn = dir.join("00000000000000000006.log");
    append(&torn, 6, "d6", &checkout("e6", "k6", 1));
    let len = std::fs::metadata(&torn).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&torn)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let store = db.open().await.unwrap();
    let keys: Vec<String> = store
        .carts(&CartFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.cart.key)
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(
        keys,
        ["k1", "k2", "k3", "k5"],
        "applied before anything is served"
    );
    assert_eq!(
        count(&db, "events"),
        4,
        "the redelivery of d1 changed nothing"
    );
    let files = segment_files(&dir);
    assert_eq!(files.len(), 1, "applied segments are deleted: {files:?}");
    assert!(
        files[0].ends_with("00000000000000000006.log"),
        "numbering goes on after the last record read: {files:?}"
    );
    // The next record is number 6 (the torn one never existed), and it is applied normally.
    send(&store, "d7", checkout("e7", "k7", 1)).await;
    store.close().await;
    drop(store);
    let store = db.open().await.unwrap();
    assert_eq!(
        count(&db, "events"),
        5,
        "a second start applies nothing twice"
    );
    assert_eq!(store.carts(&all()).await.unwrap().len(), 5);
}

#[tokio::test]
async fn turning_the_journal_off_still_applies_what_it_holds() {
    let db = sqlite(settings(0)).await;
    let file = {
        let store = db.open().await.unwrap();
        store.close().await;
        segment_files(&journal_dir(&db))[0].clone()
    };
    append(&file, 1, "d1", &checkout("e1", "k1", 1));
    let db = db.with_journal(JournalSettings {
        enabled: false,
        ..Default::default()
    });
    let store = db.open().await.unwrap();
    assert_eq!(store.carts(&all()).await.unwrap().len(), 1);
    assert!(!journal_dir(&db).exists(), "nothing is left behind");
    assert!(matches!(
        send(&store, "d2", checkout("e2", "k2", 1)).await,
        IngestOutcome::Accepted { .. }
    ));
}

#[tokio::test]
async fn a_second_store_on_the_same_database_is_refused_while_the_first_runs() {
    let db = sqlite(settings(32)).await;
    let _first = db.open().await.unwrap();
    let err = db.open().await.unwrap_err().to_string();
    assert!(err.contains("another cartback process"), "{err}");
}

#[tokio::test]
async fn a_record_that_never_applies_is_set_aside_and_the_rest_goes_on() {
    let db = sqlite(settings(32)).await;
    let file = {
        let store = db.open().await.unwrap();
        store.close().await;
        segment_files(&journal_dir(&db))[0].clone()
    };
    // Sound on disk (length and checksum agree), but not a record this hub can apply.
    append_raw(&file, 1, br#"{"not":"a record"}"#.to_vec());
    append(&file, 2, "d2", &checkout("e2", "k2", 1));
    let store = db.open().await.unwrap();
    assert_eq!(
        store.carts(&all()).await.unwrap().len(),
        1,
        "record 2 applied"
    );
    let conn = rusqlite::Connection::open(db_file(&db)).unwrap();
    let (seq, record, error): (i64, String, String) = conn
        .query_row("SELECT seq, record, error FROM journal_failed", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(seq, 1);
    assert_eq!(
        record, r#"{"not":"a record"}"#,
        "kept whole for an operator"
    );
    assert!(error.contains("decode"), "{error}");
    assert_eq!(store.ingest_set_aside().await.unwrap(), 1, "and counted");
    let applied: i64 = conn
        .query_row("SELECT applied_seq FROM journal_state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, 2);
}

#[tokio::test]
async fn past_max_pending_callers_wait_for_their_projection() {
    let db = sqlite(JournalSettings {
        wait_below: 0,
        max_pending_mb: 1,
        ..Default::default()
    })
    .await;
    let store = std::sync::Arc::new(db.open().await.unwrap());
    // 200 webhooks of ~40 KB at once: far more than 1 MiB waiting to be applied.
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut e = checkout(&format!("e{i}"), &format!("k{i}"), 1);
            if let EventKind::CheckoutStarted(snap) = &mut e.kind {
                let item = snap.items[0].clone();
                snap.items = (0..200)
                    .map(|n| LineItem {
                        title: format!("Item {n} with a long enough title"),
                        ..item.clone()
                    })
                    .collect();
            }
            send(&store, &format!("d{i}"), e).await
        }));
    }
    let mut waited = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), IngestOutcome::Accepted { .. }) {
            waited += 1;
        }
    }
    assert!(
        waited > 0,
        "with the journal full, callers wait (backpressure)"
    );
    drained(&store).await;
    assert_eq!(store.carts(&all()).await.unwrap().len(), 200);
}

#[tokio::test]
async fn a_record_set_aside_is_listed_inspected_and_redriven_once() {
    use cartback_store::{DeadLetters, Redriven};
    let db = sqlite(settings(32)).await;
    db.open().await.unwrap().close().await;
    // Two records set aside (as the journal does after five failures): one that applies now
    // (what failed was passing), one that never can.
    let good = serde_json::json!({
        "source_id": "shop", "delivery_ids": ["d-dead"], "events": [checkout("e-dead", "k-dead", 2)],
        "received_at": t(0),
    });
    let conn = rusqlite::Connection::open(db_file(&db)).unwrap();
    for (seq, record) in [
        (7, good.to_string()),
        (8, r#"{"not":"a record"}"#.to_string()),
    ] {
        conn.execute(
            "INSERT INTO journal_failed (seq, record, error, failed_at) VALUES (?1, ?2, 'database is locked', 0)",
            rusqlite::params![seq, record],
        )
        .unwrap();
    }
    drop(conn);
    let store = db.open().await.unwrap();
    let listed = store.set_aside(10).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| (s.seq, s.events)).collect::<Vec<_>>(),
        [(7, 1), (8, 0)]
    );
    assert!(listed[0].record.is_none(), "listed without bodies");
    let one = store.set_aside_one(7).await.unwrap().unwrap();
    assert_eq!(one.record.unwrap()["delivery_ids"][0], "d-dead");
    assert_eq!(
        store.redrive_set_aside(7).await.unwrap(),
        Redriven::Applied { duplicate: false }
    );
    assert_eq!(store.carts(&all()).await.unwrap().len(), 1);
    assert_eq!(store.redrive_set_aside(7).await.unwrap(), Redriven::Missing);
    assert!(matches!(
        store.redrive_set_aside(8).await.unwrap(),
        Redriven::Failed { .. }
    ));
    assert_eq!(
        store.ingest_set_aside().await.unwrap(),
        1,
        "the bad one stays"
    );
}
