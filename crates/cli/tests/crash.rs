//! The crash test: 10,000 signed webhooks streamed at one hub (SQLite) while it is killed with
//! SIGKILL twice and restarted; a platform-like client retries what failed. Afterwards every
//! webhook that got a 2xx is in the store, and every reminder went out once, none twice (counted
//! at a wiremock provider); only a send cut off mid-request may be `unknown`. The hub answers from
//! its ingest journal (`wait_below = 0`), so each kill leaves acknowledged webhooks not yet applied.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_store::Store;
use common::{post, spawn, SECRET};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const WEBHOOKS: usize = 10_000;

fn config(provider: &str) -> String {
    format!(
        r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "crash-admin-token"

[store]
url = "sqlite://crash.db"

# Every webhook is answered 202 once its journal record is flushed, before it is applied: a kill
# finds acknowledged records still waiting, which the next start must apply, once.
[store.journal]
wait_below = 0

[engine]
timer_lease = "3s"
poll_interval = "100ms"

[source.shop]
type = "shopify"
secret = "{SECRET}"

[channel.sms]
type = "twilio"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "crash-token"
from = "+15005550006"
base_url = "{provider}"
status_callback = false
timeout = "2s"
lease = "12s"
concurrency = 8

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  send = {{ channel = "sms", template = "sms" }}

[template.sms]
text = "Still thinking? {{{{ cart.recovery_url }}}}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_twice_loses_nothing_and_sends_nothing_twice() {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({ "sid": "SM1" })))
        .mount(&provider)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(&cfg, config(&provider.uri())).unwrap();
    let hub = Arc::new(Mutex::new(spawn(&cfg)));
    let addr = Arc::new(Mutex::new(hub.lock().unwrap().addr.clone()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let accepted = AtomicUsize::new(0);
    let kills = [WEBHOOKS / 3, 2 * WEBHOOKS / 3];
    let started = Instant::now();
    futures::stream::iter(0..WEBHOOKS)
        .for_each_concurrent(16, |i| {
            let (client, addr, hub, accepted, cfg) =
                (&client, addr.clone(), hub.clone(), &accepted, cfg.clone());
            async move {
                // Like a platform: retry until the hub answers 2xx.
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    let a = addr.lock().unwrap().clone();
                    if let Ok(s) = post(client, &a, i).await {
                        if s.is_success() {
                            break;
                        }
                    }
                    assert!(Instant::now() < deadline, "webhook {i} never accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let n = accepted.fetch_add(1, Ordering::SeqCst) + 1;
                if kills.contains(&n) {
                    // SIGKILL mid-stream, then start again on the same database.
                    let mut h = hub.lock().unwrap();
                    h.child.kill().unwrap();
                    let _ = h.child.wait();
                    *h = spawn(&cfg);
                    *addr.lock().unwrap() = h.addr.clone();
                }
            }
        })
        .await;
    assert_eq!(accepted.load(Ordering::SeqCst), WEBHOOKS);
    let ingest_time = started.elapsed();

    // Let the survivor finish: every outbox row sent or unknown, no timer left.
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    let store = cartback_store::SqlStore::open(&url).await.unwrap();
    common::wait_until_done(&store, WEBHOOKS, Duration::from_secs(180)).await;
    {
        let mut h = hub.lock().unwrap();
        h.child.kill().unwrap();
        let _ = h.child.wait();
    }
    // Every accepted webhook is in the store.
    let carts: i64 = store
        .query_i64("SELECT COUNT(*) FROM carts", vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(carts as usize, WEBHOOKS);
    let runs: i64 = store
        .query_i64("SELECT COUNT(*) FROM flow_runs", vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(runs as usize, WEBHOOKS, "each cart enrolled once");
    // Nothing twice at the provider.
    let mut per_phone: HashMap<String, usize> = HashMap::new();
    for r in provider.received_requests().await.unwrap() {
        let to = url::form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "To")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        *per_phone.entry(to).or_default() += 1;
    }
    let twice: Vec<_> = per_phone.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let sent: i64 = store
        .query_i64("SELECT COUNT(*) FROM outbox WHERE status = 'sent'", vec![])
        .await
        .unwrap()
        .unwrap();
    let unknown: i64 = store
        .query_i64(
            "SELECT COUNT(*) FROM outbox WHERE status = 'unknown'",
            vec![],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((sent + unknown) as usize, WEBHOOKS);
    assert!(
        unknown <= 2 * 8,
        "{unknown} unknown: more than the sends in flight at two kills"
    );
    eprintln!("{WEBHOOKS} webhooks with 2 SIGKILLs accepted in {ingest_time:?}; {sent} sent, {unknown} unknown, none twice");
    store.close().await;
}
