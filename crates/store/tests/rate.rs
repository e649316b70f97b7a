//! A channel's shared send rate (`Outbox::take_send_tokens`) on every backend: on PostgreSQL two
//! stores on one database (two instances) never get more than `rate × elapsed + burst` tokens
//! between them, and get close to it when they keep asking; on SQLite (one process owns the
//! database) every block is granted at once.
#![allow(clippy::unwrap_used)]

use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use cartback_store::{Backend, SendRate};
use std::time::{Duration, Instant};

const RATE: SendRate = SendRate {
    per_second: 200.0,
    burst: 20,
};

cartback_store::on_every_backend!(a_fresh_bucket_holds_its_burst, two_stores_share_one_rate);

async fn a_fresh_bucket_holds_its_burst(db: &TestDb) {
    let store = db.open().await.unwrap();
    if db.backend == Backend::Sqlite {
        for _ in 0..10 {
            assert_eq!(
                store
                    .take_send_tokens("sms", 20, RATE)
                    .await
                    .unwrap()
                    .granted,
                20
            );
        }
        return;
    }
    let slow = SendRate {
        per_second: 0.01,
        burst: 20,
    };
    let first = store.take_send_tokens("sms", 15, slow).await.unwrap();
    assert_eq!(first.granted, 15);
    assert!((first.left - 5.0).abs() < 0.01, "{first:?}");
    // All or nothing: 5 are there, 6 are not given.
    let none = store.take_send_tokens("sms", 6, slow).await.unwrap();
    assert_eq!(none.granted, 0);
    assert!((none.left - 5.0).abs() < 0.01, "nothing taken: {none:?}");
    assert_eq!(
        store
            .take_send_tokens("sms", 5, slow)
            .await
            .unwrap()
            .granted,
        5
    );
    // Each channel has its own bucket.
    assert_eq!(
        store
            .take_send_tokens("email", 20, slow)
            .await
            .unwrap()
            .granted,
        20
    );
}

async fn two_stores_share_one_rate(db: &TestDb) {
    if db.backend == Backend::Sqlite {
        return; // one process per SQLite database: nothing is shared (see the test above).
    }
    let stores = [db.open().await.unwrap(), db.open().await.unwrap()];
    let started = Instant::now();
    let run = Duration::from_millis(1500);
    let mut tasks = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        for _ in 0..3 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = 0u32;
                while started.elapsed() < run {
                    let t = store.take_send_tokens("sms", 5, RATE).await.unwrap();
                    assert!(t.granted == 0 || t.granted == 5, "all or nothing: {t:?}");
                    got += t.granted;
                    if t.granted == 0 {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                (i, got)
            }));
        }
    }
    let mut per_store = [0u32; 2];
    for t in tasks {
        let (i, got) = t.await.unwrap();
        per_store[i] += got;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = f64::from(per_store[0] + per_store[1]);
    let most = RATE.per_second * elapsed + f64::from(RATE.burst);
    assert!(
        total <= most,
        "{total} tokens in {elapsed:.3} s: more than {most}"
    );
    assert!(
        total >= 0.8 * RATE.per_second * 1.5,
        "{total} tokens in {elapsed:.3} s: far fewer than the rate gives"
    );
    assert!(
        per_store.iter().all(|n| *n > 0),
        "both stores got tokens: {per_store:?}"
    );
}
