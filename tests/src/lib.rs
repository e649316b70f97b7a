//! End-to-end tests of the whole hub live in `tests/`; this library holds what they share.
//!
//! # Layout
//! - `tests/ingress.rs`: webhooks in, carts out through the admin API, every status code, redelivery,
//!   ordering, restart.
//! - [`browser`]: a small WebDriver client for headless Chromium browser tests.
//! - [`rig`]: the engine on a real store with a manual clock and recording sinks.
//! - [`payloads`]: builders for realistic platform payloads (Shopify's field names).

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
