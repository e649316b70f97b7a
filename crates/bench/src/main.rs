//! cartback-bench: what the hub holds on this machine, each figure next to a baseline measured in
//! the same run on the same machine, so ratios mean something across machines.
//!
//! ```text
//! cargo run --release -p cartback-bench -- ingest  [--n 20000] [--conns 64] [--no-journal]
//! cargo run --release -p cartback-bench -- timers  [--n 1000000]
//! cargo run --release -p cartback-bench -- send    [--n 5000] [--rate 100]
//! cargo run --release -p cartback-bench -- startup
//! cargo run --release -p cartback-bench -- all
//! ```
//! Everything targets 127.0.0.1 and stops by itself.

/// The allocator the `cartback` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use cartback_core::{Clock, ManualClock};
use cartback_store::prelude::*;
use cartback_store::{SqlValue, Store};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `n` requests with `conns` concurrent workers; returns (requests/s, latencies sorted).
async fn load<F, Fut>(n: usize, conns: usize, make: F) -> anyhow::Result<(f64, Vec<Duration>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (next, make) = (next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                make(i).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    Ok((n as f64 / secs, all))
}

fn checkout_body(i: usize) -> Vec<u8> {
    // About 2 KB, like a real checkout with a few lines and addresses.
    let items: Vec<serde_json::Value> = (0..5)
        .map(|k| {
            serde_json::json!({ "key": format!("{k}:{i}"), "product_id": 7_513_594_167_512u64 + k, "variant_id": 42_617_381_109_976u64 + k,
              "title": format!("Product number {k} with a longer title"), "variant_title": "Large / Blue", "sku": format!("SKU-{k}-XYZ"),
              "quantity": 1 + k, "price": "19.90", "vendor": "Test Shop", "properties": null, "taxable": true })
        })
        .collect();
    let address = serde_json::json!({ "first_name": "Ann", "last_name": "Lee", "address1": "1 Market Street", "city": "San Francisco",
        "zip": "94105", "province": "California", "country": "United States", "country_code": "US", "phone": null });
    serde_json::to_vec(&serde_json::json!({
        "id": 9_000_000_000_000u64 + i as u64, "token": format!("bench-token-{i:08}"), "cart_token": format!("bench-cart-{i:08}"),
        "email": format!("shopper{i}@bench.example"), "updated_at": chrono::Utc::now().to_rfc3339(), "currency": "USD",
        "presentment_currency": "USD", "buyer_accepts_marketing": true, "customer_locale": "en-US",
        "subtotal_price": "298.50", "total_price": "298.50", "total_tax": "0.00", "line_items": items,
        "abandoned_checkout_url": format!("https://bench.myshopify.com/1/checkouts/ac/bench-token-{i:08}/recover?key=abc"),
        "billing_address": address, "shipping_address": address,
        "customer": { "id": 6_000_000_000_000u64 + i as u64, "email": format!("shopper{i}@bench.example"), "first_name": "Ann", "last_name": "Lee",
                      "email_marketing_consent": { "state": "subscribed", "opt_in_level": "single_opt_in" } }
    }))
    .expect("json")
}

const HUB_CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
admin_token = "bench-admin-token"
max_body = "1MiB"

[store]
url = "sqlite://bench.db"

[source.shop]
type = "shopify"
secret = "bench-secret"

[channel.web]
type = "web"
site_key = "pk_bench"
origins = ["https://shop.example"]

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  send = { channel = "web" }
"#;

async fn ingest(n: usize, conns: usize, journal: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // `--no-journal`: every webhook waits for its whole commit, as before the ingest journal.
    let config = if journal {
        HUB_CONFIG.to_string()
    } else {
        format!(
            "{HUB_CONFIG}
[store.journal]
enabled = false
"
        )
    };
    let cfg = cartback_cli::config::load_str(&config, dir.path(), &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = cartback_cli::app::start_default(&cfg, listener, async move {
        let _ = stopped.await;
    })
    .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .build()?;
    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..n)
            .map(|i| {
                let b = checkout_body(i);
                let s = cartback_kit::Encoding::Base64
                    .encode(&cartback_kit::hmac_sha256(b"bench-secret", &[&b]));
                (b, s)
            })
            .collect(),
    );
    let avg = bodies.iter().map(|b| b.0.len()).sum::<usize>() / n.max(1);
    // Baseline: the same server's /healthz, same client, same concurrency.
    // Measured before and after the webhooks, and averaged: this machine's speed drifts.
    let health = || {
        let (c, url) = (client.clone(), format!("http://{addr}/healthz"));
        load(n, conns, move |_| {
            let (c, url) = (c.clone(), url.clone());
            async move {
                c.get(&url).send().await?.error_for_status()?;
                Ok(())
            }
        })
    };
    let (health_before, _) = health().await?;
    // A second baseline: the same signed bodies under a topic the hub does not use. The request
    // is read, verified and answered, nothing parsed or stored: HTTP plus the signature check.
    let url = format!("http://{addr}/webhooks/shop");
    let (ceiling_rps, _, _) =
        post_webhooks(&client, &url, &bodies, conns, "checkouts/delete").await?;
    let started = Instant::now();
    let (rps, lat, queued) =
        post_webhooks(&client, &url, &bodies, conns, "checkouts/create").await?;
    let answered = started.elapsed();
    let backlog = running.state.store.ingest_backlog();
    // Answered means durable (the journal or the WAL flushed); applied means the carts, contacts
    // and timers are written too.
    while running.state.store.ingest_backlog() > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let applied = started.elapsed();
    let rss_peak = rss_kb("VmHWM:");
    let (health_after, _) = health().await?;
    let health_rps = (health_before + health_after) / 2.0;
    let stored = running
        .state
        .store
        .carts(&cartback_store::CartFilter {
            limit: 1,
            ..Default::default()
        })
        .await?
        .len();
    anyhow::ensure!(stored == 1, "nothing stored");
    println!("ingest: {n} signed Shopify checkout webhooks (avg {avg} B), {conns} connections, SQLite, durable (journal or WAL flushed) before each answer");
    println!(
        "  webhooks/s          {rps:>10.0}   p50 {:>7.2} ms   p99 {:>7.2} ms   ({queued} answered 202 from the journal, {} 200 after applying)",
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99)),
        n - queued
    );
    println!(
        "  applied end to end  {:>10.0}   (all {n} answered in {:.2} s, {backlog} of them still to apply then; all applied in {:.2} s; peak RSS {} MB, client and bodies included)",
        n as f64 / applied.as_secs_f64(),
        answered.as_secs_f64(),
        applied.as_secs_f64(),
        rss_peak / 1024
    );
    println!("  /healthz req/s      {health_rps:>10.0}   (baseline, same server and client: {health_before:.0} before the webhooks, {health_after:.0} after)");
    println!(
        "  ignored-topic POSTs {ceiling_rps:>10.0}   (second baseline: same bodies read and verified, nothing stored; ratio {:.3})",
        ceiling_rps / health_rps
    );
    println!(
        "  ratio               {:>10.3}   (target >= 0.333; target 20,000 webhooks/s)",
        rps / health_rps
    );
    // Where the time goes: the same work without HTTP, in two halves.
    let (verify_us, decode_us, store_rps) =
        ingest_parts(&running.state, dir.path(), n, conns).await?;
    println!("  without HTTP: verify + translate {decode_us:>6.1} µs per webhook (verify alone {verify_us:.1} µs; one task); store alone (inline commit, no journal) {store_rps:>8.0} ingests/s ({conns} tasks)");
    // The checkpointer keeps the WAL from growing while the writer runs flat out.
    let size = |name: &str| std::fs::metadata(dir.path().join(name)).map(|m| m.len() / 1_048_576);
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "  files after {} webhooks: database {} MB, WAL {} MB",
        2 * n,
        size("bench.db").unwrap_or(0),
        size("bench.db-wal").unwrap_or(0)
    );
    let _ = stop.send(());
    let _ = running.task.await;
    Ok(())
}

/// POSTs every body once, signed, under `topic`, from `conns` connections: (requests/s,
/// latencies, how many were answered 202).
async fn post_webhooks(
    client: &reqwest::Client,
    url: &str,
    bodies: &Arc<Vec<(Vec<u8>, String)>>,
    conns: usize,
    topic: &'static str,
) -> anyhow::Result<(f64, Vec<Duration>, usize)> {
    let (c, url, bodies) = (client.clone(), url.to_string(), bodies.clone());
    let queued = Arc::new(AtomicUsize::new(0));
    let q = queued.clone();
    let (rps, lat) = load(bodies.len(), conns, move |i| {
        let (c, url, b, q) = (c.clone(), url.clone(), bodies.clone(), q.clone());
        async move {
            let (body, sig) = &b[i];
            let r = c
                .post(&url)
                .header("content-type", "application/json")
                .header("x-shopify-topic", topic)
                .header("x-shopify-webhook-id", format!("bench-{topic}-{i}"))
                .header("x-shopify-triggered-at", chrono::Utc::now().to_rfc3339())
                .header("x-shopify-hmac-sha256", sig)
                .body(body.clone())
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "webhook {i}: {}", r.status());
            if r.status() == reqwest::StatusCode::ACCEPTED {
                q.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await?;
    Ok((rps, lat, queued.load(Ordering::Relaxed)))
}

/// Verifies and translates `n` fresh checkouts on one task (µs each), then ingests them straight
/// into the store from `conns` tasks (ingests/s): the two halves of a webhook without HTTP.
async fn ingest_parts(
    state: &cartback_server::AppState,
    dir: &std::path::Path,
    n: usize,
    conns: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let source = state.sources.get("shop").context("source shop")?.clone();
    let requests: Vec<cartback_core::InboundRequest> = (0..n)
        .map(|i| {
            let body = checkout_body(n + i);
            let sig = cartback_kit::Encoding::Base64
                .encode(&cartback_kit::hmac_sha256(b"bench-secret", &[&body]));
            let mut headers = axum::http::HeaderMap::new();
            for (k, v) in [
                ("content-type", "application/json".to_string()),
                ("x-shopify-topic", "checkouts/create".to_string()),
                ("x-shopify-webhook-id", format!("parts-{i}")),
                ("x-shopify-triggered-at", chrono::Utc::now().to_rfc3339()),
                ("x-shopify-hmac-sha256", sig),
            ] {
                headers.insert(k, v.parse()?);
            }
            Ok(cartback_core::InboundRequest {
                source_id: "shop".into(),
                method: axum::http::Method::POST,
                url: "http://127.0.0.1/webhooks/shop".into(),
                headers,
                body: body.into(),
                received_at: chrono::Utc::now(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    for r in &requests {
        cartback_core::verify(source.as_ref(), r).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let verify_us = t.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
    let t = Instant::now();
    let mut translated = Vec::with_capacity(n);
    for r in &requests {
        let verified =
            cartback_core::verify(source.as_ref(), r).map_err(|e| anyhow::anyhow!("{e}"))?;
        translated.push(
            source
                .translate(verified)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    let decode_us = t.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
    let translated = Arc::new(translated);
    // A store of its own without the journal: what applying costs (the projector's pace).
    let url = format!("sqlite://{}", dir.join("alone.db").display());
    let rules = Arc::new(state.engine.rules());
    let store = Arc::new(
        cartback_store::SqlStore::open(&url)
            .await?
            .with_rules(rules),
    );
    let (rps, _) = load(n, conns, move |i| {
        let (store, translated) = (store.clone(), translated.clone());
        async move {
            let t = &translated[i];
            let out = store
                .ingest(cartback_store::Ingest {
                    source_id: "shop",
                    delivery_ids: &t.delivery_ids,
                    events: &t.events,
                    received_at: chrono::Utc::now(),
                    trust: cartback_core::Trust::Verified,
                })
                .await?;
            anyhow::ensure!(
                matches!(out, cartback_store::IngestOutcome::Accepted { .. }),
                "not accepted"
            );
            Ok(())
        }
    })
    .await?;
    Ok((verify_us, decode_us, rps))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn timers(n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("timers.db").display());
    let store = cartback_store::SqlStore::open(&url).await?;
    // Baseline: the smallest durable unit of work, one tiny transaction per row.
    store
        .execute_all(vec![(
            "CREATE TABLE baseline (id INTEGER PRIMARY KEY, v INTEGER)".into(),
            vec![],
        )])
        .await?;
    let base_n = (n / 20).clamp(500, 5000);
    let t = Instant::now();
    for i in 0..base_n {
        store
            .execute_all(vec![(
                "INSERT INTO baseline (id, v) VALUES ($1, $2)".into(),
                vec![SqlValue::Int(i as i64), SqlValue::Int(1)],
            )])
            .await?;
    }
    let base_rate = base_n as f64 / t.elapsed().as_secs_f64();

    let t0 = chrono::Utc::now();
    let ms0 = t0.timestamp_millis();
    let t = Instant::now();
    // Seeded set-wise (one statement per table over a generated series), in one transaction.
    let series =
        "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < $1)";
    let (n_, ms) = (SqlValue::Int(n as i64), SqlValue::Int(ms0));
    store.execute_all(vec![
        (format!("{series} INSERT INTO contacts (id, source_id, email, email_norm, email_consent, sms_consent, updated_at, created_at) \
         SELECT 'c' || i, 'shop', 's' || i || '@bench.example', 's' || i || '@bench.example', 'subscribed', 'unknown', $2, $2 FROM seq"),
         vec![n_.clone(), ms.clone()]),
        (format!("{series} INSERT INTO carts (id, source_id, cart_key, status, contact_id, items, item_count, currency, total_minor, updated_at, created_at) \
         SELECT 'k' || i, 'shop', 'k' || i, 'open', 'c' || i, $2, 1, 'USD', 1990, $3, $3 FROM seq"),
         vec![n_.clone(), SqlValue::Text(r#"[{"title":"Mug","quantity":1,"unit_price":{"amount":"19.90","currency":"USD","minor_units":1990},"line_price":{"amount":"19.90","currency":"USD","minor_units":1990}}]"#.into()), ms.clone()]),
        (format!("{series} INSERT INTO timers (kind, subject, due_at) SELECT 'cart_check', 'k' || i, $2 FROM seq"),
         vec![n_, SqlValue::Int(ms0 + 3_600_000)]),
    ]).await?;
    let insert = t.elapsed();
    let rss_pending = rss_kb("VmRSS:");

    let dir2 = dir.path().to_path_buf();
    let cfg = cartback_cli::config::load_str(HUB_CONFIG, &dir2, &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let clock = ManualClock::new(t0);
    let store_dyn: Arc<dyn cartback_store::Store> = Arc::new(store.clone());
    let engine = cartback_cli::app::build_engine(&cfg, store_dyn.clone(), Arc::new(clock.clone()))?;
    clock.advance(Duration::from_secs(7200));
    let t = Instant::now();
    let fired = engine.run_due().await?;
    let fire = t.elapsed();
    let queued = store
        .query_i64("SELECT COUNT(*) FROM outbox", vec![])
        .await?
        .unwrap_or(0);
    anyhow::ensure!(
        queued as usize == n,
        "expected {n} outbox rows, found {queued}"
    );
    let rate = fired as f64 / fire.as_secs_f64();
    println!("timers: {n} carts with pending abandonment timers (SQLite)");
    println!(
        "  insert              {:>10.2} s    ({:.0} carts/s in one transaction)",
        insert.as_secs_f64(),
        n as f64 / insert.as_secs_f64()
    );
    println!("  fired/s             {rate:>10.0}   ({fired} timers: {n} abandonment checks with enrolment + {n} steps with the outbox row; {:.1} s)", fire.as_secs_f64());
    println!(
        "  1-row txn/s         {base_rate:>10.0}   (baseline: one durable one-row transaction)"
    );
    println!(
        "  ratio               {:>10.3}   (target >= 10,000 fired/s)",
        rate / base_rate
    );
    println!("  RSS with pending    {:>10} MB", rss_pending / 1024);
    println!(
        "  peak RSS            {:>10} MB   (target <= 200 MB)",
        rss_kb("VmHWM:") / 1024
    );
    let _ = clock.now();
    store.close().await;
    Ok(())
}

async fn provider() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(move || {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(serde_json::json!({ "sid": "SM1", "status": "queued" })),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, count))
}

fn send_config(provider: &str, rate: Option<usize>) -> String {
    let rate = rate
        .map(|r| format!("rate = \"{r}/s\"\n"))
        .unwrap_or_default();
    format!(
        "[channel.sms]\ntype = \"twilio\"\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"t\"\nfrom = \"+15005550006\"\n\
         base_url = \"{provider}\"\nstatus_callback = false\nconcurrency = 16\n{rate}\
         [flow.f]\ntrigger = \"cart_abandoned\"\nabandon_after = \"1h\"\n  [[flow.f.step]]\n  send = {{ channel = \"sms\", template = \"t\" }}\n\
         [template.t]\ntext = \"hi\"\n"
    )
}

async fn queue(store: &cartback_store::SqlStore, n: usize) -> anyhow::Result<()> {
    let mut commit = cartback_store::TimerCommit::default();
    for i in 0..n {
        let mut m = cartback_core::OutboundMessage {
            id: format!("m{i}"),
            channel_id: "sms".into(),
            to: Default::default(),
            subject: None,
            html: None,
            text: Some("Still thinking?".into()),
            headers: Default::default(),
            metadata: Default::default(),
            contact: None,
            cart: None,
            test: false,
            discount_code: None,
            purpose: Default::default(),
        };
        m.to.phone = Some("+14155550100".into());
        commit.outbox.push(cartback_store::NewMessage {
            message: m,
            run_id: format!("r{i}"),
            step: 0,
            contact_id: None,
            cart_id: None,
            cap: None,
            links: vec![],
        });
    }
    store.apply(commit, chrono::Utc::now()).await?;
    Ok(())
}

async fn send(n: usize, rate: usize) -> anyhow::Result<()> {
    let (url, count) = provider().await?;
    // Baseline: the same provider, raw reqwest POSTs, same concurrency.
    let client = reqwest::Client::new();
    let target =
        format!("{url}/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
    let (base_rps, _) = load(n, 16, move |_| {
        let (c, t) = (client.clone(), target.clone());
        async move {
            c.post(&t)
                .form(&[("To", "+14155550100"), ("Body", "hi")])
                .send()
                .await?
                .error_for_status()?;
            Ok(())
        }
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let store = cartback_store::SqlStore::open(&format!(
        "sqlite://{}",
        dir.path().join("send.db").display()
    ))
    .await?;
    let store_dyn: Arc<dyn cartback_store::Store> = Arc::new(store.clone());
    let cfg =
        cartback_cli::config::load_str(&send_config(&url, None), dir.path(), &Default::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = cartback_cli::app::build_engine(
        &cfg,
        store_dyn.clone(),
        Arc::new(cartback_core::SystemClock),
    )?;
    queue(&store, n).await?;
    count.store(0, Ordering::Relaxed);
    let t = Instant::now();
    engine.deliver_due().await?;
    let rps = n as f64 / t.elapsed().as_secs_f64();
    anyhow::ensure!(
        count.load(Ordering::Relaxed) == n,
        "provider saw {} of {n}",
        count.load(Ordering::Relaxed)
    );
    // A configured rate, held by the outbox.
    let dir = tempfile::tempdir()?;
    let store = cartback_store::SqlStore::open(&format!(
        "sqlite://{}",
        dir.path().join("rate.db").display()
    ))
    .await?;
    let store_dyn: Arc<dyn cartback_store::Store> = Arc::new(store.clone());
    let cfg = cartback_cli::config::load_str(
        &send_config(&url, Some(rate)),
        dir.path(),
        &Default::default(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = Arc::new(cartback_cli::app::build_engine(
        &cfg,
        store_dyn,
        Arc::new(cartback_core::SystemClock),
    )?);
    queue(&store, rate * 8).await?;
    count.store(0, Ordering::Relaxed);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let workers = engine.spawn(rx);
    // Skip the first second (the burst), then measure five seconds.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let a = count.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let b = count.load(Ordering::Relaxed);
    let _ = stop.send(true);
    for w in workers {
        w.abort();
    }
    let held = (b - a) as f64 / 5.0;
    println!("send: outbox → loopback provider (Twilio API shape), concurrency 16");
    println!("  sends/s             {rps:>10.0}   ({n} messages, unthrottled; target >= 2,000/s)");
    println!(
        "  raw POSTs/s         {base_rps:>10.0}   (baseline: the same provider without the outbox)"
    );
    println!("  ratio               {:>10.3}", rps / base_rps);
    println!(
        "  rate {rate}/s held     {held:>10.1}/s  ({:+.1}% off; target within ±5%)",
        (held / rate as f64 - 1.0) * 100.0
    );
    Ok(())
}

async fn startup() -> anyhow::Result<()> {
    let bin = std::env::current_exe()?.with_file_name("cartback");
    anyhow::ensure!(
        bin.exists(),
        "build the hub first: cargo build --release (looked for {})",
        bin.display()
    );
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(
        &cfg,
        HUB_CONFIG.replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
    )?;
    let t = Instant::now();
    let mut child = std::process::Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("start cartback")?;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let up = loop {
        if client.get(&url).send().await.is_ok() {
            break t.elapsed();
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(30),
            "no answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_string();
    let _ = child.kill();
    let _ = child.wait();
    // Baseline: starting a process that does nothing (`true`).
    let t = Instant::now();
    std::process::Command::new("true").status()?;
    let base = t.elapsed();
    println!("startup: cartback serve (SQLite, migrations on a new database)");
    println!(
        "  ready in            {:>10.1} ms   (process start to first /healthz answer)",
        ms(up)
    );
    println!("  idle RSS            {:>10} kB", rss);
    println!(
        "  `true` runs in      {:>10.1} ms   (baseline: process start alone)",
        ms(base)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("all");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let journal = !args.iter().any(|a| a == "--no-journal");
        let run_ingest = || {
            ingest(
                arg(&args, "--n", 20_000),
                arg(&args, "--conns", 64),
                journal,
            )
        };
        match what {
            "ingest" => run_ingest().await,
            "timers" => timers(arg(&args, "--n", 1_000_000)).await,
            "send" => send(arg(&args, "--n", 5_000), arg(&args, "--rate", 100)).await,
            "startup" => startup().await,
            "all" => {
                startup().await?;
                run_ingest().await?;
                timers(arg(&args, "--n", 1_000_000)).await?;
                send(arg(&args, "--n", 5_000), arg(&args, "--rate", 100)).await
            }
            other => anyhow::bail!(
                "unknown benchmark {other:?}: use ingest, timers, send, startup or all"
            ),
        }
    })
}
