//! The engine's ingest rules as the store applies them, on every backend (SQLite, SQLite with the
//! ingest journal, PostgreSQL): events enter through `Engine::accept`, the one way in, and the
//! store opened with `Rules` for the flows schedules checks and converts carts as the rules say.
#![allow(clippy::unwrap_used)]

use cartback_core::{
    CartSnapshot, CartStatus, Consent, ContactInfo, Currency, Event, EventKind, LineItem,
    ManualClock, Money, Order, Trust,
};
use cartback_engine::{AcceptError, Arrival, Engine};
use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap() + Duration::seconds(secs)
}

const H: i64 = 3600;

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").unwrap())
}

fn contact(email: &str) -> ContactInfo {
    ContactInfo {
        email: Some(email.into()),
        email_consent: Consent::Subscribed,
        ..Default::default()
    }
}

fn snapshot(key: &str, email: &str, items: u32, at: DateTime<Utc>) -> CartSnapshot {
    CartSnapshot {
        key: key.into(),
        cart_token: Some(key.into()),
        checkout_token: None,
        platform_id: None,
        contact: Some(contact(email)),
        items: (0..items)
            .map(|_| LineItem {
                product_id: None,
                variant_id: None,
                sku: None,
                title: "Mug".into(),
                variant_title: None,
                quantity: 1,
                unit_price: usd(1250),
                line_price: usd(1250),
                url: Some("https://evil.example/phish".into()),
                image_url: None,
            })
            .collect(),
        currency: Currency::parse("USD").unwrap(),
        subtotal: None,
        total: usd(1250 * i64::from(items)),
        recovery_url: Some(format!("https://shop.example/recover/{key}")),
        updated_at: at,
        completed_at: None,
    }
}

fn order(id: &str, email: &str, at: DateTime<Utc>) -> Order {
    Order {
        order_id: id.into(),
        name: None,
        checkout_token: None,
        cart_token: None,
        contact: Some(contact(email)),
        total: usd(1250),
        items: vec![],
        placed_at: at,
        test: false,
    }
}

/// One flow abandoning carts after an hour, crediting orders for three days.
fn engine_on(store: Arc<dyn Store>) -> Engine {
    let settings = serde_json::from_value(serde_json::json!({
        "recover": {
            "trigger": "cart_abandoned",
            "abandon_after": "1h",
            "attribution_window": "3d",
            "step": [{ "send": { "channel": "hand-off" } }]
        }
    }))
    .unwrap();
    let flows = cartback_engine::flows::compile(&settings).unwrap();
    let templates =
        cartback_engine::template::Templates::load(&BTreeMap::new(), std::path::Path::new("."))
            .unwrap();
    Engine::new(
        store,
        Arc::new(ManualClock::new(t(0))),
        flows,
        templates,
        BTreeMap::new(),
        BTreeMap::new(),
        "http://hub.test",
    )
    .with_link_policy(cartback_core::LinkPolicy::new(&["shop.example".into()], None).unwrap())
}

/// The store opened as the hub opens it: with the rules of the engine's flows.
async fn open(db: &TestDb) -> (Arc<dyn Store>, Engine) {
    // The flows decide the rules; a throw-away engine on a store without them computes them.
    let probe = engine_on(Arc::new(db.open().await.unwrap()));
    let rules = Arc::new(probe.rules());
    drop(probe);
    let store: Arc<dyn Store> = Arc::new(db.open_with_rules(rules).await.unwrap());
    let engine = engine_on(store.clone());
    (store, engine)
}

async fn accept(engine: &Engine, delivery: &str, kind: EventKind, at: DateTime<Utc>) {
    let ids = vec![delivery.to_string()];
    engine
        .accept(Arrival {
            source_id: "shop",
            delivery_ids: &ids,
            events: vec![Event {
                source_id: "shop".into(),
                event_id: format!("e-{delivery}"),
                topic: "test".into(),
                occurred_at: at,
                kind,
            }],
            received_at: at,
            trust: Trust::Verified,
        })
        .await
        .unwrap();
}

async fn cart_id(store: &dyn Store, key: &str) -> String {
    let carts = store.carts(&Default::default()).await.unwrap();
    carts
        .into_iter()
        .find(|c| c.cart.key == key)
        .map(|c| c.cart.id)
        .unwrap()
}

cartback_store::on_every_backend!(
    the_debounce_follows_the_shortest_abandon_after,
    an_order_converts_the_contacts_recent_cart_only_within_the_window,
    the_front_door_refuses_bad_events_and_drops_foreign_links,
);

async fn the_debounce_follows_the_shortest_abandon_after(db: &TestDb) {
    let (store, engine) = open(db).await;
    accept(
        &engine,
        "d1",
        EventKind::CheckoutStarted(snapshot("k1", "a@x.io", 1, t(0))),
        t(0),
    )
    .await;
    assert_eq!(store.pending_timers().await.unwrap(), 1);
    let lease = std::time::Duration::from_secs(60);
    assert!(store
        .claim_timers(t(H - 1), lease, 10)
        .await
        .unwrap()
        .is_empty());
    // A newer update pushes the check back an hour from it.
    accept(
        &engine,
        "d2",
        EventKind::CheckoutStarted(snapshot("k1", "a@x.io", 2, t(1800))),
        t(1800),
    )
    .await;
    assert!(store
        .claim_timers(t(H + 1), lease, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .claim_timers(t(H + 1800), lease, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // An emptied cart cannot be abandoned: its check goes (k1's, its lease over, is still there).
    accept(
        &engine,
        "d3",
        EventKind::CheckoutStarted(snapshot("k2", "b@x.io", 1, t(0))),
        t(0),
    )
    .await;
    accept(
        &engine,
        "d4",
        EventKind::CheckoutStarted(snapshot("k2", "b@x.io", 0, t(60))),
        t(60),
    )
    .await;
    let due: Vec<String> = store
        .claim_timers(t(10 * H), lease, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.subject)
        .collect();
    assert_eq!(due, vec![cart_id(store.as_ref(), "k1").await]);
}

async fn an_order_converts_the_contacts_recent_cart_only_within_the_window(db: &TestDb) {
    let (store, engine) = open(db).await;
    accept(
        &engine,
        "d1",
        EventKind::CheckoutStarted(snapshot("k1", "a@x.io", 1, t(0))),
        t(0),
    )
    .await;
    accept(
        &engine,
        "d2",
        EventKind::CheckoutStarted(snapshot("k2", "b@x.io", 1, t(0))),
        t(0),
    )
    .await;
    // No token in common: a's cart is matched by the contact, a day later (window: 3 days).
    accept(
        &engine,
        "o1",
        EventKind::OrderPlaced(order("1", "A@X.IO", t(24 * H))),
        t(24 * H),
    )
    .await;
    let a = store
        .cart(&cart_id(store.as_ref(), "k1").await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.cart.status, CartStatus::Converted);
    // b's order comes four days later: another shopping trip, the cart stays open.
    accept(
        &engine,
        "o2",
        EventKind::OrderPlaced(order("2", "b@x.io", t(96 * H))),
        t(96 * H),
    )
    .await;
    let b = store
        .cart(&cart_id(store.as_ref(), "k2").await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.cart.status, CartStatus::Open);
}

async fn the_front_door_refuses_bad_events_and_drops_foreign_links(db: &TestDb) {
    let (store, engine) = open(db).await;
    let mut bad = snapshot("k1", "a@x.io", 1, t(0));
    bad.items[0].unit_price = usd(-5);
    let refused = engine
        .accept(Arrival {
            source_id: "shop",
            delivery_ids: &["d0".to_string()],
            events: vec![Event {
                source_id: "shop".into(),
                event_id: "e0".into(),
                topic: "test".into(),
                occurred_at: t(0),
                kind: EventKind::CheckoutStarted(bad),
            }],
            received_at: t(0),
            trust: Trust::Verified,
        })
        .await;
    assert!(
        matches!(refused, Err(AcceptError::Invalid(_))),
        "{refused:?}"
    );
    assert!(
        store.carts(&Default::default()).await.unwrap().is_empty(),
        "nothing stored"
    );
    accept(
        &engine,
        "d1",
        EventKind::CheckoutStarted(snapshot("k1", "a@x.io", 1, t(0))),
        t(0),
    )
    .await;
    let cart = store
        .cart(&cart_id(store.as_ref(), "k1").await)
        .await
        .unwrap()
        .unwrap()
        .cart;
    assert_eq!(
        cart.items[0].url, None,
        "a link off the shop's hosts is dropped"
    );
    assert_eq!(
        cart.recovery_url.as_deref(),
        Some("https://shop.example/recover/k1")
    );
}
