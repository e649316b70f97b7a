//! How imported records meet webhooks in the store: one cart whichever way it is keyed, and an
//! import's cursor kept apart from the live poller's. Every test runs on every backend.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;

use cartback_core::{Event, EventKind};
use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use cartback_store::{EffectKind, Ingest, IngestOutcome};

cartback_store::on_every_backend!(
    a_checkout_keyed_two_ways_is_one_cart,
    an_import_cursor_is_kept_apart_and_forgotten,
);

/// A snapshot keyed by its checkout token (an import: no cart token known) and one keyed by the
/// cart token (the webhook) are one cart, whichever comes first; carts keyed otherwise that only
/// share a checkout token (`order:<id>`) stay apart.
async fn a_checkout_keyed_two_ways_is_one_cart(db: &TestDb) {
    let store = open_with_rules(db).await;
    let imported = |key: &str, token: &str, at: i64| {
        let mut s = snapshot(key, Some(token), Some("ann@example.com"), 1, at);
        s.cart_token = None;
        s
    };
    // Import first, then the webhook: the imported cart takes the webhook's key.
    let first = cart_id(
        &ingest(
            &store,
            "d1",
            vec![event(
                "e1",
                EventKind::CheckoutStarted(imported("tokA", "tokA", 10)),
                10,
            )],
        )
        .await,
    );
    let second = cart_id(
        &ingest(
            &store,
            "d2",
            vec![event(
                "e2",
                EventKind::CheckoutStarted(snapshot(
                    "cartA",
                    Some("tokA"),
                    Some("ann@example.com"),
                    2,
                    20,
                )),
                20,
            )],
        )
        .await,
    );
    assert_eq!(first, second);
    assert_eq!(store.cart(&first).await.unwrap().unwrap().cart.key, "cartA");
    // Webhook first, then the import: the import finds the webhook's cart.
    let hooked = cart_id(
        &ingest(
            &store,
            "d3",
            vec![event(
                "e3",
                EventKind::CheckoutStarted(snapshot(
                    "cartB",
                    Some("tokB"),
                    Some("bo@example.com"),
                    1,
                    10,
                )),
                10,
            )],
        )
        .await,
    );
    let again = cart_id(
        &ingest(
            &store,
            "d4",
            vec![event(
                "e4",
                EventKind::CheckoutStarted(imported("tokB", "tokB", 30)),
                30,
            )],
        )
        .await,
    );
    assert_eq!(hooked, again);
    assert_eq!(
        store.cart(&hooked).await.unwrap().unwrap().cart.key,
        "cartB"
    );
    // Keys of their own sharing a checkout token: two carts.
    let a = cart_id(
        &ingest(
            &store,
            "d5",
            vec![event(
                "e5",
                EventKind::CheckoutStarted(imported("order:1", "wc_key", 10)),
                10,
            )],
        )
        .await,
    );
    let b = cart_id(
        &ingest(
            &store,
            "d6",
            vec![event(
                "e6",
                EventKind::CheckoutStarted(imported("order:2", "wc_key", 10)),
                10,
            )],
        )
        .await,
    );
    assert_ne!(a, b);
}

/// An import's cursor is kept under its own key, with the page's events, apart from the source's
/// poller; forgetting it leaves the poller's.
async fn an_import_cursor_is_kept_apart_and_forgotten(db: &TestDb) {
    let store = open_with_rules(db).await;
    let events = vec![event(
        "i1",
        EventKind::CheckoutStarted(snapshot("k1", Some("t1"), Some("ann@example.com"), 1, 10)),
        10,
    )];
    fn page(events: &[Event]) -> Ingest<'_> {
        Ingest {
            source_id: "shop",
            delivery_ids: &[],
            events,
            received_at: t(10_000),
            trust: cartback_core::Trust::Verified,
        }
    }
    store.ingest_polled(page(&[]), Some("live")).await.unwrap();
    store
        .ingest_with_cursor(page(&events), "import:shop", Some("page-2"))
        .await
        .unwrap();
    assert_eq!(
        store.poll_cursor("shop").await.unwrap().as_deref(),
        Some("live")
    );
    assert_eq!(
        store.poll_cursor("import:shop").await.unwrap().as_deref(),
        Some("page-2")
    );
    // The same page again (a resumed import re-reading it): nothing new.
    match store
        .ingest_with_cursor(page(&events), "import:shop", Some("page-2"))
        .await
        .unwrap()
    {
        IngestOutcome::Accepted { effects } => {
            assert!(matches!(effects[0].kind, EffectKind::DuplicateEvent))
        }
        other => panic!("{other:?}"),
    }
    assert!(store.clear_poll_cursor("import:shop").await.unwrap());
    assert!(!store.clear_poll_cursor("import:shop").await.unwrap());
    assert_eq!(store.poll_cursor("import:shop").await.unwrap(), None);
    assert_eq!(
        store.poll_cursor("shop").await.unwrap().as_deref(),
        Some("live")
    );
}
