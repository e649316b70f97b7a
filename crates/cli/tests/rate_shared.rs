//! A channel's `rate` is the whole deployment's (issue 23.3): two real `cartback serve` processes
//! on one PostgreSQL database share one SMS channel with `rate = "100/s"`; a provider on 127.0.0.1
//! counts what it receives. 1,200 reminders are queued (through the store, as flows queue them)
//! before the instances start. Once the first second's burst is past, and while messages are
//! still queued, the provider sees 100 a second between the two over five seconds (±5%; each
//! second on its own ±10%), each instance sending some. Needs `CARTBACK_TEST_PG_URL` (CI sets
//! it); skipped with a printed reason otherwise, failing under `CI=true`.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_store::prelude::*;
use cartback_store::testdb::TestDb;
use cartback_store::{Backend, Store};
use common::spawn;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// More than both instances may send while the test looks, queued before they start.
const MESSAGES: usize = 1200;
const RATE: f64 = 100.0;
/// Each instance sends from its own number, so the provider can tell them apart.
const FROM: [&str; 2] = ["+15005550006", "+15005550007"];

fn config(db_url: &str, provider: &str, from: &str) -> String {
    format!(
        r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "rate-admin-token"

[store]
url = "{db_url}"
pool_size = 8

[engine]
timer_lease = "3s"
poll_interval = "100ms"

[channel.sms]
type = "twilio"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "rate-token"
from = "{from}"
base_url = "{provider}"
status_callback = false
timeout = "5s"
lease = "30s"
concurrency = 8
rate = "100/s"
"#
    )
}

/// The provider's log: when each request came, and from which instance.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(Instant, usize)>>>);

impl wiremock::Respond for Log {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let from = url::form_urlencoded::parse(&request.body)
            .find(|(k, _)| k == "From")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let instance = FROM.iter().position(|f| *f == from).unwrap_or(usize::MAX);
        self.0.lock().unwrap().push((Instant::now(), instance));
        ResponseTemplate::new(201)
            .set_body_json(serde_json::json!({ "sid": "SM1", "status": "queued" }))
    }
}

impl Log {
    fn first(&self) -> Option<Instant> {
        self.0.lock().unwrap().first().map(|(at, _)| *at)
    }

    /// Requests per instance in `[from, to)`.
    fn between(&self, from: Instant, to: Instant) -> [usize; 2] {
        let mut n = [0; 2];
        for (at, who) in self.0.lock().unwrap().iter() {
            if *at >= from && *at < to {
                n[*who] += 1;
            }
        }
        n
    }
}

/// `n` reminders due now on channel `sms`, as flows would have queued them.
async fn queue(store: &cartback_store::SqlStore, n: usize) {
    let mut commit = cartback_store::TimerCommit::default();
    for i in 0..n {
        let mut message = cartback_core::OutboundMessage {
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
        message.to.phone = Some(format!("+1415555{i:04}"));
        commit.outbox.push(cartback_store::NewMessage {
            message,
            run_id: format!("r{i}"),
            step: 0,
            contact_id: None,
            cart_id: None,
            cap: None,
            links: vec![],
        });
    }
    store.apply(commit, chrono::Utc::now()).await.unwrap();
}

/// Blocks of tokens the instances asked the database for so far (their `/metrics`).
async fn blocks_asked(client: &reqwest::Client, hubs: &[common::Hub]) -> usize {
    let mut n = 0.0;
    for hub in hubs {
        let text = client
            .get(format!("http://{}/metrics", hub.addr))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        n += text
            .lines()
            .filter(|l| l.starts_with("cartback_rate_blocks_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    n as usize
}

async fn count(store: &cartback_store::SqlStore, sql: &str) -> usize {
    store.query_i64(sql, vec![]).await.unwrap().unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_hold_one_rate_between_them() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    // Migrate once up front, as a deploy would before starting instances.
    let store = db.open().await.unwrap();
    let provider = MockServer::start().await;
    let log = Log::default();
    Mock::given(method("POST"))
        .and(path(
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
        ))
        .respond_with(log.clone())
        .mount(&provider)
        .await;
    queue(&store, MESSAGES).await;
    let dir = tempfile::tempdir().unwrap();
    let hubs: Vec<_> = FROM
        .iter()
        .enumerate()
        .map(|(i, from)| {
            let cfg = dir.path().join(format!("cartback-{i}.toml"));
            std::fs::write(&cfg, config(&db.url, &provider.uri(), from)).unwrap();
            spawn(&cfg)
        })
        .collect();

    // The first second's burst (the bucket starts full) past.
    let first = loop {
        if let Some(at) = log.first() {
            break at;
        }
        assert!(Instant::now() < deadline, "nothing was sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep_until((first + Duration::from_millis(1500)).into()).await;
    let window = Duration::from_secs(5);
    let client = reqwest::Client::new();
    let asked_before = blocks_asked(&client, &hubs).await;
    let start = Instant::now();
    tokio::time::sleep(window).await;
    let end = Instant::now();
    let asked = blocks_asked(&client, &hubs).await - asked_before;
    let queued = count(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'claimed')",
    )
    .await;
    drop(hubs);

    let per = log.between(start, end);
    let rate = (per[0] + per[1]) as f64 / (end - start).as_secs_f64();
    eprintln!(
        "rate 100/s over two instances: {rate:.1}/s held for {:?} (instance A {}, B {}; {} still queued after)",
        end - start,
        per[0],
        per[1],
        queued
    );
    let seconds: Vec<usize> = (0..window.as_secs())
        .map(|k| {
            let from = start + Duration::from_secs(k);
            let n = log.between(from, from + Duration::from_secs(1));
            n[0] + n[1]
        })
        .collect();
    eprintln!("  per second: {seconds:?}; {asked} blocks asked of the database");
    // Never a round trip per message: a grant per block of 5 (20 a second) and at most one empty
    // answer per block per instance.
    assert!(
        asked <= (per[0] + per[1]) / 5 * 3 + 10,
        "{asked} asks for {} sends",
        per[0] + per[1]
    );
    assert!(
        queued > 0,
        "the instances ran out of messages: not a steady window"
    );
    // Each second on its own within 10%: a block (5 tokens) more or less at its edges.
    for n in &seconds {
        assert!(
            (90..=110).contains(n),
            "a second with {n} sends: {seconds:?}"
        );
    }
    assert!(
        (RATE * 0.95..=RATE * 1.05).contains(&rate),
        "{rate:.1}/s: not within 5% of {RATE}/s"
    );
    for (i, n) in per.iter().enumerate() {
        assert!(
            *n as f64 >= 0.1 * RATE * window.as_secs_f64(),
            "instance {i} sent only {n}"
        );
    }
    store.close().await;
}
