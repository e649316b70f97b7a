//! `timers`: abandonment timers fired and steps queued, against one durable one-row transaction.

use crate::common::*;
use cartback_core::{Clock, ManualClock};
use cartback_store::prelude::*;
use cartback_store::SqlValue;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `instances` engines, each on its own connection pool (as separate processes would be), fire the
/// same timers side by side; the unique keys and the claims' leases keep each fired once.
pub async fn timers(n: usize, pg: Option<&str>, instances: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let schema = pg.map(crate::pg::Schema::create).transpose()?;
    let url = match &schema {
        Some(s) => s.url(),
        None => format!("sqlite://{}", dir.path().join("timers.db").display()),
    };
    let store = cartback_store::SqlStore::open(&url).await?;
    let label = if schema.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    // Baseline: the smallest durable unit of work, one tiny transaction per row.
    store
        .execute_all(vec![(
            "CREATE TABLE baseline (id BIGINT PRIMARY KEY, v BIGINT)".into(),
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
    let mut engines = Vec::new();
    for _ in 0..instances.max(1) {
        let own: Arc<dyn cartback_store::Store> = if instances > 1 {
            Arc::new(cartback_store::SqlStore::open(&url).await?)
        } else {
            Arc::new(store.clone())
        };
        engines.push(Arc::new(cartback_cli::app::build_engine(
            &cfg,
            own,
            Arc::new(clock.clone()),
        )?));
    }
    clock.advance(Duration::from_secs(7200));
    let t = Instant::now();
    let mut runs = Vec::new();
    for e in &engines {
        let e = e.clone();
        runs.push(tokio::spawn(async move { e.run_due().await }));
    }
    let mut fired = 0;
    for r in runs {
        fired += r.await??;
    }
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
    println!("timers: {n} carts with pending abandonment timers ({label})");
    println!(
        "  insert              {:>10.2} s    ({:.0} carts/s in one transaction)",
        insert.as_secs_f64(),
        n as f64 / insert.as_secs_f64()
    );
    println!("  fired/s             {rate:>10.0}   ({fired} timers: {n} abandonment checks with enrolment + {n} steps with the outbox row; {:.1} s; {} engine{} side by side)", fire.as_secs_f64(), engines.len(), if engines.len() == 1 { "" } else { "s" });
    println!(
        "  1-row txn/s         {base_rate:>10.0}   (baseline: one durable one-row transaction)"
    );
    println!(
        "  ratio               {:>10.3}   (target >= 10,000 fired/s)",
        rate / base_rate
    );
    if let Some(s) = &schema {
        let tps = s.pgbench(32, 10)?;
        println!("  pgbench txn/s       {tps:>10.0}   (baseline: the same database, 32 clients, a three-insert transaction)");
        println!("  fired / pgbench     {:>10.2}", rate / tps);
    }
    println!("  RSS with pending    {:>10} MB", rss_pending / 1024);
    println!(
        "  peak RSS            {:>10} MB   (target <= 200 MB)",
        rss_kb("VmHWM:") / 1024
    );
    let _ = clock.now();
    for e in engines {
        e.store().close().await;
    }
    store.close().await;
    Ok(())
}
