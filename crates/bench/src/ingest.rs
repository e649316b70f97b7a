//! `ingest`: signed Shopify checkout webhooks over HTTP, against `/healthz` in the same run.

use crate::common::*;
use anyhow::Context;
use cartback_store::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn checkout_body(i: usize) -> Vec<u8> {
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

/// The bench's webhook signature: base64 HMAC-SHA256 of the body with the source's secret.
pub fn sign(body: &[u8]) -> String {
    cartback_kit::Encoding::Base64.encode(&cartback_kit::hmac_sha256(b"bench-secret", &[body]))
}

/// A signed Shopify webhook POST, as the platform sends it.
pub fn signed_post(
    c: &reqwest::Client,
    url: &str,
    topic: &str,
    webhook_id: String,
    body: Vec<u8>,
    sig: &str,
) -> reqwest::RequestBuilder {
    c.post(url)
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-webhook-id", webhook_id)
        .header("x-shopify-triggered-at", chrono::Utc::now().to_rfc3339())
        .header("x-shopify-hmac-sha256", sig)
        .body(body)
}

/// The same webhook as the hub's handler sees it (no HTTP), a `checkouts/create` signed now.
pub fn signed_request(
    webhook_id: String,
    body: Vec<u8>,
    received_at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<cartback_core::InboundRequest> {
    let mut headers = axum::http::HeaderMap::new();
    for (k, v) in [
        ("content-type", "application/json".to_string()),
        ("x-shopify-topic", "checkouts/create".to_string()),
        ("x-shopify-webhook-id", webhook_id),
        ("x-shopify-triggered-at", chrono::Utc::now().to_rfc3339()),
        ("x-shopify-hmac-sha256", sign(&body)),
    ] {
        headers.insert(k, v.parse()?);
    }
    Ok(cartback_core::InboundRequest {
        source_id: "shop".into(),
        method: axum::http::Method::POST,
        url: "http://127.0.0.1/webhooks/shop".into(),
        headers,
        body: body.into(),
        received_at,
    })
}

/// What `ingest` runs against.
#[derive(Debug, Clone)]
pub struct Opts {
    pub n: usize,
    pub conns: usize,
    /// SQLite's ingest journal (`--no-journal` turns it off).
    pub journal: bool,
    /// `--store postgres://…`: PostgreSQL (a schema of its own) instead of a new SQLite file.
    pub store: Option<String>,
    /// `--duration S`: sustained load for S seconds instead of a burst of `n`.
    pub duration: Option<u64>,
    /// `--pool N`: PostgreSQL connections (`[store] pool_size`).
    pub pool: usize,
    /// `--instances N` (PostgreSQL, with `--duration`): hubs side by side on one database.
    pub instances: usize,
}

impl Opts {
    pub fn is_postgres(&self) -> bool {
        self.store
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }

    /// How the store is described in the output.
    pub fn store_label(&self) -> &'static str {
        if self.is_postgres() {
            "PostgreSQL"
        } else if self.journal {
            "SQLite, ingest journal"
        } else {
            "SQLite, no journal"
        }
    }
}

/// A hub started in this process on the store `opts` names.
pub struct Hub {
    pub running: cartback_cli::app::Running,
    pub addr: std::net::SocketAddr,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    /// Kept to the end: dropping it drops the PostgreSQL schema.
    pub schema: Option<crate::pg::Schema>,
}

impl Hub {
    pub async fn start(opts: &Opts) -> anyhow::Result<Hub> {
        Self::start_on(opts, None).await
    }

    /// As [`Hub::start`]; a second instance on `shared`, the first one's PostgreSQL schema URL.
    pub async fn start_on(opts: &Opts, shared: Option<String>) -> anyhow::Result<Hub> {
        let dir = tempfile::tempdir()?;
        // `--no-journal`: every webhook waits for its whole commit, as before the ingest journal.
        let mut config = HUB_CONFIG.to_string();
        if !opts.journal {
            config.push_str("\n[store.journal]\nenabled = false\n");
        }
        let schema = match &opts.store {
            _ if shared.is_some() => None,
            Some(url) if opts.is_postgres() => Some(crate::pg::Schema::create(url)?),
            Some(url) => {
                anyhow::bail!("--store takes a postgres:// URL (SQLite is the default), not {url}")
            }
            None => None,
        };
        if let Some(url) = shared.or_else(|| schema.as_ref().map(crate::pg::Schema::url)) {
            config = config.replace(
                "url = \"sqlite://bench.db\"",
                &format!("url = \"{url}\"\npool_size = {}", opts.pool),
            );
        }
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
            .pool_max_idle_per_host(opts.conns)
            .build()?;
        Ok(Hub {
            running,
            addr,
            dir,
            client,
            stop,
            schema,
        })
    }

    /// `/healthz` answered `n` times from `conns` connections: requests per second.
    pub async fn health(&self, n: usize, conns: usize) -> anyhow::Result<f64> {
        let (c, url) = (self.client.clone(), format!("http://{}/healthz", self.addr));
        let (rps, _) = load(n, conns, move |_| {
            let (c, url) = (c.clone(), url.clone());
            async move {
                c.get(&url).send().await?.error_for_status()?;
                Ok(())
            }
        })
        .await?;
        Ok(rps)
    }

    /// Waits until everything answered is applied (SQLite's journal drained).
    pub async fn applied(&self) {
        while self.running.state.store.ingest_backlog() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.running.task.await;
        drop(self.schema);
    }
}

pub async fn ingest(opts: &Opts) -> anyhow::Result<()> {
    if opts.duration.is_some() {
        return crate::sustained::sustained(opts).await;
    }
    let (n, conns) = (opts.n, opts.conns);
    let hub = Hub::start(opts).await?;
    let addr = hub.addr;
    // The database's own pace, before the hub loads it.
    let pgbench = match &hub.schema {
        Some(s) => Some(s.pgbench(32, 10)?),
        None => None,
    };
    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..n)
            .map(|i| {
                let b = checkout_body(i);
                let s = sign(&b);
                (b, s)
            })
            .collect(),
    );
    let avg = bodies.iter().map(|b| b.0.len()).sum::<usize>() / n.max(1);
    // Baseline: the same server's /healthz, same client, same concurrency.
    // Measured before and after the webhooks, and averaged: this machine's speed drifts.
    let client = hub.client.clone();
    let health_before = hub.health(n, conns).await?;
    // A second baseline: the same signed bodies under a topic the hub does not use. The request
    // is read, verified and answered, nothing parsed or stored: HTTP plus the signature check.
    let url = format!("http://{addr}/webhooks/shop");
    let (ceiling_rps, _, _) =
        post_webhooks(&client, &url, &bodies, conns, "checkouts/delete").await?;
    let started = Instant::now();
    let (rps, lat, queued) =
        post_webhooks(&client, &url, &bodies, conns, "checkouts/create").await?;
    let answered = started.elapsed();
    let backlog = hub.running.state.store.ingest_backlog();
    // Answered means durable (the journal or the WAL flushed; PostgreSQL's commit); applied means
    // the carts, contacts and timers are written too.
    hub.applied().await;
    let applied = started.elapsed();
    let rss_peak = rss_kb("VmHWM:");
    let health_after = hub.health(n, conns).await?;
    let health_rps = (health_before + health_after) / 2.0;
    let stored = hub
        .running
        .state
        .store
        .carts(&cartback_store::CartFilter {
            limit: 1,
            ..Default::default()
        })
        .await?
        .len();
    anyhow::ensure!(stored == 1, "nothing stored");
    println!(
        "ingest (burst): {n} signed Shopify checkout webhooks (avg {avg} B), {conns} connections, {}, durable before each answer",
        opts.store_label()
    );
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
    if let Some(tps) = pgbench {
        println!("  pgbench txn/s       {tps:>10.0}   (baseline: the same database, 32 clients, a three-insert transaction; 10 s before the webhooks)");
        println!(
            "  webhooks / pgbench  {:>10.2}   (target >= 2.5; p99 target < 50 ms)",
            rps / tps
        );
        hub.stop().await;
        return Ok(());
    }
    // Where the time goes: the same work without HTTP, in two halves.
    let (verify_us, decode_us, store_rps) =
        ingest_parts(&hub.running.state, hub.dir.path(), n, conns).await?;
    println!("  without HTTP: verify + translate {decode_us:>6.1} µs per webhook (verify alone {verify_us:.1} µs; one task); store alone (inline commit, no journal) {store_rps:>8.0} ingests/s ({conns} tasks)");
    // The checkpointer keeps the WAL from growing while the writer runs flat out.
    let size =
        |name: &str| std::fs::metadata(hub.dir.path().join(name)).map(|m| m.len() / 1_048_576);
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "  files after {} webhooks: database {} MB, WAL {} MB",
        2 * n,
        size("bench.db").unwrap_or(0),
        size("bench.db-wal").unwrap_or(0)
    );
    hub.stop().await;
    Ok(())
}

/// POSTs every body once, signed, under `topic`, from `conns` connections: (requests/s,
/// latencies, how many were answered 202).
pub async fn post_webhooks(
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
            let r = signed_post(
                &c,
                &url,
                topic,
                format!("bench-{topic}-{i}"),
                body.clone(),
                sig,
            )
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
            signed_request(
                format!("parts-{i}"),
                checkout_body(n + i),
                chrono::Utc::now(),
            )
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
