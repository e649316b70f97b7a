//! `send`: the outbox delivering to a loopback provider, against raw POSTs to it.

use crate::common::*;
use cartback_store::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A store for one part of the benchmark: a new SQLite file, or a schema of its own on `pg`.
async fn store_for(
    pg: Option<&str>,
    dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<(cartback_store::SqlStore, Option<crate::pg::Schema>)> {
    let schema = pg.map(crate::pg::Schema::create).transpose()?;
    let url = match &schema {
        Some(s) => s.url(),
        None => format!("sqlite://{}", dir.join(name).display()),
    };
    Ok((cartback_store::SqlStore::open(&url).await?, schema))
}

pub async fn send(n: usize, rate: usize, pg: Option<&str>) -> anyhow::Result<()> {
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
    let (store, _schema) = store_for(pg, dir.path(), "send.db").await?;
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
    let (store, rate_schema) = store_for(pg, dir.path(), "rate.db").await?;
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
    let label = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("send: outbox → loopback provider (Twilio API shape), concurrency 16, {label}");
    println!("  sends/s             {rps:>10.0}   ({n} messages, unthrottled; target >= 2,000/s)");
    println!(
        "  raw POSTs/s         {base_rps:>10.0}   (baseline: the same provider without the outbox)"
    );
    println!("  ratio               {:>10.3}", rps / base_rps);
    println!(
        "  rate {rate}/s held     {held:>10.1}/s  ({:+.1}% off; target within ±5%)",
        (held / rate as f64 - 1.0) * 100.0
    );
    if let Some(s) = &rate_schema {
        let tps = s.pgbench(32, 10)?;
        println!("  pgbench txn/s       {tps:>10.0}   (baseline: the same database, 32 clients, a three-insert transaction)");
        println!("  sent / pgbench      {:>10.2}", rps / tps);
    }
    Ok(())
}
