//! Claims and vouches: what a public key may change about a shopper (nothing that makes them
//! reachable), and the opt-out a shopper made through the hub, which no provider overrides.
//! Every test runs on SQLite, SQLite with the journal, and PostgreSQL.
#![allow(clippy::unwrap_used)]

use cartback_core::{
    Consent, ContactInfo, Event, EventKind, OptOut, OptOutChannel, Trust, HUB_SOURCE,
};
use cartback_store::testdb::TestDb;
use cartback_store::{ContactRecord, EffectKind, Ingest, IngestOutcome, Store};
use chrono::{DateTime, TimeZone, Utc};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

fn info(email: &str, first: &str, consent: Consent) -> ContactInfo {
    ContactInfo {
        email: Some(email.into()),
        first_name: Some(first.into()),
        email_consent: consent,
        ..Default::default()
    }
}

/// Ingests one event from `source` with `trust`; returns the contact it touched, if any.
async fn send(
    store: &dyn Store,
    source: &str,
    id: &str,
    kind: EventKind,
    at: i64,
    trust: Trust,
) -> Option<String> {
    let events = [Event {
        source_id: source.into(),
        event_id: id.into(),
        topic: "test".into(),
        occurred_at: t(at),
        kind,
    }];
    let outcome = store
        .ingest(Ingest {
            source_id: source,
            delivery_ids: &[],
            events: &events,
            received_at: t(at),
            trust,
        })
        .await
        .unwrap();
    match outcome {
        IngestOutcome::Accepted { effects } => match &effects[0].kind {
            EffectKind::ContactUpserted { contact_id } => contact_id.clone(),
            _ => None,
        },
        other => panic!("{other:?}"),
    }
}

async fn contact(store: &dyn Store, id: &str) -> ContactRecord {
    store.contact(id).await.unwrap().unwrap()
}

cartback_store::on_every_backend!(
    a_claimed_address_is_kept_unverified_until_vouched_for,
    a_claim_never_overrides_what_is_known,
    a_hub_unsubscribe_is_never_undone_by_a_provider,
);

async fn a_claimed_address_is_kept_unverified_until_vouched_for(db: &TestDb) {
    let store = db.open().await.unwrap();
    let claimed = info("stranger@example.com", "Stranger", Consent::Subscribed);
    let id = send(
        &store,
        "web",
        "e1",
        EventKind::ContactUpdated(claimed),
        100,
        Trust::Claimed,
    )
    .await
    .unwrap();
    let c = contact(&store, &id).await;
    assert_eq!(c.info.email.as_deref(), Some("stranger@example.com"));
    assert!(!c.email_verified, "a public key's address is a claim");
    assert_eq!(
        c.info.email_consent,
        Consent::Unknown,
        "its consent is ignored"
    );

    // A claimed opt-out changes nothing either.
    let opt = OptOut {
        channel: OptOutChannel::Email,
        address: "stranger@example.com".into(),
        resubscribe: false,
    };
    send(
        &store,
        "web",
        "e2",
        EventKind::OptOut(opt),
        110,
        Trust::Claimed,
    )
    .await;
    assert_eq!(
        contact(&store, &id).await.info.email_consent,
        Consent::Unknown
    );

    // A signed source reporting the same address vouches for it.
    let vouched = info("Stranger@Example.com", "Sam", Consent::Subscribed);
    let same = send(
        &store,
        "shop",
        "e3",
        EventKind::ContactUpdated(vouched),
        200,
        Trust::Verified,
    )
    .await
    .unwrap();
    assert_eq!(same, id);
    let c = contact(&store, &id).await;
    assert!(c.email_verified);
    assert_eq!(c.info.email_consent, Consent::Subscribed);
}

async fn a_claim_never_overrides_what_is_known(db: &TestDb) {
    let store = db.open().await.unwrap();
    let ann = ContactInfo {
        phone: Some("+14158675309".into()),
        sms_consent: Consent::Subscribed,
        ..info("ann@example.com", "Ann", Consent::Subscribed)
    };
    let id = send(
        &store,
        "shop",
        "e1",
        EventKind::ContactUpdated(ann),
        100,
        Trust::Verified,
    )
    .await
    .unwrap();
    // A newer claim for the same address: another name, an unsubscribe, a new phone.
    let forged = ContactInfo {
        phone: Some("+14155550100".into()),
        last_name: Some("Doe".into()),
        ..info("ann@example.com", "ACTION REQUIRED", Consent::Unsubscribed)
    };
    let same = send(
        &store,
        "web",
        "e2",
        EventKind::ContactUpdated(forged),
        500,
        Trust::Claimed,
    )
    .await
    .unwrap();
    assert_eq!(same, id);
    let c = contact(&store, &id).await;
    assert_eq!(c.info.first_name.as_deref(), Some("Ann"));
    assert_eq!(
        c.info.last_name.as_deref(),
        Some("Doe"),
        "gaps may be filled"
    );
    assert_eq!(c.info.email_consent, Consent::Subscribed);
    assert_eq!(c.info.phone.as_deref(), Some("+14158675309"));
    assert!(c.email_verified && c.phone_verified);

    // A claim that adds a phone to a contact that had none leaves it unverified.
    let bob = info("bob@example.com", "Bob", Consent::Subscribed);
    let bob_id = send(
        &store,
        "shop",
        "e3",
        EventKind::ContactUpdated(bob),
        100,
        Trust::Verified,
    )
    .await
    .unwrap();
    let with_phone = ContactInfo {
        phone: Some("+14155550111".into()),
        ..info("bob@example.com", "Bob", Consent::Unknown)
    };
    send(
        &store,
        "web",
        "e4",
        EventKind::ContactUpdated(with_phone),
        600,
        Trust::Claimed,
    )
    .await;
    let c = contact(&store, &bob_id).await;
    assert_eq!(c.info.phone.as_deref(), Some("+14155550111"));
    assert!(c.email_verified);
    assert!(!c.phone_verified);
}

async fn a_hub_unsubscribe_is_never_undone_by_a_provider(db: &TestDb) {
    let store = db.open().await.unwrap();
    let ann = info("ann@example.com", "Ann", Consent::Subscribed);
    let id = send(
        &store,
        "shop",
        "e1",
        EventKind::ContactUpdated(ann),
        100,
        Trust::Verified,
    )
    .await
    .unwrap();
    let opt = |resubscribe| {
        EventKind::OptOut(OptOut {
            channel: OptOutChannel::Email,
            address: "ann@example.com".into(),
            resubscribe,
        })
    };
    // A provider's opt-out and resubscribe (no hub opt-out yet) are honoured.
    send(&store, "sendgrid", "e2", opt(false), 200, Trust::Verified).await;
    assert_eq!(
        contact(&store, &id).await.info.email_consent,
        Consent::Unsubscribed
    );
    send(&store, "sendgrid", "e3", opt(true), 300, Trust::Verified).await;
    assert_eq!(
        contact(&store, &id).await.info.email_consent,
        Consent::Subscribed
    );

    // The shopper unsubscribes through the hub's own link.
    send(&store, HUB_SOURCE, "e4", opt(false), 400, Trust::Verified).await;
    assert_eq!(
        contact(&store, &id).await.info.email_consent,
        Consent::Unsubscribed
    );
    // A provider's group_resubscribe, and a platform's newer "subscribed", change nothing.
    send(&store, "sendgrid", "e5", opt(true), 500, Trust::Verified).await;
    let platform = info("ann@example.com", "Ann", Consent::Subscribed);
    send(
        &store,
        "shop",
        "e6",
        EventKind::ContactUpdated(platform),
        600,
        Trust::Verified,
    )
    .await;
    assert_eq!(
        contact(&store, &id).await.info.email_consent,
        Consent::Unsubscribed
    );
}
