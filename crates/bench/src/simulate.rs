//! `simulate`: `cartback simulate` over a store holding N checkouts spread over 30 days (a fifth of
//! them bought), against writing those same events into the store (the same run's baseline).

use crate::common::*;
use crate::ingest::{checkout_body, signed_request};
use anyhow::Context;
use cartback_core::EventKind;
use cartback_store::prelude::*;
use std::sync::Arc;
use std::time::Instant;

pub async fn simulate(n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = HUB_CONFIG.replace("1MiB\"", "1MiB\"\nlink_hosts = [\"bench.myshopify.com\"]");
    let cfg = cartback_cli::config::load_str(&config, dir.path(), &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = cfg.store_url();
    let flows = cartback_engine::flows::compile(&cfg.flows).map_err(anyhow::Error::msg)?;
    let rules = Arc::new(cartback_engine::rules::LiveRules::new(&flows));
    let store = cartback_store::SqlStore::open(&url)
        .await?
        .with_rules(rules);
    let source = cfg
        .sources
        .get("shop")
        .and_then(|s| s.settings.source())
        .context("the shop source")?;
    let to = chrono::Utc::now();
    let from = to - chrono::Duration::days(30);
    let step = chrono::Duration::milliseconds(30 * 86_400_000 / n.max(1) as i64);
    // Baseline: the events written once, as the webhooks wrote them.
    let t = Instant::now();
    for i in 0..n {
        let at = from + step * i as i32;
        // Verified against the real clock (Shopify's replay window); stored at `at` below.
        let request = signed_request(format!("sim-{i}"), checkout_body(i), to)?;
        let verified =
            cartback_core::verify(source.as_ref(), &request).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut translated = source
            .translate(verified)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for e in &mut translated.events {
            e.occurred_at = at;
            if let EventKind::CheckoutStarted(s) | EventKind::CartUpdated(s) = &mut e.kind {
                s.updated_at = at;
            }
        }
        // A fifth are bought twenty minutes later, before the hour the flow waits.
        if i % 5 == 0 {
            if let Some(EventKind::CheckoutStarted(s)) = translated.events.first().map(|e| &e.kind)
            {
                translated.events.push(cartback_core::Event {
                    source_id: "shop".into(),
                    event_id: format!("order-{i}"),
                    topic: "orders/create".into(),
                    occurred_at: at + chrono::Duration::minutes(20),
                    kind: EventKind::OrderPlaced(cartback_core::Order {
                        order_id: format!("o{i}"),
                        name: None,
                        checkout_token: s.checkout_token.clone(),
                        cart_token: s.cart_token.clone(),
                        contact: None,
                        total: s.total,
                        items: vec![],
                        placed_at: at + chrono::Duration::minutes(20),
                        test: false,
                    }),
                });
            }
        }
        store
            .ingest(cartback_store::Ingest {
                source_id: "shop",
                delivery_ids: &translated.delivery_ids,
                events: &translated.events,
                received_at: at,
                trust: cartback_core::Trust::Verified,
            })
            .await
            .context("seed")?;
    }
    let seeded = t.elapsed();
    let events = n + n.div_ceil(5);
    store.close().await;
    let t = Instant::now();
    let sim = cartback_cli::simulate::simulate(cartback_cli::simulate::Request {
        new: &cfg,
        running: &cfg,
        from: Some(&from.to_rfc3339()),
        to: Some(&to.to_rfc3339()),
    })
    .await?;
    let took = t.elapsed();
    let messages: u64 = sim
        .flows
        .iter()
        .flat_map(|f| &f.steps)
        .map(|s| s.messages)
        .sum();
    println!(
        "simulate: {n} checkouts over 30 days ({events} events, a fifth bought), SQLite, one flow"
    );
    println!(
        "  replayed events/s   {:>10.0}   ({} events applied again, {} timers fired, {messages} messages counted, nothing sent; {:.2} s)",
        sim.replayed.events as f64 / took.as_secs_f64(),
        sim.replayed.events,
        sim.replayed.timers,
        took.as_secs_f64()
    );
    println!(
        "  written events/s    {:>10.0}   (baseline: the same events written once, one ingest each; {:.2} s)",
        events as f64 / seeded.as_secs_f64(),
        seeded.as_secs_f64()
    );
    println!(
        "  ratio               {:>10.3}",
        (sim.replayed.events as f64 / took.as_secs_f64()) / (events as f64 / seeded.as_secs_f64())
    );
    println!("  peak RSS            {:>10} MB", rss_kb("VmHWM:") / 1024);
    Ok(())
}
