//! "Why they left": survey answers kept once per cart, counted per reason and value band for a
//! flow's report, free text newest first; on SQLite, SQLite with the journal, and PostgreSQL.
#![allow(clippy::unwrap_used)]

use cartback_core::{ContactInfo, Erasure, Event, EventKind, Trust};
use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use cartback_store::{
    EffectKind, Ingest, IngestOutcome, NewRun, RunRecord, RunStatus, Store, SurveyAnswer,
    TimerCommit,
};
use chrono::{DateTime, TimeZone, Utc};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

fn run(i: usize, test: bool) -> NewRun {
    NewRun {
        run: RunRecord {
            id: format!("run-{i}"),
            flow_id: "recover".into(),
            cart_id: format!("cart-{i}"),
            contact_id: None,
            variant: None,
            holdout: false,
            status: RunStatus::Completed,
            step: 1,
            test,
            enrolled_at: t(0),
            updated_at: t(0),
            exit_reason: None,
        },
        reenter: None,
        first_step_at: None,
        trigger: None,
    }
}

fn answer(i: usize, reason: &str, band: &str, text: Option<&str>, at: i64) -> SurveyAnswer {
    SurveyAnswer {
        id: format!("a-{i}-{at}"),
        cart_id: format!("cart-{i}"),
        survey_id: "why".into(),
        reason: reason.into(),
        text: text.map(str::to_string),
        contact_id: None,
        flow_id: "recover".into(),
        run_id: format!("run-{i}"),
        step: 0,
        variant: None,
        message_id: format!("m-{i}"),
        channel_id: "email".into(),
        value_band: band.into(),
        total_minor: Some(4200),
        currency: Some("USD".into()),
        test: false,
        answered_at: t(at),
    }
}

cartback_store::on_every_backend!(
    one_answer_per_cart_counted_per_reason_and_band,
    erasure_keeps_the_reason_and_drops_who_and_their_words,
);

/// Ingests one verified event; returns the contact it touched, if any.
async fn ingest(store: &dyn Store, id: &str, kind: EventKind) -> Option<String> {
    let events = [Event {
        source_id: "shop".into(),
        event_id: id.into(),
        topic: "test".into(),
        occurred_at: t(1),
        kind,
    }];
    let outcome = store
        .ingest(Ingest {
            source_id: "shop",
            delivery_ids: &[],
            events: &events,
            received_at: t(1),
            trust: Trust::Verified,
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

async fn erasure_keeps_the_reason_and_drops_who_and_their_words(db: &TestDb) {
    let store = db.open().await.unwrap();
    let ann = ContactInfo {
        email: Some("ann@example.com".into()),
        ..Default::default()
    };
    let contact = ingest(&store, "e1", EventKind::ContactUpdated(ann))
        .await
        .unwrap();
    let mut commit = TimerCommit::default();
    commit.enrol.push(run(0, false));
    store.apply(commit, t(0)).await.unwrap();
    let mut a = answer(0, "other", "under_50", Some("too dear"), 10);
    a.contact_id = Some(contact.clone());
    assert!(store.record_survey_answer(&a).await.unwrap());
    let data = store
        .survey_report("recover", t(-10), t(10), 5)
        .await
        .unwrap();
    assert_eq!(data.texts[0].email.as_deref(), Some("ann@example.com"));

    let erase = Erasure::Contact {
        email: Some("ann@example.com".into()),
        phone: None,
        external_id: None,
        order_ids: vec![],
    };
    ingest(&store, "e2", EventKind::Erasure(erase)).await;
    let kept = store.survey_answer("cart-0").await.unwrap().unwrap();
    assert_eq!((kept.contact_id, kept.text), (None, None));
    let data = store
        .survey_report("recover", t(-10), t(10), 5)
        .await
        .unwrap();
    assert_eq!(data.counts.len(), 1, "the reason still counts");
    assert_eq!(data.counts[0].answers, 1);
    assert!(data.texts.is_empty(), "their words are gone");
}

async fn one_answer_per_cart_counted_per_reason_and_band(db: &TestDb) {
    let store = db.open().await.unwrap();
    let mut commit = TimerCommit::default();
    for i in 0..5 {
        commit.enrol.push(run(i, i == 4));
    }
    store.apply(commit, t(0)).await.unwrap();

    assert!(store
        .record_survey_answer(&answer(0, "shipping_cost", "under_50", None, 10))
        .await
        .unwrap());
    // The same cart again (another message, a double submit): nothing changes.
    assert!(!store
        .record_survey_answer(&answer(0, "just_looking", "under_50", None, 11))
        .await
        .unwrap());
    let kept = store.survey_answer("cart-0").await.unwrap().unwrap();
    assert_eq!(kept.reason, "shipping_cost");
    assert_eq!(kept.answered_at, t(10));
    assert!(store.survey_answer("cart-1").await.unwrap().is_none());

    store
        .record_survey_answer(&answer(1, "shipping_cost", "150_and_over", None, 20))
        .await
        .unwrap();
    store
        .record_survey_answer(&answer(2, "other", "under_50", Some("older words"), 30))
        .await
        .unwrap();
    store
        .record_survey_answer(&answer(3, "other", "under_50", Some("newest words"), 40))
        .await
        .unwrap();
    // A test run's answer is not counted.
    store
        .record_survey_answer(&answer(4, "other", "under_50", Some("test"), 50))
        .await
        .unwrap();

    let data = store
        .survey_report("recover", t(-10), t(10), 1)
        .await
        .unwrap();
    let mut counts: Vec<(String, String, u64)> = data
        .counts
        .iter()
        .map(|c| (c.reason.clone(), c.value_band.clone(), c.answers))
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![
            ("other".into(), "under_50".into(), 2),
            ("shipping_cost".into(), "150_and_over".into(), 1),
            ("shipping_cost".into(), "under_50".into(), 1),
        ]
    );
    assert_eq!(data.texts.len(), 1, "capped");
    assert_eq!(data.texts[0].text, "newest words");
    // Runs enrolled outside the window count nothing.
    let none = store
        .survey_report("recover", t(100), t(200), 10)
        .await
        .unwrap();
    assert!(none.counts.is_empty() && none.texts.is_empty());
}
