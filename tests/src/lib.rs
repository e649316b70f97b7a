//! End-to-end tests of the whole hub live in `tests/`; this library holds what they share.
//!
//! # Layout
//! - `tests/ingress.rs`: webhooks in, carts out through the admin API, every status code, redelivery,
//!   ordering, restart.
//! - [`browser`]: a small WebDriver client for headless Chromium browser tests.
//! - [`rig`]: the engine on a real store with a manual clock and recording sinks.
//! - [`payloads`]: builders for realistic platform payloads (Shopify's field names).
//!
//! # Waiting without sleeping
//! A test never sleeps a fixed time. It waits for what it needs with [`until`] / [`until_within`]
//! (bounded, polling, failing with a message). To show that something does *not* happen (no
//! reminder after the purchase), it waits with [`until_settled`] for the state that makes the
//! absence final (the cart's check has run, none of its runs is still running, no message is
//! waiting to go out), then asserts. Or it runs on the manual clock of [`rig`].

pub mod browser;
pub mod payloads;
pub mod rig;

/// The property tests' settings: `PROPTEST_CASES` cases (512 unless set), no failure files, and a
/// fast generator (ChaCha, the default, dominates a debug build's run time; the cases need no
/// cryptographic randomness).
pub fn proptest_config() -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..proptest::test_runner::Config::default()
    }
}

/// Polls `f` every 50 ms until it holds, failing the test after `secs` seconds with `what`.
pub async fn until_within<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// [`until_within`] 20 seconds.
pub async fn until<F, Fut>(what: &str, f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    until_within(20, what, f).await
}

/// The admin API's answer at `path` (`/api/v1/...`), as JSON.
pub async fn admin_json(hub: &cartback_testkit::Hub, path: &str) -> serde_json::Value {
    let resp = hub.admin_get(path).await.expect("the admin API answers");
    assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
    resp.json().await.expect("the admin API answers JSON")
}

/// The first cart of the contact at `email` (`GET /api/v1/carts?email=`), if any.
pub async fn cart_of(hub: &cartback_testkit::Hub, email: &str) -> Option<serde_json::Value> {
    let carts = admin_json(hub, &format!("/api/v1/carts?email={email}")).await;
    carts["carts"].as_array().and_then(|a| a.first()).cloned()
}

/// The runs of a cart (`GET /api/v1/carts/{id}/runs`).
pub async fn runs_of(hub: &cartback_testkit::Hub, cart_id: &str) -> Vec<serde_json::Value> {
    let runs = admin_json(hub, &format!("/api/v1/carts/{cart_id}/runs")).await;
    runs["runs"].as_array().cloned().unwrap_or_default()
}

/// Every outbox row of a run, whatever its status (`GET /api/v1/messages?run_id=`).
pub async fn messages_of_run(hub: &cartback_testkit::Hub, run_id: &str) -> Vec<serde_json::Value> {
    let m = admin_json(hub, &format!("/api/v1/messages?run_id={run_id}&limit=1000")).await;
    m["messages"].as_array().cloned().unwrap_or_default()
}

/// Outbox rows that may still go out: `queued` (also waiting to retry), `claimed`, `sending`.
pub async fn pending_messages(hub: &cartback_testkit::Hub) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for status in ["queued", "claimed", "sending"] {
        let m = admin_json(hub, &format!("/api/v1/messages?status={status}&limit=1000")).await;
        all.extend(m["messages"].as_array().cloned().unwrap_or_default());
    }
    all
}

/// The cart of the contact at `email` and its runs, once the engine is done with it: the cart
/// exists and its abandonment check has run (it is no longer `open`), none of its runs is still
/// `running` (each has taken its last step or exited), and no message anywhere is queued, claimed
/// or sending. `None` while any of that is not so.
pub async fn settled(
    hub: &cartback_testkit::Hub,
    email: &str,
) -> Option<(serde_json::Value, Vec<serde_json::Value>)> {
    let cart = cart_of(hub, email).await?;
    if cart["status"] == "open" {
        return None;
    }
    let runs = runs_of(hub, cart["id"].as_str()?).await;
    if runs.iter().any(|r| r["status"] == "running") || !pending_messages(hub).await.is_empty() {
        return None;
    }
    Some((cart, runs))
}

/// Waits (up to `secs`) until [`settled`] holds for the cart at `email`. From then on nothing more
/// can be sent for that cart unless something new arrives, so a test may assert what was (not)
/// sent. Returns the cart and its runs.
pub async fn until_settled(
    hub: &cartback_testkit::Hub,
    email: &str,
    secs: u64,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    until_within(
        secs,
        &format!("the engine to be done with {email}'s cart"),
        || async { settled(hub, email).await.is_some() },
    )
    .await;
    settled(hub, email).await.expect("stays settled")
}
