//! Privacy on every backend: an erasure leaves no trace of the shopper in what the hub sent
//! (queued messages cancelled, sent ones wiped, counts kept), an export finds what is held, and
//! `[retention]` ages records out in batches no larger than asked.
#![allow(clippy::unwrap_used)]

use cartback_core::{
    CartSnapshot, Consent, ContactInfo, Currency, Erasure, Event, EventKind, LineItem, Money,
    OutboundMessage, Recipient,
};
use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use cartback_store::{
    EffectKind, Ingest, IngestOutcome, MessageFilter, NewMessage, OutboxStatus, Retained, SqlStore,
    TimerCommit,
};
use chrono::{DateTime, TimeZone, Utc};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").unwrap())
}

fn checkout(key: &str, email: &str) -> EventKind {
    EventKind::CheckoutStarted(CartSnapshot {
        key: key.into(),
        cart_token: Some(key.into()),
        checkout_token: None,
        platform_id: None,
        contact: Some(ContactInfo {
            email: Some(email.into()),
            phone: Some("+14155550100".into()),
            first_name: Some("Ann".into()),
            email_consent: Consent::Subscribed,
            ..Default::default()
        }),
        items: vec![LineItem {
            product_id: None,
            variant_id: None,
            sku: None,
            title: "Mug".into(),
            variant_title: None,
            quantity: 1,
            unit_price: usd(1000),
            line_price: usd(1000),
            url: None,
            image_url: None,
        }],
        currency: Currency::parse("USD").unwrap(),
        subtotal: None,
        total: usd(1000),
        recovery_url: None,
        updated_at: t(0),
        completed_at: None,
    })
}

async fn send(store: &SqlStore, id: &str, kind: EventKind, at: i64) -> IngestOutcome {
    let ids = vec![id.to_string()];
    let events = [Event {
        source_id: "shop".into(),
        event_id: id.into(),
        topic: "test".into(),
        occurred_at: t(at),
        kind,
    }];
    store
        .ingest(Ingest {
            source_id: "shop",
            delivery_ids: &ids,
            events: &events,
            received_at: t(at),
            trust: cartback_core::Trust::Verified,
        })
        .await
        .unwrap()
}

fn message(id: &str, email: &str) -> OutboundMessage {
    OutboundMessage {
        id: id.into(),
        channel_id: "email".into(),
        to: Recipient {
            email: Some(email.into()),
            phone: None,
            name: Some("Ann".into()),
        },
        subject: Some("Ann, your Mug is waiting".into()),
        html: None,
        text: Some(format!("Hi Ann ({email})")),
        headers: Default::default(),
        metadata: [("flow_id".to_string(), "recover".to_string())].into(),
        contact: None,
        cart: None,
        test: false,
        discount_code: None,
        purpose: Default::default(),
    }
}

/// Claims the channel's due messages and returns `id`'s row, leased for finishing.
async fn sent_now(store: &SqlStore, id: &str, now: DateTime<Utc>) -> cartback_store::OutboxRow {
    let rows = store
        .claim_outbox("email", now, std::time::Duration::from_secs(60), 10, false)
        .await
        .unwrap();
    rows.into_iter().find(|r| r.id == id).unwrap()
}

cartback_store::on_every_backend!(
    an_erased_shopper_leaves_no_trace_in_what_was_sent,
    retention_ages_records_out_in_small_batches,
);

async fn an_erased_shopper_leaves_no_trace_in_what_was_sent(db: &TestDb) {
    let store = db.open().await.unwrap();
    let cart = match send(&store, "e1", checkout("k1", "ann@x.io"), 0).await {
        IngestOutcome::Accepted { effects } => match &effects[0].kind {
            EffectKind::CartUpserted { cart_id, .. } => cart_id.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let contact = store.cart(&cart).await.unwrap().unwrap().contact.unwrap();
    assert_eq!(
        store
            .contacts_matching(None, Some("+14155550100"))
            .await
            .unwrap()
            .len(),
        1
    );
    let mut commit = TimerCommit::default();
    for (i, step) in [(1, 0), (2, 1)] {
        commit.outbox.push(NewMessage {
            message: message(&format!("m{i}"), "ann@x.io"),
            run_id: "r1".into(),
            step,
            contact_id: Some(contact.id.clone()),
            cart_id: Some(cart.clone()),
            cap: None,
            links: Vec::new(),
        });
    }
    store.apply(commit, t(10)).await.unwrap();
    assert_eq!(
        store.contact_messages(&contact.id, 10).await.unwrap().len(),
        2
    );
    assert!(!store
        .contact_events(&contact.id, 10)
        .await
        .unwrap()
        .is_empty());
    // One went out before the erasure.
    let row = sent_now(&store, "m1", t(15)).await;
    store
        .finish_outbox(
            &row,
            cartback_store::DeliveryOutcome::Sent {
                provider_message_id: None,
            },
            t(20),
        )
        .await
        .unwrap();
    let erase = EventKind::Erasure(Erasure::Contact {
        email: Some("ANN@x.io".into()),
        phone: None,
        external_id: None,
        order_ids: Vec::new(),
    });
    send(&store, "e2", erase, 30).await;
    assert!(store
        .contacts_matching(Some("ann@x.io"), None)
        .await
        .unwrap()
        .is_empty());
    let rows = store
        .messages(&MessageFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "the rows stay, so reports keep their counts");
    for r in &rows {
        let json = serde_json::to_string(&r.message).unwrap();
        assert!(
            !json.contains("ann@x.io") && !json.contains("Ann"),
            "{json}"
        );
        assert_eq!(r.contact_id, None);
        assert_eq!(r.message.metadata["flow_id"], "recover");
    }
    let queued = rows.iter().find(|r| r.id == "m2").unwrap();
    assert_eq!(queued.status, OutboxStatus::Cancelled, "nothing more goes");
    let sent = rows.iter().find(|r| r.id == "m1").unwrap();
    assert_eq!(sent.status, OutboxStatus::Sent);
}

async fn retention_ages_records_out_in_small_batches(db: &TestDb) {
    let store = db.open().await.unwrap();
    for i in 0..5 {
        send(
            &store,
            &format!("old-{i}"),
            checkout(&format!("k{i}"), "b@x.io"),
            0,
        )
        .await;
    }
    send(&store, "new-1", checkout("k9", "b@x.io"), 7200).await;
    let before = t(3600);
    let mut batches = Vec::new();
    loop {
        let n = store.age_out(Retained::Events, before, 2).await.unwrap();
        batches.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(batches, [2, 2, 1, 0]);
    assert_eq!(
        store
            .age_out(Retained::Deliveries, before, 100)
            .await
            .unwrap(),
        5
    );
    // The newer delivery is still recognised: sent again, it is a duplicate.
    assert_eq!(
        send(&store, "new-1", checkout("k9", "b@x.io"), 7200).await,
        IngestOutcome::Duplicate
    );
    // Message bodies: only finished ones, once.
    let mut commit = TimerCommit::default();
    commit.outbox.push(NewMessage {
        message: message("m9", "b@x.io"),
        run_id: "r9".into(),
        step: 0,
        contact_id: None,
        cart_id: None,
        cap: None,
        links: Vec::new(),
    });
    store.apply(commit, t(100)).await.unwrap();
    assert_eq!(
        store
            .age_out(Retained::MessageBodies, before, 10)
            .await
            .unwrap(),
        0,
        "a queued message keeps its body"
    );
    let row = sent_now(&store, "m9", t(150)).await;
    store
        .finish_outbox(
            &row,
            cartback_store::DeliveryOutcome::Sent {
                provider_message_id: None,
            },
            t(200),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .age_out(Retained::MessageBodies, before, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .age_out(Retained::MessageBodies, before, 10)
            .await
            .unwrap(),
        0,
        "wiped once"
    );
    let row = store.outbox_message("m9").await.unwrap().unwrap();
    assert_eq!((row.message.subject, row.message.to.email), (None, None));
}
