//! Several hub instances on one PostgreSQL database, as real processes: webhooks spread over two
//! instances, one of them killed with SIGKILL mid-run; the other finishes the work. Every webhook
//! answered 2xx is stored; no reminder is sent twice (counted at a wiremock provider); a reminder
//! is missing only where a send was interrupted after its request may have left (`unknown`).
//! Needs `CARTBACK_TEST_PG_URL` (CI sets it); skipped with a printed reason otherwise.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_store::testdb::TestDb;
use cartback_store::{Backend, Store};
use futures::StreamExt;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::SECRET;
const CARTS: usize = 2000;

fn config(db_url: &str, hook: &str) -> String {
    format!(
        r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "scale-admin-token"

[store]
url = "{db_url}"
pool_size = 8

[engine]
timer_lease = "3s"
poll_interval = "100ms"

[source.shop]
type = "shopify"
secret = "{SECRET}"

[channel.sms]
type = "twilio"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "scale-token"
from = "+15005550006"
base_url = "{hook}"
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

use common::{post, spawn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_one_database_one_killed() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    // Migrate once up front, as a deploy would before starting instances.
    let store = db.open().await.unwrap();
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
        ))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({ "sid": "SM1", "status": "queued" }))
                .set_delay(Duration::from_millis(5)),
        )
        .mount(&provider)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(&cfg, config(&db.url, &provider.uri())).unwrap();
    let mut a = spawn(&cfg);
    let mut b = spawn(&cfg);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();

    // Webhooks alternate between the instances; when half are in, A dies (SIGKILL) while it is
    // firing timers and sending. A load balancer then sends everything to B: requests to A that
    // fail are sent to B.
    let killed = std::sync::atomic::AtomicBool::new(false);
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    let a_pid = a.child.id().to_string();
    futures::stream::iter(0..CARTS)
        .for_each_concurrent(16, |i| {
            let (client, a_addr, b_addr, accepted, killed, a_pid) = (
                &client,
                a.addr.clone(),
                b.addr.clone(),
                &accepted,
                &killed,
                &a_pid,
            );
            async move {
                let use_a = i % 2 == 0 && !killed.load(std::sync::atomic::Ordering::SeqCst);
                let first = if use_a {
                    post(client, &a_addr, i).await
                } else {
                    post(client, &b_addr, i).await
                };
                let status = match first {
                    Ok(s) => s,
                    Err(_) => post(client, &b_addr, i).await.unwrap(),
                };
                assert!(status.is_success(), "webhook {i}: {status}");
                let n = accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                if n == CARTS / 2 {
                    killed.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = Command::new("kill").args(["-9", a_pid]).status();
                }
            }
        })
        .await;
    let _ = a.child.wait();
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), CARTS);

    // Every accepted webhook is stored.
    let n: i64 = store
        .query_i64("SELECT COUNT(*) FROM carts", vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n as usize, CARTS);

    // B finishes everything: every outbox row ends sent or unknown, none queued or in flight.
    common::wait_until_done(&store, CARTS, Duration::from_secs(150)).await;
    let elapsed = started.elapsed();
    b.child.kill().unwrap();
    let _ = b.child.wait();

    // No reminder twice, counted at the provider.
    let mut per_cart: HashMap<String, usize> = HashMap::new();
    for r in provider.received_requests().await.unwrap() {
        let to = url::form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "To")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        *per_cart.entry(to).or_default() += 1;
    }
    let twice: Vec<_> = per_cart.iter().filter(|(_, n)| **n > 1).collect();
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
    assert_eq!((sent + unknown) as usize, CARTS);
    // Only a send cut off by the kill may be unknown; at most A's in-flight sends.
    assert!(unknown <= 16, "{unknown} unknown");
    // Each cart was enrolled once.
    let runs: i64 = store
        .query_i64("SELECT COUNT(*) FROM flow_runs", vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(runs as usize, CARTS);
    assert!(
        per_cart.len() as i64 >= sent,
        "every sent reminder reached the provider"
    );
    eprintln!("{CARTS} carts over two instances (one killed): all work done in {elapsed:?}; {sent} sent, {unknown} unknown");
    store.close().await;
}
