//! `ingest --duration S`: signed checkouts, each one new, from every connection for S seconds,
//! counted from the first request to the last one applied; `/healthz` in the same run (and, on
//! PostgreSQL, `pgbench`) as baselines. The burst figure (`ingest` without `--duration`) measures
//! what the journal absorbs; this one, what holds.

use crate::common::*;
use crate::ingest::{checkout_body, sign, signed_post, Hub, Opts};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn sustained(opts: &Opts) -> anyhow::Result<()> {
    let secs = opts.duration.unwrap_or(20);
    let conns = opts.conns;
    let hub = Hub::start(opts).await?;
    let pgbench = match &hub.schema {
        Some(s) => Some(s.pgbench(32, secs.min(10))?),
        None => None,
    };
    // More instances on the same database (PostgreSQL): the load is spread over them.
    let mut others = Vec::new();
    if let Some(s) = &hub.schema {
        for _ in 1..opts.instances.max(1) {
            others.push(Hub::start_on(opts, Some(s.url())).await?);
        }
    }
    let health_before = hub.health(20_000, conns).await?;
    let urls: Arc<Vec<String>> = Arc::new(
        std::iter::once(&hub)
            .chain(others.iter())
            .map(|h| format!("http://{}/webhooks/shop", h.addr))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let queued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (c, urls, next, queued) = (
            hub.client.clone(),
            urls.clone(),
            next.clone(),
            queued.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let body = checkout_body(i);
                let sig = sign(&body);
                let t = Instant::now();
                let r = signed_post(
                    &c,
                    &urls[i % urls.len()],
                    "checkouts/create",
                    format!("sustained-{i}"),
                    body,
                    &sig,
                )
                .send()
                .await?;
                anyhow::ensure!(r.status().is_success(), "webhook {i}: {}", r.status());
                lat.push(t.elapsed());
                if r.status() == reqwest::StatusCode::ACCEPTED {
                    queued.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let answered = started.elapsed();
    let sent = lat.len();
    let backlog = hub.running.state.store.ingest_backlog();
    hub.applied().await;
    for h in &others {
        h.applied().await;
    }
    let applied = started.elapsed();
    lat.sort();
    let health_after = hub.health(20_000, conns).await?;
    let health = (health_before + health_after) / 2.0;
    let applied_rps = sent as f64 / applied.as_secs_f64();
    println!(
        "ingest (sustained {secs} s): signed Shopify checkouts, each new, {conns} connections, {}{}",
        opts.store_label(),
        if others.is_empty() {
            String::new()
        } else {
            format!(", {} instances in this process sharing the load", others.len() + 1)
        }
    );
    println!(
        "  applied/s           {applied_rps:>10.0}   (first request to the last one applied: {sent} webhooks in {:.2} s)",
        applied.as_secs_f64()
    );
    println!(
        "  answered/s          {:>10.0}   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} answered 202 from the journal; {backlog} still to apply when the load stopped)",
        sent as f64 / answered.as_secs_f64(),
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99)),
        queued.load(Ordering::Relaxed)
    );
    println!("  /healthz req/s      {health:>10.0}   (baseline, same server and client: {health_before:.0} before, {health_after:.0} after)");
    println!(
        "  applied / healthz   {:>10.3}   (target >= 0.25)",
        applied_rps / health
    );
    if let Some(tps) = pgbench {
        println!("  pgbench txn/s       {tps:>10.0}   (baseline: the same database, 32 clients, a three-insert transaction)");
        println!(
            "  applied / pgbench   {:>10.2}   (target >= 2.5; p99 target < 50 ms)",
            applied_rps / tps
        );
    }
    println!("  peak RSS            {:>10} MB", rss_kb("VmHWM:") / 1024);
    for h in others {
        h.stop().await;
    }
    hub.stop().await;
    Ok(())
}
