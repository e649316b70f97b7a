//! Carts built from shopping events (`EventKind::CartChanged`) on every backend: the cart is what
//! its history folds to in the order of the events' own times (late and out-of-order clicks end
//! with the right cart), an older snapshot takes its place in that history, a redelivered click
//! adds nothing, and each newer click pushes the abandonment check back.
#![allow(clippy::unwrap_used)]

use cartback_core::{
    CartChange, CartSnapshot, CartStatus, ContactInfo, Currency, Event, EventKind, LineItem,
    LineOp, Money, Order,
};
use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use cartback_store::{
    CheckPlan, EffectKind, Ingest, IngestOutcome, IngestRules, OrderCandidates, SqlStore,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

fn line(sku: &str, qty: u32, unit: i64) -> LineItem {
    LineItem {
        product_id: Some(format!("p-{sku}")),
        variant_id: None,
        sku: Some(sku.into()),
        title: sku.to_uppercase(),
        variant_title: None,
        quantity: qty,
        unit_price: Money::new(unit, usd()),
        line_price: Money::new(unit * i64::from(qty), usd()),
        url: None,
        image_url: None,
    }
}

fn change(op: LineOp, sku: &str, qty: u32, at: i64) -> EventKind {
    EventKind::CartChanged(CartChange {
        key: "anon:visitor-1".into(),
        cart_token: None,
        contact: Some(ContactInfo {
            external_id: Some("anon:visitor-1".into()),
            ..Default::default()
        }),
        op,
        line: line(sku, qty, 1000),
        currency: usd(),
        recovery_url: None,
        at: t(at),
    })
}

fn snapshot(items: Vec<LineItem>, at: i64) -> EventKind {
    let total = items.iter().map(|l| l.line_price.minor).sum();
    EventKind::CartUpdated(CartSnapshot {
        key: "anon:visitor-1".into(),
        cart_token: None,
        checkout_token: None,
        platform_id: None,
        contact: None,
        items,
        currency: usd(),
        subtotal: Some(Money::new(total, usd())),
        total: Money::new(total, usd()),
        recovery_url: None,
        updated_at: t(at),
        completed_at: None,
    })
}

/// Every open cart with items is checked an hour after its last activity.
#[derive(Debug)]
struct HourAfter;

impl IngestRules for HourAfter {
    fn cart_check(&self, status: CartStatus, snap: &CartSnapshot) -> CheckPlan {
        if status == CartStatus::Open && !snap.items.is_empty() {
            CheckPlan::Due(snap.updated_at + Duration::hours(1))
        } else {
            CheckPlan::Cancel
        }
    }

    fn order_cart(&self, _: &Order, found: &OrderCandidates) -> Option<String> {
        found.by_cart_token.clone()
    }
}

async fn store(db: &TestDb) -> SqlStore {
    db.open_with_rules(std::sync::Arc::new(HourAfter))
        .await
        .unwrap()
}

/// Ingests one event (`id` is its event and delivery id) and returns the cart it touched.
async fn send(store: &SqlStore, id: &str, kind: EventKind) -> Option<String> {
    let ids = vec![id.to_string()];
    let events = [Event {
        source_id: "shop".into(),
        event_id: id.into(),
        topic: "track".into(),
        occurred_at: t(0),
        kind,
    }];
    let outcome = store
        .ingest(Ingest {
            source_id: "shop",
            delivery_ids: &ids,
            events: &events,
            received_at: t(100),
            trust: cartback_core::Trust::Verified,
        })
        .await
        .unwrap();
    match outcome {
        IngestOutcome::Accepted { effects } => match &effects[0].kind {
            EffectKind::CartUpserted { cart_id, .. } => Some(cart_id.clone()),
            other => panic!("{other:?}"),
        },
        IngestOutcome::Duplicate => None,
        other => panic!("{other:?}"),
    }
}

async fn lines(store: &SqlStore, cart_id: &str) -> (Vec<(String, u32)>, i64) {
    let cart = store.cart(cart_id).await.unwrap().unwrap().cart;
    let lines = cart
        .items
        .iter()
        .map(|l| (l.sku.clone().unwrap(), l.quantity))
        .collect();
    (lines, cart.total.minor)
}

cartback_store::on_every_backend!(
    out_of_order_clicks_end_with_the_right_cart,
    an_older_snapshot_takes_its_place_in_the_history,
    a_redelivered_click_adds_nothing,
    each_newer_click_pushes_the_check_back,
);

async fn out_of_order_clicks_end_with_the_right_cart(db: &TestDb) {
    let s = store(db).await;
    // Delivered: the remove (t=30) before the add it undoes (t=10); a tee added at t=20.
    let id = send(&s, "e1", change(LineOp::Remove, "mug", 0, 30))
        .await
        .unwrap();
    send(&s, "e2", change(LineOp::Add, "mug", 2, 10)).await;
    send(&s, "e3", change(LineOp::Add, "tee", 1, 20)).await;
    assert_eq!(lines(&s, &id).await, (vec![("tee".into(), 1)], 1000));
    send(&s, "e4", change(LineOp::Add, "tee", 2, 40)).await;
    assert_eq!(lines(&s, &id).await, (vec![("tee".into(), 3)], 3000));
    let cart = s.cart(&id).await.unwrap().unwrap().cart;
    assert_eq!(
        cart.updated_at,
        t(40),
        "the last activity, by the events' times"
    );
    assert_eq!(cart.status, CartStatus::Open);
}

async fn an_older_snapshot_takes_its_place_in_the_history(db: &TestDb) {
    let s = store(db).await;
    let id = send(&s, "e1", change(LineOp::Add, "mug", 1, 50))
        .await
        .unwrap();
    // A Cart Viewed from before the click arrives late: its lines, then the click on top.
    send(&s, "e2", snapshot(vec![line("hat", 1, 500)], 40)).await;
    assert_eq!(
        lines(&s, &id).await,
        (vec![("hat".into(), 1), ("mug".into(), 1)], 1500)
    );
    // A newer snapshot replaces everything.
    send(&s, "e3", snapshot(vec![line("cap", 2, 700)], 60)).await;
    assert_eq!(lines(&s, &id).await, (vec![("cap".into(), 2)], 1400));
    // And a click after it applies on top of it.
    send(&s, "e4", change(LineOp::Remove, "cap", 1, 70)).await;
    assert_eq!(lines(&s, &id).await, (vec![("cap".into(), 1)], 700));
}

async fn a_redelivered_click_adds_nothing(db: &TestDb) {
    let s = store(db).await;
    let id = send(&s, "e1", change(LineOp::Add, "mug", 1, 10))
        .await
        .unwrap();
    assert_eq!(
        send(&s, "e1", change(LineOp::Add, "mug", 1, 10)).await,
        None
    );
    assert_eq!(lines(&s, &id).await, (vec![("mug".into(), 1)], 1000));
}

async fn each_newer_click_pushes_the_check_back(db: &TestDb) {
    let s = store(db).await;
    send(&s, "e1", change(LineOp::Add, "mug", 1, 0)).await;
    send(&s, "e2", change(LineOp::Add, "tee", 1, 1800)).await;
    // A late click from before changes the lines, not the check.
    send(&s, "e3", change(LineOp::Add, "cap", 1, 900)).await;
    assert_eq!(s.pending_timers().await.unwrap(), 1);
    let lease = std::time::Duration::from_secs(60);
    assert!(s.claim_timers(t(3601), lease, 10).await.unwrap().is_empty());
    assert_eq!(s.claim_timers(t(5400), lease, 10).await.unwrap().len(), 1);
}
