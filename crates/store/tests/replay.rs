//! What `cartback simulate` reads: the log in the order it arrived, with each event's trust, and
//! the moment the next timer can fire. Every test runs on SQLite, SQLite with the journal, and
//! PostgreSQL.
#![allow(clippy::unwrap_used)]

use cartback_core::{
    Consent, ContactInfo, Event, EventKind, MessageStatus, MessageStatusUpdate, Trust,
};
use cartback_store::testdb::TestDb;
use cartback_store::{Ingest, ReadModel, Store, TimerKind, Timers};
use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

fn contact(email: &str) -> EventKind {
    EventKind::ContactUpdated(ContactInfo {
        email: Some(email.into()),
        email_consent: Consent::Subscribed,
        ..Default::default()
    })
}

async fn send(store: &dyn Store, id: &str, kind: EventKind, at: i64, trust: Trust) {
    let events = vec![Event {
        source_id: "shop".into(),
        event_id: id.into(),
        topic: "test".into(),
        occurred_at: t(at - 5),
        kind,
    }];
    let ids = vec![format!("d-{id}")];
    store
        .ingest(Ingest {
            source_id: "shop",
            delivery_ids: &ids,
            events: &events,
            received_at: t(at),
            trust,
        })
        .await
        .unwrap();
}

cartback_store::on_every_backend!(
    the_log_replays_in_arrival_order_with_its_trust,
    the_next_timer_is_the_earliest_claimable,
);

async fn the_log_replays_in_arrival_order_with_its_trust(db: &TestDb) {
    let store = db.open().await.unwrap();
    send(
        &store,
        "before",
        contact("a@example.com"),
        10,
        Trust::Verified,
    )
    .await;
    send(&store, "e1", contact("b@example.com"), 100, Trust::Verified).await;
    send(&store, "e2", contact("c@example.com"), 110, Trust::Claimed).await;
    let status = EventKind::MessageStatus(MessageStatusUpdate {
        message_id: Some("m1".into()),
        provider_message_id: None,
        status: MessageStatus::Opened,
        url: None,
    });
    send(&store, "s1", status, 120, Trust::Verified).await;
    send(&store, "e3", contact("d@example.com"), 130, Trust::Verified).await;
    send(
        &store,
        "after",
        contact("e@example.com"),
        500,
        Trust::Verified,
    )
    .await;

    let all = store.replay_events(t(50), t(200), 0, 100).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.event.event_id.as_str()).collect();
    // The window only, in order; the hub's reports on its own messages left out.
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(all[0].received_at, t(100));
    assert_eq!(all[0].event.occurred_at, t(95));
    assert_eq!(all[0].event.kind, contact("b@example.com"));
    assert_eq!(all[1].trust, Trust::Claimed);
    assert_eq!(all[2].trust, Trust::Verified);
    // Paged by number.
    let first = store.replay_events(t(50), t(200), 0, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    let rest = store
        .replay_events(t(50), t(200), first[0].seq, 100)
        .await
        .unwrap();
    let ids: Vec<&str> = rest.iter().map(|r| r.event.event_id.as_str()).collect();
    assert_eq!(ids, ["e2", "e3"]);
    store.close().await;
}

async fn the_next_timer_is_the_earliest_claimable(db: &TestDb) {
    let store = db.open().await.unwrap();
    assert_eq!(store.next_timer_due().await.unwrap(), None);
    store
        .schedule_timer(TimerKind::CartCheck, "cart-a", t(300))
        .await
        .unwrap();
    store
        .schedule_timer(TimerKind::CartCheck, "cart-b", t(200))
        .await
        .unwrap();
    assert_eq!(store.next_timer_due().await.unwrap(), Some(t(200)));
    // Claimed with a lease: it can fire again only when the lease ends.
    let claimed = store
        .claim_timers(t(250), Duration::from_secs(600), 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(store.next_timer_due().await.unwrap(), Some(t(300)));
    store.close().await;
}
