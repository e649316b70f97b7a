//! What the store's behaviour tests share: times, carts, events, a stand-in for the engine's
//! rules. (Not every test file uses every helper.)
#![allow(dead_code, clippy::unwrap_used)]

use cartback_core::{
    CartSnapshot, CartStatus, Consent, ContactInfo, Currency, Event, EventKind, LineItem, Money,
    Order,
};
use cartback_store::testdb::TestDb;
use cartback_store::{
    CheckPlan, EffectKind, Ingest, IngestOutcome, IngestRules, OrderCandidates, SqlStore, Store,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

pub fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").unwrap())
}

pub fn contact(email: &str) -> ContactInfo {
    ContactInfo {
        email: Some(email.to_string()),
        first_name: Some("Ann".into()),
        email_consent: Consent::Subscribed,
        ..Default::default()
    }
}

pub fn snapshot(
    key: &str,
    checkout: Option<&str>,
    email: Option<&str>,
    qty: u32,
    at: i64,
) -> CartSnapshot {
    CartSnapshot {
        key: key.into(),
        cart_token: Some(key.into()),
        checkout_token: checkout.map(Into::into),
        platform_id: None,
        contact: email.map(contact),
        items: vec![LineItem {
            product_id: Some("9007199254740993".into()),
            variant_id: Some("1".into()),
            sku: Some("SKU-1".into()),
            title: "Mug".into(),
            variant_title: None,
            quantity: qty,
            unit_price: usd(1250),
            line_price: usd(1250 * i64::from(qty)),
            url: None,
            image_url: None,
        }],
        currency: Currency::parse("USD").unwrap(),
        subtotal: Some(usd(1250 * i64::from(qty))),
        total: usd(1250 * i64::from(qty)),
        recovery_url: Some(format!("https://shop.example/recover/{key}")),
        updated_at: t(at),
        completed_at: None,
    }
}

pub fn event(id: &str, kind: EventKind, at: i64) -> Event {
    Event {
        source_id: "shop".into(),
        event_id: id.into(),
        topic: "test".into(),
        occurred_at: t(at),
        kind,
    }
}

pub async fn ingest(store: &dyn Store, delivery: &str, events: Vec<Event>) -> IngestOutcome {
    let ids = vec![delivery.to_string()];
    store
        .ingest(Ingest {
            source_id: "shop",
            delivery_ids: &ids,
            events: &events,
            received_at: t(10_000),
            trust: cartback_core::Trust::Verified,
        })
        .await
        .unwrap()
}

/// A fixture standing in for the engine's rules (`cartback_engine::rules`, tested there): the
/// store's part is to gather the candidates, ask, and write the answer. This one schedules every
/// open cart with items an hour after its update, and takes the first candidate it is given.
#[derive(Debug)]
pub struct TestRules;

impl IngestRules for TestRules {
    fn cart_check(&self, status: CartStatus, snap: &CartSnapshot) -> CheckPlan {
        if status == CartStatus::Open && !snap.items.is_empty() {
            CheckPlan::Due(snap.updated_at + Duration::hours(1))
        } else {
            CheckPlan::Cancel
        }
    }

    fn order_cart(&self, _: &Order, found: &OrderCandidates) -> Option<String> {
        found
            .by_checkout
            .clone()
            .or_else(|| found.by_cart_token.clone())
            .or_else(|| found.contact_carts.first().map(|(id, _)| id.clone()))
    }
}

pub async fn open_with_rules(db: &TestDb) -> SqlStore {
    db.open_with_rules(std::sync::Arc::new(TestRules))
        .await
        .unwrap()
}

pub async fn open_store(db: &TestDb) -> SqlStore {
    db.open().await.unwrap()
}

pub fn cart_id(outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Accepted { effects } => match &effects[0].kind {
            EffectKind::CartUpserted { cart_id, .. } => cart_id.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}
