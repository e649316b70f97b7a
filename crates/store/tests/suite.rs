//! The store's behaviour suite. Every backend passes it: each test runs on SQLite (a temporary
//! file) and on PostgreSQL (a fresh schema on `CARTBACK_TEST_PG_URL`; skipped with a printed reason
//! when that is not set — CI sets it).
#![allow(clippy::unwrap_used)]

mod common;
use common::*;

use cartback_core::{
    CartStatus, Consent, ContactInfo, Erasure, EventKind, OptOut, OptOutChannel, Order,
};
use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use cartback_store::{CartFilter, EffectKind, Ingest, IngestOutcome, Store};

cartback_store::on_every_backend!(
    redelivery_changes_nothing,
    older_update_never_rolls_back,
    stale_update_fills_missing_fields_only,
    orders_convert_their_cart,
    orders_without_a_match_convert_nothing,
    order_before_cart_converts_on_arrival,
    contacts_merge_and_consent_is_ordered,
    erasure_removes_personal_data_keeps_aggregates,
    data_survives_reopen,
    timers_are_claimed_once_and_debounced,
    concurrent_ingest_of_one_new_cart,
);
async fn redelivery_changes_nothing(db: &TestDb) {
    let store = open_store(db).await;
    let ev = event(
        "e1",
        EventKind::CheckoutStarted(snapshot("k1", Some("c1"), Some("Ann@X.io"), 1, 0)),
        0,
    );
    let first = ingest(&store, "d1", vec![ev.clone()]).await;
    let id = cart_id(&first);
    assert_eq!(
        ingest(&store, "d1", vec![ev.clone()]).await,
        IngestOutcome::Duplicate
    );
    // Same event inside a different delivery: recorded once.
    match ingest(&store, "d2", vec![ev]).await {
        IngestOutcome::Accepted { effects } => {
            assert_eq!(effects[0].kind, EffectKind::DuplicateEvent)
        }
        other => panic!("{other:?}"),
    }
    let carts = store
        .carts(&CartFilter {
            email: Some("ann@x.IO".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(carts.len(), 1);
    assert_eq!(carts[0].cart.id, id);
    assert_eq!(
        carts[0].contact.as_ref().unwrap().info.email.as_deref(),
        Some("Ann@X.io")
    );
    let n: i64 = store
        .query_i64("SELECT COUNT(*) FROM events", vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
}

async fn older_update_never_rolls_back(db: &TestDb) {
    let store = open_store(db).await;
    let newer = snapshot("k1", Some("c1"), Some("a@x.io"), 3, 100);
    let mut older = snapshot("k1", None, None, 1, 50);
    older.recovery_url = None;
    let id = cart_id(
        &ingest(
            &store,
            "d1",
            vec![event("e1", EventKind::CheckoutStarted(newer), 100)],
        )
        .await,
    );
    match ingest(
        &store,
        "d2",
        vec![event("e2", EventKind::CartUpdated(older), 50)],
    )
    .await
    {
        IngestOutcome::Accepted { effects } => {
            assert_eq!(
                effects[0].kind,
                EffectKind::CartUpserted {
                    cart_id: id.clone(),
                    stale: true
                }
            )
        }
        other => panic!("{other:?}"),
    }
    let cart = store.cart(&id).await.unwrap().unwrap().cart;
    assert_eq!(cart.items[0].quantity, 3);
    assert_eq!(cart.total.minor, 3750);
    assert_eq!(cart.updated_at, t(100));
    assert_eq!(cart.checkout_token.as_deref(), Some("c1"));
}

async fn stale_update_fills_missing_fields_only(db: &TestDb) {
    let store = open_store(db).await;
    let mut newer = snapshot("k1", None, None, 2, 100);
    newer.recovery_url = None;
    let older = snapshot("k1", Some("c9"), Some("b@x.io"), 1, 50);
    let id = cart_id(
        &ingest(
            &store,
            "d1",
            vec![event("e1", EventKind::CartUpdated(newer), 100)],
        )
        .await,
    );
    ingest(
        &store,
        "d2",
        vec![event("e2", EventKind::CheckoutStarted(older), 50)],
    )
    .await;
    let rec = store.cart(&id).await.unwrap().unwrap();
    assert_eq!(rec.cart.items[0].quantity, 2);
    assert_eq!(rec.cart.checkout_token.as_deref(), Some("c9"));
    assert_eq!(rec.contact.unwrap().info.email.as_deref(), Some("b@x.io"));
    assert!(rec.cart.recovery_url.is_some());
}

fn order(
    id: &str,
    checkout: Option<&str>,
    cart: Option<&str>,
    email: Option<&str>,
    at: i64,
) -> Order {
    Order {
        order_id: id.into(),
        name: Some("#1001".into()),
        checkout_token: checkout.map(Into::into),
        cart_token: cart.map(Into::into),
        contact: email.map(contact),
        total: usd(2500),
        items: vec![],
        placed_at: t(at),
        test: false,
    }
}

async fn orders_convert_their_cart(db: &TestDb) {
    let store = open_with_rules(db).await;
    let a = cart_id(
        &ingest(
            &store,
            "d1",
            vec![event(
                "e1",
                EventKind::CheckoutStarted(snapshot("ka", Some("ca"), Some("a@x.io"), 1, 0)),
                0,
            )],
        )
        .await,
    );
    let b = cart_id(
        &ingest(
            &store,
            "d2",
            vec![event(
                "e2",
                EventKind::CheckoutStarted(snapshot("kb", None, Some("b@x.io"), 1, 0)),
                0,
            )],
        )
        .await,
    );
    let c = cart_id(
        &ingest(
            &store,
            "d3",
            vec![event(
                "e3",
                EventKind::CheckoutStarted(snapshot("kc", None, Some("c@x.io"), 1, 0)),
                0,
            )],
        )
        .await,
    );
    // By checkout token, by cart token, by email within the window.
    ingest(
        &store,
        "o1",
        vec![event(
            "oe1",
            EventKind::OrderPlaced(order("1", Some("ca"), None, None, 60)),
            60,
        )],
    )
    .await;
    ingest(
        &store,
        "o2",
        vec![event(
            "oe2",
            EventKind::OrderPlaced(order("2", None, Some("kb"), None, 60)),
            60,
        )],
    )
    .await;
    match ingest(
        &store,
        "o3",
        vec![event(
            "oe3",
            EventKind::OrderPlaced(order("3", None, None, Some("C@X.IO"), 60)),
            60,
        )],
    )
    .await
    {
        IngestOutcome::Accepted { effects } => {
            assert_eq!(
                effects[0].kind,
                EffectKind::OrderRecorded {
                    cart_id: Some(c.clone()),
                    new: true
                }
            )
        }
        other => panic!("{other:?}"),
    }
    for (id, order_id) in [(&a, "1"), (&b, "2"), (&c, "3")] {
        let cart = store.cart(id).await.unwrap().unwrap().cart;
        assert_eq!(cart.status, CartStatus::Converted, "{order_id}");
        assert_eq!(cart.order_id.as_deref(), Some(order_id));
        assert_eq!(cart.converted_at, Some(t(60)));
    }
    // The same order again (orders/paid after orders/create): no second effect.
    match ingest(
        &store,
        "o4",
        vec![event(
            "oe4",
            EventKind::OrderPlaced(order("1", Some("ca"), None, None, 61)),
            61,
        )],
    )
    .await
    {
        IngestOutcome::Accepted { effects } => {
            assert_eq!(
                effects[0].kind,
                EffectKind::OrderRecorded {
                    cart_id: Some(a.clone()),
                    new: false
                }
            )
        }
        other => panic!("{other:?}"),
    }
    // A later checkout update does not reopen a converted cart.
    ingest(
        &store,
        "d5",
        vec![event(
            "e5",
            EventKind::CheckoutStarted(snapshot("ka", Some("ca"), Some("a@x.io"), 2, 120)),
            120,
        )],
    )
    .await;
    assert_eq!(
        store.cart(&a).await.unwrap().unwrap().cart.status,
        CartStatus::Converted
    );
}

/// Without the engine's rules an order converts only the cart it names (by token), never one
/// found through its contact: the window that allows it is the engine's (`rules::order_cart`).
async fn orders_without_a_match_convert_nothing(db: &TestDb) {
    let store = open_store(db).await;
    let open = cart_id(
        &ingest(
            &store,
            "d1",
            vec![event(
                "e1",
                EventKind::CheckoutStarted(snapshot("ka", None, Some("a@x.io"), 1, 0)),
                0,
            )],
        )
        .await,
    );
    ingest(
        &store,
        "o1",
        vec![event(
            "oe1",
            EventKind::OrderPlaced(order("1", None, None, Some("a@x.io"), 60)),
            60,
        )],
    )
    .await;
    assert_eq!(
        store.cart(&open).await.unwrap().unwrap().cart.status,
        CartStatus::Open
    );
    assert_eq!(store.pending_timers().await.unwrap(), 1, "attribution only");
}

async fn order_before_cart_converts_on_arrival(db: &TestDb) {
    let store = open_store(db).await;
    ingest(
        &store,
        "o1",
        vec![event(
            "oe1",
            EventKind::OrderPlaced(order("1", Some("ca"), None, None, 60)),
            60,
        )],
    )
    .await;
    let a = cart_id(
        &ingest(
            &store,
            "d1",
            vec![event(
                "e1",
                EventKind::CheckoutStarted(snapshot("ka", Some("ca"), Some("a@x.io"), 1, 0)),
                0,
            )],
        )
        .await,
    );
    let cart = store.cart(&a).await.unwrap().unwrap().cart;
    assert_eq!(cart.status, CartStatus::Converted);
    assert_eq!(cart.order_id.as_deref(), Some("1"));
}

async fn contacts_merge_and_consent_is_ordered(db: &TestDb) {
    let store = open_store(db).await;
    let newer = ContactInfo {
        email_consent: Consent::Unsubscribed,
        ..contact("a@x.io")
    };
    let outcome = ingest(
        &store,
        "d1",
        vec![event("e1", EventKind::ContactUpdated(newer), 100)],
    )
    .await;
    let id = match outcome {
        IngestOutcome::Accepted { effects } => match &effects[0].kind {
            EffectKind::ContactUpserted {
                contact_id: Some(id),
            } => id.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    // An older "subscribed" report must not undo the newer unsubscribe, but fills the phone.
    let older = ContactInfo {
        phone: Some("+14158675309".into()),
        ..contact("A@x.io")
    };
    ingest(
        &store,
        "d2",
        vec![event("e2", EventKind::ContactUpdated(older), 50)],
    )
    .await;
    let c = store.contact(&id).await.unwrap().unwrap();
    assert_eq!(c.info.email_consent, Consent::Unsubscribed);
    assert_eq!(c.info.phone.as_deref(), Some("+14158675309"));
    // SMS opt-out by phone.
    let opt = OptOut {
        channel: OptOutChannel::Sms,
        address: "+14158675309".into(),
        resubscribe: false,
    };
    ingest(&store, "d3", vec![event("e3", EventKind::OptOut(opt), 200)]).await;
    assert_eq!(
        store.contact(&id).await.unwrap().unwrap().info.sms_consent,
        Consent::Unsubscribed
    );
    // No identity, no contact.
    match ingest(
        &store,
        "d4",
        vec![event(
            "e4",
            EventKind::ContactUpdated(ContactInfo::default()),
            1,
        )],
    )
    .await
    {
        IngestOutcome::Accepted { effects } => {
            assert_eq!(
                effects[0].kind,
                EffectKind::ContactUpserted { contact_id: None }
            )
        }
        other => panic!("{other:?}"),
    }
}

async fn erasure_removes_personal_data_keeps_aggregates(db: &TestDb) {
    let store = open_store(db).await;
    let a = cart_id(
        &ingest(
            &store,
            "d1",
            vec![event(
                "e1",
                EventKind::CheckoutStarted(snapshot("ka", Some("ca"), Some("a@x.io"), 2, 0)),
                0,
            )],
        )
        .await,
    );
    let b = cart_id(
        &ingest(
            &store,
            "d2",
            vec![event(
                "e2",
                EventKind::CheckoutStarted(snapshot("kb", None, Some("b@x.io"), 1, 0)),
                0,
            )],
        )
        .await,
    );
    let erase = Erasure::Contact {
        email: Some("A@x.io".into()),
        phone: None,
        external_id: None,
        order_ids: vec![],
    };
    match ingest(
        &store,
        "d3",
        vec![event("e3", EventKind::Erasure(erase), 10)],
    )
    .await
    {
        IngestOutcome::Accepted { effects } => {
            assert_eq!(effects[0].kind, EffectKind::Erased { contacts: 1 })
        }
        other => panic!("{other:?}"),
    }
    let rec = store.cart(&a).await.unwrap().unwrap();
    assert!(rec.contact.is_none());
    assert!(rec.cart.recovery_url.is_none());
    assert_eq!(rec.cart.total.minor, 2500, "aggregates stay");
    assert!(store
        .carts(&CartFilter {
            email: Some("a@x.io".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    let leaked: i64 = store
        .query_i64(
            "SELECT COUNT(*) FROM events WHERE payload LIKE '%a@x.io%'",
            vec![],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leaked, 0);
    assert!(
        store.cart(&b).await.unwrap().unwrap().contact.is_some(),
        "others untouched"
    );
    // Whole source.
    ingest(
        &store,
        "d4",
        vec![event("e4", EventKind::Erasure(Erasure::Source), 20)],
    )
    .await;
    assert!(store.cart(&b).await.unwrap().unwrap().contact.is_none());
    let contacts: i64 = store
        .query_i64("SELECT COUNT(*) FROM contacts", vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contacts, 0);
}

async fn data_survives_reopen(db: &TestDb) {
    let id = {
        let store = open_store(db).await;
        let id = cart_id(
            &ingest(
                &store,
                "d1",
                vec![event(
                    "e1",
                    EventKind::CheckoutStarted(snapshot("ka", None, Some("a@x.io"), 1, 0)),
                    0,
                )],
            )
            .await,
        );
        store.close().await;
        id
    };
    let store = open_store(db).await;
    assert!(store.cart(&id).await.unwrap().is_some());
    assert_eq!(ingest(&store, "d1", vec![]).await, IngestOutcome::Duplicate);
    store.ping().await.unwrap();
}

async fn timers_are_claimed_once_and_debounced(db: &TestDb) {
    let store = open_with_rules(db).await;
    let ids = vec!["d1".to_string()];
    let ev = event(
        "e1",
        EventKind::CheckoutStarted(snapshot("ka", None, Some("a@x.io"), 1, 0)),
        0,
    );
    store
        .ingest(Ingest {
            source_id: "shop",
            delivery_ids: &ids,
            events: &[ev],
            received_at: t(0),
            trust: cartback_core::Trust::Verified,
        })
        .await
        .unwrap();
    assert_eq!(store.pending_timers().await.unwrap(), 1);
    // Not due before the threshold.
    assert!(store
        .claim_timers(t(3599), std::time::Duration::from_secs(60), 10)
        .await
        .unwrap()
        .is_empty());
    // A newer update pushes it back (debounce): still one timer, now due an hour after the update.
    let ids = vec!["d2".to_string()];
    let ev = event(
        "e2",
        EventKind::CheckoutStarted(snapshot("ka", None, Some("a@x.io"), 2, 1800)),
        1800,
    );
    store
        .ingest(Ingest {
            source_id: "shop",
            delivery_ids: &ids,
            events: &[ev],
            received_at: t(1800),
            trust: cartback_core::Trust::Verified,
        })
        .await
        .unwrap();
    assert_eq!(store.pending_timers().await.unwrap(), 1);
    assert!(store
        .claim_timers(t(3601), std::time::Duration::from_secs(60), 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = store
        .claim_timers(t(5400), std::time::Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // Leased: nobody else gets it until the lease ends.
    assert!(store
        .claim_timers(t(5401), std::time::Duration::from_secs(60), 10)
        .await
        .unwrap()
        .is_empty());
    let again = store
        .claim_timers(t(5461), std::time::Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "an expired lease is claimable");
    // The first claimant lost its lease: its commit writes nothing.
    let lost = store
        .commit_timer(&claimed[0], Default::default(), t(5462))
        .await
        .unwrap();
    assert!(!lost.applied);
    let done = store
        .commit_timer(&again[0], Default::default(), t(5462))
        .await
        .unwrap();
    assert!(done.applied);
    assert_eq!(store.pending_timers().await.unwrap(), 0);
}

async fn concurrent_ingest_of_one_new_cart(db: &TestDb) {
    let store = std::sync::Arc::new(open_store(db).await);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let ids = vec![format!("d{i}")];
            let ev = event(
                &format!("e{i}"),
                EventKind::CheckoutStarted(snapshot(
                    "same",
                    Some("chk"),
                    Some("same@x.io"),
                    i + 1,
                    i64::from(i),
                )),
                i64::from(i),
            );
            store
                .ingest(Ingest {
                    source_id: "shop",
                    delivery_ids: &ids,
                    events: &[ev],
                    received_at: t(10),
                    trust: cartback_core::Trust::Verified,
                })
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let carts = store
        .carts(&CartFilter {
            email: Some("same@x.io".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(carts.len(), 1, "one cart, whatever the interleaving");
    assert_eq!(carts[0].cart.items[0].quantity, 8, "the newest update wins");
}
