//! `cartback simulate`: a history recorded by the engine (manual clock, real SQLite store), applied
//! again through the same flows (it must come out as it happened) and through other flows (a
//! shorter wait, a second step), with nothing sent.
#![allow(clippy::unwrap_used)]

use cartback_cli::simulate::{simulate, Request};
use cartback_e2e::rig::*;
use cartback_engine::forecast::{FlowForecast, Simulation};
use chrono::Duration;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const RUNNING: &str = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
holdout_percent = 20
  [[flow.recover.step]]
  wait = "0s"
  send = { channel = "email", template = "cart_email" }
"#;

/// A shorter wait and a second step a day later, unless the cart was bought.
const SOONER_AND_AGAIN: &str = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "30m"
holdout_percent = 20
  [[flow.recover.step]]
  wait = "0s"
  send = { channel = "email", template = "cart_email" }
  [[flow.recover.step]]
  name = "second nudge"
  wait = "1d"
  unless = ["purchased"]
  send = { channel = "email", template = "cart_sms" }
"#;

const CARTS: u64 = 80;

/// 80 carts ten minutes apart; every fifth is bought 45 minutes after it was left, every seventh
/// other one three hours after. Returns the rig (its clock 4 days on) and the events it took.
async fn history() -> (Rig, u64) {
    let mut r = rig(RUNNING).await;
    let mut plan: Vec<(u64, u64, bool)> = Vec::new(); // (offset secs, cart, is order)
    for i in 0..CARTS {
        plan.push((i * 600, i, false));
        if i % 5 == 0 {
            plan.push((i * 600 + 45 * 60, i, true));
        } else if i % 7 == 0 {
            plan.push((i * 600 + 3 * H, i, true));
        }
    }
    plan.sort();
    let mut at = 0;
    for (offset, i, is_order) in &plan {
        r.advance(offset - at).await;
        at = *offset;
        if *is_order {
            r.order(&format!("k{i}")).await;
        } else {
            r.cart(&format!("k{i}"), &format!("c{i}@test.io"), 1).await;
        }
    }
    r.advance(4 * 24 * H - at).await;
    (r, plan.len() as u64)
}

fn config(
    r: &Rig,
    flows: &str,
    channels: &str,
    env: &[(&str, &str)],
) -> cartback_cli::config::HubConfig {
    let url = format!("sqlite://{}", r.dir.path().join("engine.db").display());
    let toml = format!("[store]\nurl = \"{url}\"\n{channels}\n{flows}");
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    cartback_cli::config::load_str(&toml, r.dir.path(), &env).unwrap_or_else(|e| panic!("{e}"))
}

async fn run(r: &Rig, new: &cartback_cli::config::HubConfig) -> Simulation {
    let running = config(r, RUNNING, CHANNELS, &[]);
    let from = (t0() - Duration::hours(1)).to_rfc3339();
    let to = (t0() + Duration::days(4)).to_rfc3339();
    simulate(Request {
        new,
        running: &running,
        from: Some(&from),
        to: Some(&to),
    })
    .await
    .unwrap()
}

fn flow<'a>(sim: &'a Simulation, id: &str) -> &'a FlowForecast {
    sim.flows.iter().find(|f| f.flow_id == id).unwrap()
}

#[tokio::test]
async fn the_same_flows_replayed_come_out_as_they_happened() {
    let (r, events) = history().await;
    let sent = r.email.sent().len() as u64;
    assert!(sent > 30, "the history sent {sent}");
    let same = config(&r, RUNNING, CHANNELS, &[]);
    let sim = run(&r, &same).await;
    assert_eq!(sim.replayed.events, events);
    assert_eq!(sim.replayed.refused, 0);
    let f = flow(&sim, "recover");
    assert!(f.simulated);
    // The same carts enrolled. Who is held out is drawn again (a contact's draw hashes its id,
    // new in the scratch database), so only the total is the same.
    assert_eq!(
        Some(f.enrolled + f.held_out),
        f.actual_enrolled.zip(f.actual_held_out).map(|(a, b)| a + b)
    );
    assert_eq!(f.actual_enrolled, Some(sent));
    assert_eq!(f.steps.len(), 1);
    let step = &f.steps[0];
    assert_eq!((step.step, step.channel.as_str()), (1, "email"));
    assert_eq!(step.messages, f.enrolled);
    assert_eq!(step.actual_messages, Some(sent));
    assert_eq!(step.recipients, f.enrolled);
    // Sent when the hour had passed, on the virtual clock.
    assert_eq!(step.median_after_cart_secs, Some(3600));
    // The first cart was bought at 45 minutes; the first sent is the first treated cart after
    // it (who is held out is drawn again), an hour after it was left, on a ten-minute mark.
    let first = step.first.unwrap();
    assert!(first >= t0() + Duration::minutes(70), "{first}");
    assert_eq!(
        (first - t0() - Duration::hours(1)).num_minutes() % 10,
        0,
        "{first}"
    );
    // Rates from this flow's own carts: the simulation enrolled as many, so as many conversions.
    let e = f.expected.as_ref().unwrap();
    assert_eq!(e.basis, "flow");
    assert_eq!(e.measured_carts, f.enrolled + f.held_out);
    assert!(e.holdout_rate.is_some());
}

#[tokio::test]
async fn other_flows_show_what_they_would_send_and_send_nothing() {
    let (r, _) = history().await;
    let provider = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;
    let channels = CHANNELS.replace(
        "[channel.email]\ntype = \"console\"",
        &format!(
            "[channel.email]\ntype = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"${{HOOK_SECRET}}\"",
            provider.uri()
        ),
    );
    assert_ne!(channels, CHANNELS);
    let new = config(
        &r,
        SOONER_AND_AGAIN,
        &channels,
        &[("HOOK_SECRET", "simulation-test-secret-0123456789abcdef")],
    );
    let sim = run(&r, &new).await;
    let f = flow(&sim, "recover");
    // The 45-minute buyers are reminded at 30 minutes now: every cart is enrolled, where the
    // running flow left those 16 out.
    assert_eq!(f.enrolled + f.held_out, CARTS);
    assert_eq!(
        f.actual_enrolled.unwrap() + f.actual_held_out.unwrap(),
        CARTS - 16
    );
    let first = f.steps.iter().find(|s| s.step == 1).unwrap();
    let second = f.steps.iter().find(|s| s.step == 2).unwrap();
    assert_eq!(first.messages, f.enrolled);
    assert_eq!(first.median_after_cart_secs, Some(1800));
    // A day later, only to those who did not buy.
    assert_eq!(second.name, "second nudge");
    assert!(
        second.messages > 0 && second.messages < first.messages,
        "{second:?}"
    );
    assert_eq!(second.median_after_cart_secs, Some(24 * 3600 + 1800));
    assert_eq!(second.actual_messages, Some(0));
    // At the rates this flow measured.
    let e = f.expected.as_ref().unwrap();
    assert!((e.conversions - f.enrolled as f64 * e.treated_rate).abs() < 1e-9);
    // Nothing reached the provider.
    assert!(provider.received_requests().await.unwrap().is_empty());

    let text = cartback_cli::simulate::run(
        Request {
            new: &new,
            running: &config(&r, RUNNING, CHANNELS, &[]),
            from: Some(&(t0() - Duration::hours(1)).to_rfc3339()),
            to: Some(&(t0() + Duration::days(4)).to_rfc3339()),
        },
        false,
    )
    .await
    .unwrap();
    assert!(text.contains("flow recover"), "{text}");
    assert!(text.contains("second nudge"), "{text}");
    assert!(text.contains("median 30m"), "{text}");
    assert!(text.contains("nothing was sent"), "{text}");
}

#[tokio::test]
async fn a_flow_the_new_configuration_drops_is_shown_sending_nothing() {
    let (r, _) = history().await;
    let renamed = RUNNING.replace("recover", "winback");
    let new = config(&r, &renamed, CHANNELS, &[]);
    let sim = run(&r, &new).await;
    let old = flow(&sim, "recover");
    assert!(!old.simulated);
    assert_eq!(old.enrolled, 0);
    assert!(old.actual_enrolled.unwrap() > 0);
    let new_flow = flow(&sim, "winback");
    assert!(new_flow.simulated);
    assert_eq!(new_flow.actual_enrolled, None);
    // No measured rate of its own: every running flow's, pooled.
    assert_eq!(new_flow.expected.as_ref().unwrap().basis, "all_flows");
}
