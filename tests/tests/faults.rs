//! Provider faults: a provider hangs, resets connections, refuses them, or answers 500 for a
//! sustained stretch; the other channels are unaffected, nothing piles up in memory (the queue is
//! the database: requests in flight never exceed the channel's concurrency), and a provider that
//! comes back gets its retryable messages, each exactly once.
#![allow(clippy::unwrap_used)]

use cartback_e2e::payloads::shopify_checkout;
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRET: &str = "faults-secret";
const SID: &str = "AC0123456789abcdef0123456789abcdef";

fn channel(id: &str, url: &str) -> String {
    format!(
        "[channel.{id}]\ntype = \"twilio\"\naccount_sid = \"{SID}\"\nauth_token = \"t\"\nfrom = \"+15005550006\"\nbase_url = \"{url}\"\n\
         status_callback = false\ntimeout = \"1s\"\nlease = \"12s\"\nmax_attempts = 10\n\n\
         [flow.f_{id}]\ntrigger = \"cart_abandoned\"\nabandon_after = \"1s\"\n  [[flow.f_{id}.step]]\n  send = {{ channel = \"{id}\", template = \"t\" }}\n\n"
    )
}

async fn twilio(status: u16, delay: Duration) -> MockServer {
    let m = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_json(serde_json::json!({ "sid": "SM1", "code": 20500, "message": "x" }))
                .set_delay(delay),
        )
        .mount(&m)
        .await;
    m
}

async fn messages(hub: &Hub, q: &str) -> Vec<Value> {
    let v: Value = hub
        .admin_get(&format!("/api/v1/messages{q}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_hanging_or_failing_provider_does_not_stall_the_others() {
    let healthy = twilio(201, Duration::ZERO).await;
    let hanging = twilio(201, Duration::from_secs(30)).await;
    // Answers 500 three times, then recovers.
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("down"))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({ "sid": "SM2" })))
        .with_priority(2)
        .mount(&flaky)
        .await;
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"${{CARTBACK_ADMIN_TOKEN}}\"\n[store]\nurl = \"sqlite://hub.db\"\n\
         [source.shop]\ntype = \"shopify\"\nsecret = \"{SECRET}\"\n[template.t]\ntext = \"hi\"\n{}{}{}",
        channel("healthy", &healthy.uri()),
        channel("hanging", &hanging.uri()),
        channel("flaky", &flaky.uri())
    );
    let hub = spawn_hub(&config, &[]).await.unwrap();
    for i in 0..3 {
        let now = chrono::Utc::now().to_rfc3339();
        let mut c = shopify_checkout(&format!("f{i}"), &format!("f{i}@example.com"), &now, 1);
        c["phone"] = Value::String(format!("+1415555010{i}"));
        c["customer"]["sms_marketing_consent"] = serde_json::json!({ "state": "subscribed" });
        let body = serde_json::to_vec(&c).unwrap();
        shopify_request(
            &hub.client,
            &hub.url("/webhooks/shop"),
            SECRET,
            "checkouts/create",
            &format!("f{i}"),
            &body,
        )
        .send()
        .await
        .unwrap();
    }
    // The healthy channel delivers all three at once, while the other two struggle.
    wait_for(
        &hub,
        "healthy",
        15,
        "the healthy channel (stalled?)",
        || async { healthy.received_requests().await.unwrap().len() == 3 },
    )
    .await;
    // The hanging provider's sends end as `unknown` after the timeout (never re-sent).
    wait_for(
        &hub,
        "hanging",
        20,
        "the hanging sends to time out",
        || async { count(&hub, "hanging", "unknown").await >= 3 },
    )
    .await;
    // The flaky provider recovers: retried with backoff until sent.
    wait_for(
        &hub,
        "flaky",
        40,
        "the flaky channel to recover",
        || async { count(&hub, "flaky", "sent").await >= 3 },
    )
    .await;
    let flaky_msgs = messages(&hub, "?channel=flaky").await;
    assert!(
        flaky_msgs
            .iter()
            .any(|m| m["attempts"].as_u64().unwrap() > 1),
        "no retry recorded"
    );
    assert_eq!(
        hanging.received_requests().await.unwrap().len(),
        3,
        "an unknown send was repeated"
    );
    // Unknown messages can be re-driven by the operator.
    let r: Value = hub
        .client
        .post(hub.url("/api/v1/messages/redrive"))
        .bearer_auth(&hub.admin_token)
        .json(&serde_json::json!({ "status": "unknown" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["requeued"], 3);
}

// ---- helpers for the tests below ----

/// A Twilio channel `id` at `url` with its own outbox settings, and a flow that sends on it one
/// second after a cart is abandoned.
fn channel_with(id: &str, url: &str, settings: &str) -> String {
    format!(
        "[channel.{id}]\ntype = \"twilio\"\naccount_sid = \"{SID}\"\nauth_token = \"t\"\nfrom = \"+15005550006\"\nbase_url = \"{url}\"\n\
         status_callback = false\n{settings}\n\n\
         [flow.f_{id}]\ntrigger = \"cart_abandoned\"\nabandon_after = \"1s\"\n  [[flow.f_{id}.step]]\n  send = {{ channel = \"{id}\", template = \"t\" }}\n\n"
    )
}

async fn hub_with(channels: &[String]) -> Hub {
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"${{CARTBACK_ADMIN_TOKEN}}\"\n[store]\nurl = \"sqlite://hub.db\"\n\
         [source.shop]\ntype = \"shopify\"\nsecret = \"{SECRET}\"\n[template.t]\ntext = \"hi\"\n{}",
        channels.concat()
    );
    spawn_hub(&config, &[]).await.unwrap()
}

/// The phone of cart `n` (E.164, as the provider sees it in `To`).
fn phone(n: u32) -> String {
    format!("+1415555{n:04}")
}

/// Abandons carts `first..first + count`, each with its own shopper, phone and SMS consent.
async fn abandon(hub: &Hub, first: u32, count: u32) {
    for n in first..first + count {
        let now = chrono::Utc::now().to_rfc3339();
        let token = format!("c{n}");
        let mut c = shopify_checkout(&token, &format!("{token}@example.com"), &now, 1);
        c["phone"] = Value::String(phone(n));
        c["customer"]["id"] = serde_json::json!(6_000_000_000_000u64 + u64::from(n));
        c["customer"]["sms_marketing_consent"] = serde_json::json!({ "state": "subscribed" });
        let body = serde_json::to_vec(&c).unwrap();
        let r = shopify_request(
            &hub.client,
            &hub.url("/webhooks/shop"),
            SECRET,
            "checkouts/create",
            &token,
            &body,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
}

/// How many of `channel`'s messages have `status` (up to 1000).
async fn count(hub: &Hub, channel: &str, status: &str) -> usize {
    messages(
        hub,
        &format!("?channel={channel}&status={status}&limit=1000"),
    )
    .await
    .len()
}

/// Waits until the channel holds `total` messages and none of them can still go out (none
/// `queued`, `claimed` or `sending`): from then on the provider gets no further request, so what it
/// received is final.
async fn until_final(hub: &Hub, channel: &str, total: usize) {
    wait_for(
        hub,
        channel,
        20,
        &format!("{total} final messages on {channel}"),
        || async {
            let all = messages(hub, &format!("?channel={channel}&limit=1000")).await;
            all.len() == total
                && all.iter().all(|m| {
                    !["queued", "claimed", "sending"]
                        .contains(&m["status"].as_str().unwrap_or_default())
                })
        },
    )
    .await;
}

/// Polls `f` every 50 ms until it holds; fails with `what` (and the channel's messages) after `secs`.
async fn wait_for<F, Fut>(hub: &Hub, channel: &str, secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        if Instant::now() >= deadline {
            panic!(
                "timed out after {secs}s waiting for {what}; {channel}: {:#?}",
                messages(hub, &format!("?channel={channel}&limit=1000")).await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the request head (up to the blank line), or until the peer closes or `limit` passes.
async fn read_head(s: &mut TcpStream, limit: Duration) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        return;
                    }
                }
            }
        }
    })
    .await;
}

/// A provider that accepts each connection, lets the request arrive, then aborts the connection
/// with a TCP reset (SO_LINGER 0) instead of an HTTP answer. Counts the connections.
async fn resetting(listener: TcpListener, accepted: Arc<AtomicUsize>) {
    while let Ok((mut s, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            read_head(&mut s, Duration::from_secs(2)).await;
            s.set_zero_linger().unwrap();
            drop(s);
        });
    }
}

/// Connections open at a hanging provider: now, at most ever, and in total.
#[derive(Default)]
struct Gauge {
    open: AtomicUsize,
    max: AtomicUsize,
    total: AtomicUsize,
}

/// A provider that reads each request and never answers; a connection counts as in flight from
/// its accept until the client gives up and closes it.
async fn hanging(listener: TcpListener, gauge: Arc<Gauge>) {
    while let Ok((mut s, _)) = listener.accept().await {
        gauge.total.fetch_add(1, Ordering::SeqCst);
        let open = gauge.open.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.max.fetch_max(open, Ordering::SeqCst);
        let gauge = gauge.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            // Until EOF or a reset from the client (bounded: the test never waits this long).
            let _ = tokio::time::timeout(Duration::from_secs(60), async {
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                }
            })
            .await;
            gauge.open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// The `To` field of a Twilio create-message request.
fn to_of(req: &Request) -> String {
    url::form_urlencoded::parse(&req.body)
        .find(|(k, _)| k == "To")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A Twilio that answers 500 from its first request until `outage` has passed, then 201; logs
/// every request's recipient and the status it got.
#[derive(Clone)]
struct Outage {
    outage: Duration,
    began: Arc<Mutex<Option<Instant>>>,
    log: Arc<Mutex<Vec<(String, u16, Instant)>>>,
}

impl Respond for Outage {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let began = *self.began.lock().unwrap().get_or_insert_with(Instant::now);
        let mut log = self.log.lock().unwrap();
        if began.elapsed() < self.outage {
            log.push((to_of(req), 500, Instant::now()));
            ResponseTemplate::new(500).set_body_json(
                serde_json::json!({ "code": 20500, "message": "Internal Server Error", "status": 500 }),
            )
        } else {
            log.push((to_of(req), 201, Instant::now()));
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({ "sid": format!("SM{}", log.len()) }))
        }
    }
}

/// Requests the mock received, per recipient.
async fn requests_by_to(m: &MockServer) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for r in m.received_requests().await.unwrap() {
        *by.entry(to_of(&r)).or_insert(0) += 1;
    }
    by
}

/// A provider that resets connections: its sends end `unknown` (the request may have been
/// processed) and are never repeated; the healthy channel beside it is not stalled. While the
/// provider is down (connection refused: nothing was sent) its sends are retried with backoff, and
/// when it comes back on the same address exactly those are delivered, once each.
#[tokio::test]
async fn a_resetting_then_refusing_provider_recovers_without_duplicates() {
    let healthy = twilio(201, Duration::ZERO).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let resets = tokio::spawn(resetting(listener, accepted.clone()));
    let settings = "timeout = \"2s\"\nlease = \"15s\"\nmax_attempts = 10";
    let hub = hub_with(&[
        channel_with("healthy", &healthy.uri(), settings),
        channel_with("resetting", &format!("http://{addr}"), settings),
    ])
    .await;

    // Phase 1: every connection is reset after the request went out.
    let started = Instant::now();
    abandon(&hub, 0, 3).await;
    wait_for(
        &hub,
        "resetting",
        20,
        "3 reset sends to end unknown",
        || async { count(&hub, "resetting", "unknown").await == 3 },
    )
    .await;
    wait_for(
        &hub,
        "healthy",
        20,
        "the healthy channel's 3 sends",
        || async { count(&hub, "healthy", "sent").await == 3 },
    )
    .await;
    println!(
        "resets: 3 unknown, healthy 3 sent after {:?}",
        started.elapsed()
    );
    for m in messages(&hub, "?channel=resetting&limit=1000").await {
        assert_eq!(m["attempts"], 1, "a reset send was tried again: {m}");
        assert!(!m["last_error"].is_null(), "{m}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);

    // Phase 2: the provider is gone (connection refused): nothing was sent, so retry with backoff.
    resets.abort();
    let _ = resets.await;
    abandon(&hub, 100, 3).await;
    wait_for(
        &hub,
        "resetting",
        25,
        "refused sends to be retried at least once",
        || async {
            let queued = messages(&hub, "?channel=resetting&status=queued&limit=1000").await;
            queued.len() == 3
                && queued
                    .iter()
                    .all(|m| m["attempts"].as_u64().unwrap() >= 2 && !m["last_error"].is_null())
        },
    )
    .await;
    assert_eq!(count(&hub, "resetting", "unknown").await, 3);
    assert_eq!(count(&hub, "resetting", "failed").await, 0);
    wait_for(
        &hub,
        "healthy",
        20,
        "the healthy channel's 6 sends",
        || async { count(&hub, "healthy", "sent").await == 6 },
    )
    .await;

    // Phase 3: the provider comes back on the same address.
    let back = MockServer::builder()
        .listener(std::net::TcpListener::bind(addr).unwrap())
        .start()
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({ "sid": "SM3" })))
        .mount(&back)
        .await;
    let recovered = Instant::now();
    wait_for(
        &hub,
        "resetting",
        30,
        "the refused sends to be delivered",
        || async { count(&hub, "resetting", "sent").await == 3 },
    )
    .await;
    println!(
        "refused sends delivered {:?} after the provider came back",
        recovered.elapsed()
    );
    // Exactly the retryable ones, once each; the unknown ones stay unknown (not re-sent).
    until_final(&hub, "resetting", 6).await;
    let by = requests_by_to(&back).await;
    let want: BTreeMap<String, usize> = (100..103).map(|n| (phone(n), 1)).collect();
    assert_eq!(
        by, want,
        "the recovered provider got other requests than the 3 retryable ones once each"
    );
    assert_eq!(count(&hub, "resetting", "unknown").await, 3);
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

/// A provider that answers 500 for a minute and then recovers: the messages are
/// retried with backoff, the healthy channel beside it delivers everything during the outage, and
/// in the end every message reached the provider successfully exactly once; none is lost.
#[tokio::test]
async fn a_provider_answering_500_for_a_minute_gets_every_message_exactly_once() {
    const N: u32 = 20;
    let healthy = twilio(201, Duration::ZERO).await;
    let outage = Outage {
        outage: Duration::from_secs(60),
        began: Arc::default(),
        log: Arc::default(),
    };
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(outage.clone())
        .mount(&down)
        .await;
    // Backoff tuned on the channel: 1 s, 2 s, 4 s, then capped at 4 s; enough attempts to ride
    // out a minute (about 17 are needed).
    let settings = "timeout = \"2s\"\nlease = \"15s\"\nmax_attempts = 30\nbackoff = \"1s\"\nbackoff_max = \"4s\"";
    let hub = hub_with(&[
        channel_with("healthy", &healthy.uri(), settings),
        channel_with("down", &down.uri(), settings),
    ])
    .await;
    abandon(&hub, 0, N).await;
    let started = Instant::now();
    wait_for(
        &hub,
        "healthy",
        20,
        "the healthy channel's sends",
        || async { count(&hub, "healthy", "sent").await == N as usize },
    )
    .await;
    let began = outage
        .began
        .lock()
        .unwrap()
        .expect("the provider was called");
    assert!(
        began.elapsed() < outage.outage,
        "the healthy channel only finished after the outage"
    );
    println!("healthy: {N} sent {:?} after the carts", started.elapsed());

    wait_for(
        &hub,
        "down",
        100,
        "every message sent after the outage",
        || async { count(&hub, "down", "sent").await == N as usize },
    )
    .await;
    println!(
        "outage: all {N} sent {:?} after the provider's first 500",
        began.elapsed()
    );
    // Nothing further arrives once all are sent: none of the channel's messages can still go out.
    until_final(&hub, "down", N as usize).await;
    let log = outage.log.lock().unwrap().clone();
    let mut per: BTreeMap<String, Vec<(u16, Instant)>> = BTreeMap::new();
    for (to, status, at) in &log {
        per.entry(to.clone()).or_default().push((*status, *at));
    }
    let want: Vec<String> = (0..N).map(phone).collect();
    assert_eq!(
        per.keys().cloned().collect::<Vec<_>>(),
        want,
        "lost messages"
    );
    for (to, tries) in &per {
        // 500s, then exactly one success, then nothing.
        let statuses: Vec<u16> = tries.iter().map(|t| t.0).collect();
        let (last, fails) = statuses.split_last().unwrap();
        assert!(
            *last == 201 && fails.iter().all(|s| *s == 500) && fails.len() >= 14,
            "{to}: {statuses:?}"
        );
        // The channel's backoff: after the a-th failed attempt the next comes no sooner than
        // min(2^(a-1) s, 4 s) less the 20% jitter, and never much later than the 4 s cap.
        for (a, pair) in tries.windows(2).enumerate() {
            let gap = pair[1].1 - pair[0].1;
            let wait = Duration::from_secs(1 << a.min(2));
            let min = wait.mul_f64(0.8) - Duration::from_millis(50);
            let max = Duration::from_secs(4).mul_f64(1.2) + Duration::from_secs(2);
            assert!(
                gap >= min && gap <= max,
                "{to}: retry {} after {gap:?}, backoff {wait:?}",
                a + 1
            );
        }
    }
    for m in messages(&hub, "?channel=down&limit=1000").await {
        assert_eq!(m["status"], "sent", "{m}");
        assert!(m["attempts"].as_u64().unwrap() >= 15, "{m}");
    }
    let fails = log.iter().filter(|(_, s, _)| *s == 500).count();
    println!(
        "{fails} answers of 500 for {N} messages, {} requests",
        log.len()
    );
}

/// A hanging provider with hundreds of messages queued: requests in flight never exceed the
/// channel's `concurrency`, at most one claimed batch is held outside the `queued` state (the
/// queue is the database, not memory), and a healthy channel delivers all of its own meanwhile.
#[tokio::test]
async fn a_hanging_provider_never_has_more_requests_in_flight_than_the_concurrency() {
    const N: u32 = 300;
    const CONCURRENCY: usize = 3;
    // The engine claims concurrency × 4 per round (at least 4).
    const BATCH: usize = CONCURRENCY * 4;
    let healthy = twilio(201, Duration::ZERO).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gauge = Arc::new(Gauge::default());
    tokio::spawn(hanging(listener, gauge.clone()));
    let hub = hub_with(&[
        channel_with(
            "healthy",
            &healthy.uri(),
            "timeout = \"2s\"\nlease = \"15s\"",
        ),
        channel_with(
            "hanging",
            &format!("http://{addr}"),
            &format!("timeout = \"1s\"\nlease = \"12s\"\nconcurrency = {CONCURRENCY}"),
        ),
    ])
    .await;
    let started = Instant::now();
    abandon(&hub, 0, N).await;
    println!("{N} carts in {:?}", started.elapsed());
    wait_for(&hub, "hanging", 30, "all messages queued", || async {
        messages(&hub, "?channel=hanging&limit=1000").await.len() == N as usize
    })
    .await;
    // Watch the hanging channel for a while: each send hangs until the 1 s timeout.
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(5) {
        let claimed = count(&hub, "hanging", "claimed").await;
        let sending = count(&hub, "hanging", "sending").await;
        assert!(claimed <= BATCH, "{claimed} claimed at once");
        assert!(sending <= CONCURRENCY, "{sending} sending at once");
        let max = gauge.max.load(Ordering::SeqCst);
        assert!(max <= CONCURRENCY, "{max} requests in flight at once");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The healthy channel delivered its own messages meanwhile.
    wait_for(
        &hub,
        "healthy",
        30,
        "the healthy channel's sends",
        || async { count(&hub, "healthy", "sent").await == N as usize },
    )
    .await;
    let total = gauge.total.load(Ordering::SeqCst);
    let max = gauge.max.load(Ordering::SeqCst);
    assert_eq!(max, CONCURRENCY, "the channel's concurrency was not used");
    assert!(
        total >= 2 * CONCURRENCY,
        "only {total} requests reached the hanging provider"
    );
    assert!(
        total < N as usize / 2,
        "{total} requests: sends did not hang"
    );
    // Everything not attempted (or in the current batch) is still queued in the database.
    let queued = count(&hub, "hanging", "queued").await;
    let unknown = count(&hub, "hanging", "unknown").await;
    let total = gauge.total.load(Ordering::SeqCst);
    assert!(
        queued + total + BATCH >= N as usize,
        "queued {queued}, attempted {total}: messages left the database queue"
    );
    assert!(unknown <= total, "unknown {unknown} > attempted {total}");
    assert_eq!(count(&hub, "hanging", "sent").await, 0);
    println!(
        "hanging: {total} requests, at most {max} in flight, {queued} still queued, {unknown} unknown; test took {:?}",
        started.elapsed()
    );
}
