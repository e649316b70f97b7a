//! Attribution and reports: last touch, window edges, holdout, currencies; then a report over a
//! seeded store whose answers (including the z-test) are known by hand.
#![allow(clippy::unwrap_used)]

use cartback_core::{Currency, EventKind, MessageStatus, MessageStatusUpdate, Money, Order};
use cartback_e2e::rig::*;
use cartback_store::prelude::*;
use cartback_store::{
    ConversionRow, NewMessage, NewRun, RunRecord, RunStatus, SqlStore, SqlValue, TimerCommit,
};
use chrono::{Duration as CDuration, TimeZone, Utc};
use std::collections::BTreeMap;

const TWO_EMAILS: &str = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
attribution_window = "2d"
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
  [[flow.recover.step]]
  wait = "1d"
  send = { channel = "email", template = "cart_sms" }
"#;

/// `order_in(rig, key, currency, amount)`: an order converting the cart `key`.
macro_rules! impl_order {
    () => {
        async fn order_in(r: &mut Rig, key: &str, currency: &str, amount: &str) {
            let at = r.clock_now();
            let c = Currency::parse(currency).unwrap();
            r.ingest(EventKind::OrderPlaced(Order {
                order_id: format!("o-{key}"),
                name: None,
                checkout_token: Some(format!("chk-{key}")),
                cart_token: None,
                contact: None,
                total: Money::parse_decimal(amount, c).unwrap(),
                items: vec![],
                placed_at: at,
                test: false,
            }))
            .await;
            r.engine.run_due().await.unwrap();
        }
    };
}

impl_order!();

async fn status(r: &mut Rig, message_id: &str, s: MessageStatus) {
    r.ingest(EventKind::MessageStatus(MessageStatusUpdate {
        message_id: Some(message_id.into()),
        provider_message_id: None,
        status: s,
        url: None,
    }))
    .await;
}

async fn report(r: &Rig) -> cartback_engine::report::FlowReport {
    let now = r.clock_now();
    r.engine
        .report(
            "recover",
            now - CDuration::days(30),
            now + CDuration::days(1),
        )
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn last_click_beats_a_later_delivery() {
    let mut r = rig(TWO_EMAILS).await;
    r.cart("k1", "ann@test.io", 1).await;
    r.advance(H + 60).await;
    let first = r.email.sent()[0].id.clone();
    status(&mut r, &first, MessageStatus::Delivered).await;
    status(&mut r, &first, MessageStatus::Clicked).await;
    r.advance(25 * H).await;
    let second = r.email.sent()[1].id.clone();
    status(&mut r, &second, MessageStatus::Delivered).await;
    order_in(&mut r, "k1", "USD", "25.00").await;
    let rep = report(&r).await;
    assert_eq!(rep.treated.converted, 1);
    let s1 = rep.steps.iter().find(|s| s.step == 1).unwrap();
    let s2 = rep.steps.iter().find(|s| s.step == 2).unwrap();
    assert_eq!(
        (s1.stats.converted, s2.stats.converted),
        (1, 0),
        "credited to the clicked message"
    );
    assert_eq!(s1.stats.revenue["USD"], "25.00");
    assert_eq!(s1.stats.click_rate, Some(1.0));
    // Numbered from 1 and named by what they do, as in the runs API and check-config.
    assert_eq!(
        (s1.name.as_str(), s2.name.as_str()),
        ("cart_email via email", "cart_sms via email")
    );
}

#[tokio::test]
async fn without_a_click_the_last_delivered_message_is_credited() {
    let mut r = rig(TWO_EMAILS).await;
    r.cart("k1", "ann@test.io", 1).await;
    r.advance(H + 60).await;
    let first = r.email.sent()[0].id.clone();
    status(&mut r, &first, MessageStatus::Delivered).await;
    r.advance(25 * H).await;
    let second = r.email.sent()[1].id.clone();
    status(&mut r, &second, MessageStatus::Delivered).await;
    order_in(&mut r, "k1", "USD", "25.00").await;
    let rep = report(&r).await;
    let s2 = rep.steps.iter().find(|s| s.step == 2).unwrap();
    assert_eq!(s2.stats.converted, 1);
    assert_eq!(
        rep.steps
            .iter()
            .find(|s| s.step == 1)
            .unwrap()
            .stats
            .converted,
        0
    );
}

#[tokio::test]
async fn the_attribution_window_has_edges() {
    let one = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
attribution_window = "2d"
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
"#;
    // Inside: an order 2 days minus a minute after enrolment.
    let mut r = rig(one).await;
    r.cart("in", "in@test.io", 1).await;
    r.advance(H + 60).await;
    r.clock
        .advance(std::time::Duration::from_secs(2 * 24 * 3600 - 60));
    order_in(&mut r, "in", "USD", "10.00").await;
    assert_eq!(report(&r).await.treated.converted, 1);
    // Outside: a minute past the window.
    let mut r = rig(one).await;
    r.cart("out", "out@test.io", 1).await;
    r.advance(H + 60).await;
    r.clock
        .advance(std::time::Duration::from_secs(2 * 24 * 3600 + 60));
    order_in(&mut r, "out", "USD", "10.00").await;
    let rep = report(&r).await;
    assert_eq!(rep.treated.converted, 0);
    assert!(rep.treated.revenue.is_empty());
}

#[tokio::test]
async fn holdout_conversions_count_for_the_control_group_and_currencies_stay_apart() {
    let flows = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
holdout_percent = 100
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
"#;
    let mut r = rig(flows).await;
    let eur = Currency::parse("EUR").unwrap();
    r.cart("usd", "a@test.io", 1).await;
    let at = r.clock_now();
    r.ingest(EventKind::CheckoutStarted(snapshot(
        "eur",
        contact("b@test.io"),
        vec![item("Tee", 1, Money::parse_decimal("20", eur).unwrap())],
        at,
    )))
    .await;
    r.advance(H + 60).await;
    assert!(r.email.sent().is_empty(), "holdout gets nothing");
    order_in(&mut r, "usd", "USD", "25.00").await;
    order_in(&mut r, "eur", "EUR", "19.99").await;
    let rep = report(&r).await;
    assert_eq!((rep.holdout.enrolled, rep.holdout.converted), (2, 2));
    assert_eq!(rep.treated.enrolled, 0);
    assert_eq!(
        rep.holdout.revenue,
        BTreeMap::from([
            ("EUR".into(), "19.99".into()),
            ("USD".into(), "25.00".into())
        ])
    );
    assert!(rep.comparison.is_none(), "no treated group to compare");
}

fn t(days: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + CDuration::days(days)
}

fn run(i: usize, holdout: bool) -> RunRecord {
    RunRecord {
        id: format!("run-{i}"),
        flow_id: "recover".into(),
        cart_id: format!("cart-{i}"),
        contact_id: None,
        variant: Some(if i.is_multiple_of(2) { "a" } else { "b" }.into()),
        holdout,
        status: if holdout {
            RunStatus::HeldOut
        } else {
            RunStatus::Completed
        },
        step: 1,
        test: false,
        enrolled_at: t(1),
        updated_at: t(1),
        exit_reason: None,
    }
}

#[tokio::test]
async fn a_seeded_store_reports_known_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(&format!("sqlite://{}", dir.path().join("r.db").display()))
        .await
        .unwrap();
    let mut commit = TimerCommit::default();
    // 500 treated runs (each sent one email) and 500 held out.
    for i in 0..1000 {
        commit.enrol.push(NewRun {
            run: run(i, i >= 500),
            reenter: None,
            first_step_at: None,
            trigger: None,
        });
    }
    for i in 0..500 {
        let mut m = cartback_core::OutboundMessage {
            id: format!("msg-{i}"),
            channel_id: "email".into(),
            to: Default::default(),
            subject: None,
            html: None,
            text: Some("x".into()),
            headers: Default::default(),
            metadata: Default::default(),
            contact: None,
            cart: None,
            test: false,
            discount_code: None,
            purpose: Default::default(),
        };
        m.to.email = Some(format!("c{i}@test.io"));
        commit.outbox.push(NewMessage {
            message: m,
            run_id: format!("run-{i}"),
            step: 0,
            contact_id: None,
            cart_id: None,
            cap: None,
            links: vec![],
        });
    }
    // 60 treated conversions (credited to the email), 40 holdout; USD 25.00 each, plus one EUR order.
    for i in (0..60).chain(500..540) {
        let holdout = i >= 500;
        commit.conversions.push(ConversionRow {
            source_id: "shop".into(),
            order_id: format!("o-{i}"),
            run_id: format!("run-{i}"),
            flow_id: "recover".into(),
            variant: run(i, holdout).variant,
            holdout,
            message_id: (!holdout).then(|| format!("msg-{i}")),
            step: (!holdout).then_some(0),
            channel_id: (!holdout).then(|| "email".into()),
            touch: if holdout { "none" } else { "clicked" }.into(),
            revenue_minor: 2500,
            currency: "USD".into(),
            placed_at: t(2),
            enrolled_at: t(1),
        });
    }
    commit.conversions.push(ConversionRow {
        source_id: "shop".into(),
        order_id: "o-eur".into(),
        run_id: "run-0".into(),
        flow_id: "recover".into(),
        variant: Some("a".into()),
        holdout: false,
        message_id: Some("msg-0".into()),
        step: Some(0),
        channel_id: Some("email".into()),
        touch: "clicked".into(),
        revenue_minor: 1999,
        currency: "EUR".into(),
        placed_at: t(2),
        enrolled_at: t(1),
    });
    store.apply(commit, t(1)).await.unwrap();
    let at = SqlValue::Int(t(1).timestamp_millis());
    let mut statements = vec![(
        "UPDATE outbox SET status = 'sent', sent_at = $1".to_string(),
        vec![at.clone()],
    )];
    // 400 delivered, 100 of them clicked, 5 unsubscribed.
    for i in 0..400 {
        let mut events = vec!["delivered"];
        if i < 100 {
            events.push("clicked");
        }
        if i >= 395 {
            events.push("unsubscribed");
        }
        for e in events {
            statements.push((
                "INSERT INTO message_events (message_id, status, at) VALUES ($1, $2, $3)".into(),
                vec![
                    SqlValue::Text(format!("msg-{i}")),
                    SqlValue::Text(e.into()),
                    at.clone(),
                ],
            ));
        }
    }
    store.execute_all(statements).await.unwrap();
    let data = store.report_data("recover", t(0), t(10)).await.unwrap();
    let rep = cartback_engine::report::build("recover", t(0), t(10), &data);
    assert_eq!((rep.enrolled, rep.held_out), (1000, 500));
    assert_eq!((rep.treated.enrolled, rep.treated.converted), (500, 60));
    assert_eq!((rep.holdout.enrolled, rep.holdout.converted), (500, 40));
    assert!((rep.treated.conversion_rate - 0.12).abs() < 1e-12);
    assert_eq!(
        rep.treated.revenue,
        BTreeMap::from([
            ("EUR".into(), "19.99".into()),
            ("USD".into(), "1500.00".into())
        ])
    );
    assert_eq!(
        rep.holdout.revenue,
        BTreeMap::from([("USD".into(), "1000.00".into())])
    );
    // By hand: pooled p = 0.10, se = sqrt(0.1 * 0.9 * 2/500) = 0.0189737, z = 0.04 / se = 2.108185,
    // p = erfc(z / sqrt 2) = 0.035015.
    let c = rep.comparison.as_ref().unwrap();
    assert!((c.uplift - 0.04).abs() < 1e-12);
    assert!((c.z - 2.108_185).abs() < 1e-5, "{}", c.z);
    assert!((c.p_value - 0.035_015).abs() < 1e-5, "{}", c.p_value);
    let step = &rep.steps[0];
    assert_eq!((step.step, step.channel.as_str()), (1, "email"));
    assert_eq!(
        (
            step.stats.sent,
            step.stats.delivered,
            step.stats.opened,
            step.stats.clicked,
            step.stats.unsubscribed
        ),
        (500, 400, 100, 100, 5)
    );
    assert_eq!(step.stats.click_rate, Some(0.25));
    assert_eq!(step.stats.converted, 61);
    assert_eq!(rep.variants.len(), 2);
    let a = rep.variants.iter().find(|v| v.variant == "a").unwrap();
    assert_eq!((a.group.enrolled, a.group.converted), (250, 30));
    // The window excludes runs enrolled outside it.
    let empty = store.report_data("recover", t(5), t(10)).await.unwrap();
    assert_eq!(
        cartback_engine::report::build("recover", t(5), t(10), &empty).enrolled,
        0
    );
}
