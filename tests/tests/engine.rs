//! The engine against a real SQLite store, driven by a manual clock: abandonment, debounce,
//! purchase exits, conditions, holdout, re-entry, caps, quiet hours, consent, templates, test mode,
//! and a restart with pending timers.
#![allow(clippy::unwrap_used)]

use cartback_core::{
    Consent, ContactInfo, Currency, EventKind, ManualClock, MessageStatus, MessageStatusUpdate,
    Money,
};
use cartback_e2e::rig::*;
use cartback_store::{MessageFilter, OutboxStatus, RunStatus};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

const ONE_STEP: &str = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  wait = "0s"
  send = { channel = "email", template = "cart_email" }
"#;

const TWO_STEPS: &str = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  wait = "0s"
  send = { channel = "email", template = "cart_email" }
  [[flow.recover.step]]
  wait = "1d"
  unless = ["purchased", "clicked"]
  send = { channel = "email", template = "cart_sms" }
"#;

#[tokio::test]
async fn abandoned_after_the_threshold_and_not_before() {
    let mut r = rig(ONE_STEP).await;
    r.cart("k1", "ann@test.io", 2).await;
    r.advance(59 * 60).await;
    assert!(r.email.sent().is_empty(), "sent before the threshold");
    r.advance(2 * 60).await;
    let sent = r.email.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.email.as_deref(), Some("ann@test.io"));
    assert_eq!(sent[0].subject.as_deref(), Some("Ann, you left 2 items"));
    let id = r.cart_id("ann@test.io").await;
    assert_eq!(
        r.store.cart(&id).await.unwrap().unwrap().cart.status,
        cartback_core::CartStatus::Abandoned
    );
    // Nothing further: one run per cart.
    r.advance(10 * H).await;
    assert_eq!(r.email.sent().len(), 1);
    assert_eq!(r.store.pending_timers().await.unwrap(), 0);
}

#[tokio::test]
async fn every_update_pushes_the_check_back() {
    let mut r = rig(ONE_STEP).await;
    r.cart("k1", "ann@test.io", 1).await;
    r.advance(40 * 60).await;
    r.cart("k1", "ann@test.io", 2).await; // updated at +40m
    r.advance(30 * 60).await; // +70m: 30m since the update
    assert!(r.email.sent().is_empty());
    r.advance(31 * 60).await; // +101m: 61m since the update
    assert_eq!(r.email.sent().len(), 1);
    assert!(r.email.sent()[0]
        .text
        .as_deref()
        .unwrap()
        .starts_with("2 x Blue Mug"));
}

#[tokio::test]
async fn purchase_before_the_threshold_sends_nothing() {
    let mut r = rig(ONE_STEP).await;
    r.cart("k1", "ann@test.io", 1).await;
    r.advance(30 * 60).await;
    r.order("k1").await;
    r.advance(5 * H).await;
    assert!(r.email.sent().is_empty());
    let id = r.cart_id("ann@test.io").await;
    assert!(r.store.runs_for_cart(&id).await.unwrap().is_empty());
}

#[tokio::test]
async fn purchase_between_steps_stops_the_next_step() {
    let mut r = rig(TWO_STEPS).await;
    r.cart("k1", "ann@test.io", 1).await;
    r.advance(H + 60).await;
    assert_eq!(r.email.sent().len(), 1);
    r.order("k1").await;
    r.advance(25 * H).await;
    assert_eq!(r.email.sent().len(), 1, "second step sent after purchase");
    let id = r.cart_id("ann@test.io").await;
    let runs = r.store.runs_for_cart(&id).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::Converted);
}

#[tokio::test]
async fn unless_clicked_skips_the_step() {
    let mut r = rig(TWO_STEPS).await;
    r.cart("k1", "ann@test.io", 1).await;
    r.cart("k2", "bob@test.io", 1).await;
    r.advance(H + 60).await;
    let first = r.email.sent();
    assert_eq!(first.len(), 2);
    let ann_msg = first
        .iter()
        .find(|m| m.to.email.as_deref() == Some("ann@test.io"))
        .unwrap()
        .id
        .clone();
    r.ingest(EventKind::MessageStatus(MessageStatusUpdate {
        message_id: Some(ann_msg),
        provider_message_id: None,
        status: MessageStatus::Clicked,
        url: None,
    }))
    .await;
    r.advance(25 * H).await;
    let second: Vec<_> = r.email.sent().into_iter().skip(2).collect();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0].to.email.as_deref(), Some("bob@test.io"));
}

#[tokio::test]
async fn holdout_sends_nothing_and_is_stable_across_restart() {
    let flows = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
holdout_percent = 50
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
"#;
    let mut r = rig(flows).await;
    let n = 400;
    for i in 0..n {
        r.cart(&format!("k{i}"), &format!("c{i}@test.io"), 1).await;
    }
    r.advance(H + 60).await;
    let sent = r.email.sent().len();
    // Binomial(400, 0.5): sd 10; 4 sd either side.
    assert!((160..=240).contains(&sent), "{sent}");
    let mut held = 0;
    let mut assignment = BTreeMap::new();
    for i in 0..n {
        let id = r.cart_id(&format!("c{i}@test.io")).await;
        let runs = r.store.runs_for_cart(&id).await.unwrap();
        assert_eq!(runs.len(), 1);
        held += usize::from(runs[0].holdout);
        assignment.insert(i, runs[0].holdout);
    }
    assert_eq!(held + sent, n);
    // Restart on the same database with new carts for the same contacts: same groups.
    let dir = r.dir;
    drop(r.engine);
    r.store.close().await;
    let mut r2 = rig_in(
        dir,
        flows,
        ManualClock::new(t0() + chrono::Duration::days(30)),
    )
    .await;
    for i in 0..50 {
        r2.cart(&format!("again{i}"), &format!("c{i}@test.io"), 1)
            .await;
    }
    r2.advance(H + 60).await;
    for i in 0..50 {
        let carts = r2
            .store
            .carts(&cartback_store::CartFilter {
                email: Some(format!("c{i}@test.io")),
                ..Default::default()
            })
            .await
            .unwrap();
        let newest = carts
            .iter()
            .find(|c| c.cart.key.starts_with("again"))
            .unwrap();
        let runs = r2.store.runs_for_cart(&newest.cart.id).await.unwrap();
        assert_eq!(runs[0].holdout, assignment[&i], "contact {i} changed group");
    }
}

#[tokio::test]
async fn reentry_is_capped_per_contact() {
    let flows = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
reenter = { max = 1, within = "7d" }
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
"#;
    let mut r = rig(flows).await;
    r.cart("k1", "ann@test.io", 1).await;
    r.advance(H + 60).await;
    r.cart("k2", "ann@test.io", 1).await;
    r.advance(H + 60).await;
    assert_eq!(r.email.sent().len(), 1, "re-entered within 7 days");
    r.advance(8 * 24 * H).await;
    r.cart("k3", "ann@test.io", 1).await;
    r.advance(H + 60).await;
    assert_eq!(r.email.sent().len(), 2, "allowed again after 7 days");
}

#[tokio::test]
async fn a_cross_flow_cap_keeps_flows_from_stacking() {
    let flows = r#"
[flow.a]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.a.step]]
  send = { channel = "email", template = "cart_email" }
[flow.b]
trigger = "cart_abandoned"
abandon_after = "2h"
  [[flow.b.step]]
  send = { channel = "email", template = "cart_sms" }
[limits]
email = "1/16h"
"#;
    let mut r = rig(flows).await;
    r.cart("k1", "ann@test.io", 1).await;
    r.advance(3 * H).await;
    assert_eq!(r.email.sent().len(), 1);
    let capped = r
        .store
        .messages(&MessageFilter {
            status: Some(OutboxStatus::Capped),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(capped.len(), 1, "the capped send is recorded");
    r.advance(48 * H).await;
    assert_eq!(
        r.email.sent().len(),
        1,
        "a capped send is never queued again"
    );
}

#[tokio::test]
async fn quiet_hours_defer_across_midnight_in_each_time_zone() {
    let flows = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
quiet_hours = { from = "21:00", to = "09:00" }
timezone = "UTC"
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
"#;
    // Start at 20:30 UTC: abandoned at 21:30 UTC = 22:30 Paris (quiet), 16:30 New York (not quiet).
    let dir = tempfile::tempdir().unwrap();
    let mut r = rig_in(
        dir,
        flows,
        ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 20, 30, 0).unwrap()),
    )
    .await;
    for (key, email, tz) in [
        ("p", "paris@test.io", "Europe/Paris"),
        ("n", "ny@test.io", "America/New_York"),
    ] {
        let c = ContactInfo {
            time_zone: Some(tz.into()),
            ..contact(email)
        };
        let at = r.clock_now();
        r.ingest(EventKind::CheckoutStarted(snapshot(
            key,
            c,
            vec![item("Mug", 1, usd(100))],
            at,
        )))
        .await;
    }
    r.advance(H + 60).await; // 21:31 UTC
    let sent: Vec<_> = r
        .email
        .sent()
        .iter()
        .map(|m| m.to.email.clone().unwrap())
        .collect();
    assert_eq!(sent, vec!["ny@test.io"]);
    r.advance(10 * H).await; // 07:31 UTC = 08:31 Paris: still quiet
    assert_eq!(r.email.sent().len(), 1);
    r.advance(30 * 60).await; // 08:01 UTC = 09:01 Paris
    assert_eq!(r.email.sent().len(), 2);
    assert_eq!(r.email.sent()[1].to.email.as_deref(), Some("paris@test.io"));
}

#[tokio::test]
async fn consent_is_required_and_opt_outs_are_final() {
    let flows = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
  [[flow.recover.step]]
  wait = "1h"
  send = { channel = "sms", template = "cart_sms" }
"#;
    let mut r = rig(flows).await;
    let at = r.clock_now();
    let unsub = ContactInfo {
        email_consent: Consent::Unsubscribed,
        phone: Some("+14155550100".into()),
        ..contact("unsub@test.io")
    };
    r.ingest(EventKind::CheckoutStarted(snapshot(
        "u",
        unsub,
        vec![item("Mug", 1, usd(100))],
        at,
    )))
    .await;
    let no_sms = ContactInfo {
        phone: Some("+14155550101".into()),
        sms_consent: Consent::NotSubscribed,
        ..contact("nosms@test.io")
    };
    r.ingest(EventKind::CheckoutStarted(snapshot(
        "n",
        no_sms,
        vec![item("Mug", 1, usd(100))],
        at,
    )))
    .await;
    let both = ContactInfo {
        phone: Some("+14155550102".into()),
        sms_consent: Consent::Subscribed,
        ..contact("both@test.io")
    };
    r.ingest(EventKind::CheckoutStarted(snapshot(
        "b",
        both,
        vec![item("Mug", 1, usd(100))],
        at,
    )))
    .await;
    r.advance(H + 60).await;
    let emails: Vec<_> = r
        .email
        .sent()
        .iter()
        .map(|m| m.to.email.clone().unwrap())
        .collect();
    assert!(!emails.contains(&"unsub@test.io".to_string()), "{emails:?}");
    assert_eq!(emails.len(), 2);
    r.advance(H + 60).await;
    let phones: Vec<_> = r
        .sms
        .sent()
        .iter()
        .map(|m| m.to.phone.clone().unwrap())
        .collect();
    assert_eq!(phones, vec!["+14155550102"], "SMS only with SMS consent");
    // An opt-out that arrives after queuing still stops the send.
    r.ingest(EventKind::CheckoutStarted(snapshot(
        "late",
        contact("late@test.io"),
        vec![item("Mug", 1, usd(100))],
        r.clock_now(),
    )))
    .await;
    r.clock.advance(Duration::from_secs(H + 60));
    r.engine.run_due().await.unwrap();
    r.ingest(EventKind::OptOut(cartback_core::OptOut {
        channel: cartback_core::OptOutChannel::Email,
        address: "LATE@test.io".into(),
        resubscribe: false,
    }))
    .await;
    r.engine.deliver_due().await.unwrap();
    assert!(!r
        .email
        .sent()
        .iter()
        .any(|m| m.to.email.as_deref() == Some("late@test.io")));
}

#[tokio::test]
async fn renders_a_three_item_cart_in_eur_and_jpy() {
    let mut r = rig(ONE_STEP).await;
    let eur = Currency::parse("EUR").unwrap();
    let jpy = Currency::parse("JPY").unwrap();
    let at = r.clock_now();
    let mut eur_items = vec![
        item("Mug", 2, Money::parse_decimal("12.50", eur).unwrap()),
        item("Tea", 1, Money::parse_decimal("1234.5", eur).unwrap()),
        item("Spoon", 3, Money::parse_decimal("0.99", eur).unwrap()),
    ];
    eur_items[0].variant_title = Some("Blue".into());
    r.ingest(EventKind::CheckoutStarted(snapshot(
        "e",
        contact("eur@test.io"),
        eur_items,
        at,
    )))
    .await;
    let jpy_items = vec![
        item("Mug", 2, Money::parse_decimal("1500", jpy).unwrap()),
        item("Tea", 1, Money::parse_decimal("980", jpy).unwrap()),
        item("Spoon", 3, Money::parse_decimal("120", jpy).unwrap()),
    ];
    r.ingest(EventKind::CheckoutStarted(snapshot(
        "j",
        contact("jpy@test.io"),
        jpy_items,
        at,
    )))
    .await;
    r.advance(H + 60).await;
    let sent = r.email.sent();
    let eur_msg = sent
        .iter()
        .find(|m| m.to.email.as_deref() == Some("eur@test.io"))
        .unwrap();
    let text = eur_msg.text.as_deref().unwrap();
    let (body, recover) = text.split_once("Total €1,262.47 ").unwrap();
    assert_eq!(body, "2 x Mug (Blue) @ €12.50 = €25.00\n1 x Tea @ €1,234.50 = €1,234.50\n3 x Spoon @ €0.99 = €2.97\n");
    // The recovery link is a signed hub link that resolves to the platform's URL.
    let token = recover.strip_prefix("http://hub.test/r/").unwrap();
    let t = r.engine.link_signer().verify(token).unwrap();
    assert_eq!(t.message_id, eur_msg.id);
    assert_eq!(
        r.store
            .message_link(&t.message_id, t.index)
            .await
            .unwrap()
            .as_deref(),
        Some("https://shop.test/recover/e")
    );
    // Product links are tracked too; the open pixel and one-click unsubscribe are there.
    let html = eur_msg.html.as_deref().unwrap();
    assert_eq!(
        html.matches(r#"<a href="http://hub.test/t/"#).count(),
        3,
        "{html}"
    );
    assert!(
        html.contains(">Mug</a>") && html.contains("http://hub.test/o/"),
        "{html}"
    );
    assert_eq!(
        eur_msg
            .headers
            .get("List-Unsubscribe-Post")
            .map(String::as_str),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(eur_msg.headers["List-Unsubscribe"].starts_with("<http://hub.test/u/"));
    assert_eq!(eur_msg.subject.as_deref(), Some("Ann, you left 6 items"));
    let jpy_msg = sent
        .iter()
        .find(|m| m.to.email.as_deref() == Some("jpy@test.io"))
        .unwrap();
    assert!(
        jpy_msg.text.as_deref().unwrap().starts_with("2 x Mug @ ¥1,500 = ¥3,000\n1 x Tea @ ¥980 = ¥980\n3 x Spoon @ ¥120 = ¥360\nTotal ¥4,340 http://hub.test/r/"),
        "{:?}",
        jpy_msg.text
    );
}

#[tokio::test]
async fn discount_codes_are_given_once_per_run() {
    let flows = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
  discount = { codes = ["ONE", "TWO"] }
"#;
    let mut r = rig(flows).await;
    for i in 0..3 {
        r.cart(&format!("k{i}"), &format!("c{i}@test.io"), 1).await;
    }
    r.advance(H + 60).await;
    let mut codes: Vec<String> = r
        .email
        .sent()
        .iter()
        .map(|m| {
            m.text
                .clone()
                .unwrap()
                .split(" code ")
                .nth(1)
                .unwrap_or("none")
                .to_string()
        })
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["ONE", "TWO", "none"]);
}

#[tokio::test]
async fn a_restart_with_pending_timers_fires_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(t0());
    let mut r = rig_in(dir, TWO_STEPS, clock.clone()).await;
    for i in 0..20 {
        r.cart(&format!("k{i}"), &format!("c{i}@test.io"), 1).await;
    }
    assert_eq!(r.store.pending_timers().await.unwrap(), 20);
    // A worker claims due timers and dies before committing anything.
    clock.advance(Duration::from_secs(H + 60));
    let claimed = r
        .store
        .claim_timers(clock_now(&clock), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 10);
    let dir = r.dir;
    drop(r.engine);
    r.store.close().await;
    // Restart: the 10 leased timers wait for their lease; the others fire now.
    let r = rig_in(dir, TWO_STEPS, clock.clone()).await;
    r.engine.run_due().await.unwrap();
    r.engine.deliver_due().await.unwrap();
    assert_eq!(r.email.sent().len(), 10);
    r.advance(61).await; // leases expired
    assert_eq!(r.email.sent().len(), 20);
    let mut to: Vec<_> = r
        .email
        .sent()
        .iter()
        .map(|m| m.to.email.clone().unwrap())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 20, "a reminder sent twice");
    r.advance(25 * H).await;
    assert_eq!(r.email.sent().len(), 40);
    r.advance(25 * H).await;
    assert_eq!(r.email.sent().len(), 40);
    assert_eq!(r.store.pending_timers().await.unwrap(), 0);
}

fn clock_now(c: &ManualClock) -> DateTime<Utc> {
    use cartback_core::Clock;
    c.now()
}

#[tokio::test]
async fn test_mode_runs_every_step_at_once() {
    let r = rig(TWO_STEPS).await;
    let now = r.clock_now();
    let cart = cartback_core::Cart {
        id: "test-cart".into(),
        source_id: "test".into(),
        key: "test-cart".into(),
        cart_token: None,
        checkout_token: None,
        platform_id: None,
        status: cartback_core::CartStatus::Abandoned,
        contact_id: None,
        items: vec![item("Mug", 1, usd(100))],
        currency: Currency::parse("USD").unwrap(),
        subtotal: None,
        total: usd(100),
        recovery_url: Some("https://shop.test/r".into()),
        updated_at: now,
        completed_at: None,
        converted_at: None,
        order_id: None,
        created_at: now,
    };
    let contact = cartback_store::ContactRecord {
        id: "test-c".into(),
        info: contact("qa@test.io"),
        email_verified: true,
        phone_verified: true,
        created_at: now,
        updated_at: now,
    };
    let report = r.engine.test_flow("recover", cart, contact).await.unwrap();
    assert_eq!(report.messages.len(), 2, "{report:?}");
    r.engine.deliver_due().await.unwrap();
    let sent = r.email.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|m| m.test));
    assert!(r
        .engine
        .test_flow(
            "nope",
            sent[0].cart.clone().unwrap(),
            cartback_store::ContactRecord {
                id: "x".into(),
                info: ContactInfo::default(),
                email_verified: true,
                phone_verified: true,
                created_at: now,
                updated_at: now
            }
        )
        .await
        .is_err());
}

#[tokio::test]
async fn tag_conditions_branch_on_contact_tags() {
    let flows = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  if = ["tag:VIP"]
  send = { channel = "email", template = "cart_email" }
  [[flow.recover.step]]
  unless = ["tag:vip"]
  send = { channel = "email", template = "cart_sms" }
"#;
    let mut r = rig(flows).await;
    r.cart("k1", "vip@test.io", 1).await;
    r.cart("k2", "regular@test.io", 1).await;
    let vip = r
        .store
        .carts(&cartback_store::CartFilter {
            email: Some("vip@test.io".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    r.store
        .add_contact_tag(vip[0].contact.as_ref().unwrap().id.as_str(), "VIP")
        .await
        .unwrap();
    r.advance(H + 60).await;
    let mut to: Vec<(String, String)> = r
        .email
        .sent()
        .iter()
        .map(|m| {
            (
                m.to.email.clone().unwrap(),
                m.text.clone().unwrap_or_default().chars().take(5).collect(),
            )
        })
        .collect();
    to.sort();
    // The VIP gets the first step only (tags match case-insensitively); the regular shopper the second only.
    assert_eq!(to.len(), 2, "{to:?}");
    assert_eq!(to[0].0, "regular@test.io");
    assert!(to[0].1.starts_with("Still"), "{to:?}");
    assert_eq!(to[1].0, "vip@test.io");
    assert!(to[1].1.starts_with("1 x"), "{to:?}");
}
