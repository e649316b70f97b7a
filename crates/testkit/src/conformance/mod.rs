//! The conformance suite: what every source and every sink must do, run by one macro line in
//! each connector's tests.
//!
//! A connector's test file describes itself with a small struct implementing
//! [`SourceCase`](source::SourceCase) or [`SinkCase`](sink::SinkCase), and one macro line
//! expands to a module of `#[test]` functions, one per rule:
//!
//! ```ignore
//! struct Shopify;
//! impl SourceCase for Shopify { /* source, sign, signature_header, valid, malformed, ... */ }
//! cartback_testkit::source_conformance!(shopify, Shopify);
//!
//! struct SendGrid;
//! impl SinkCase for SendGrid { /* sink, message, accepted, message_id, credentials */ }
//! cartback_testkit::sink_conformance!(sendgrid_sink, SendGrid);
//! ```
//!
//! # Layout
//! - [`source`]: the source rules (published vectors, wrong / missing / truncated signatures,
//!   malformed bodies, unused topics, generated bodies) over `Source::verify` and `translate`.
//! - [`sink`]: the sink rules (sent with the provider's id, 429 + `Retry-After` and 5xx retryable
//!   with that delay, other 4xx permanent, a timeout after sending unknown, a closed port
//!   retryable, no credential in a `Debug` output or a log line) against a fake provider:
//!   [`HttpProvider`](sink::HttpProvider) (wiremock) for HTTP sinks, the connector's own for others.
//! - `logs`: captures the log lines a delivery writes.
//! - [`gen`]: proptest generators (hostile bytes and header values, fixture-shaped JSON with
//!   fields at the edges of their meaning) for the suite and for connectors' own property tests.
//!
//! # How many generated cases
//! The suite's properties ([`suite_config`]): `PROPTEST_CASES` when set; else [`CI_CASES`]
//! (10,000) under `CI=true` and [`LOCAL_CASES`] (1,000) otherwise, since 10,000 take 5 to 15 s
//! per connector in a debug build. Connectors' own property tests ([`property_config`]):
//! `PROPTEST_CASES`, else [`PROPERTY_CASES`]. `PROPTEST_CASES=100000 cargo test -p
//! cartback-<connector>` runs the long version of both.

pub mod gen;
mod logs;
pub mod sink;
pub mod source;

use cartback_core::InboundRequest;
use chrono::{DateTime, Utc};

/// 2026-11-20T16:00:00Z: when every conformance request is received.
pub const NOW_SECS: i64 = 1_795_190_400;

/// Generated cases per property when neither `PROPTEST_CASES` nor `CI=true` is set.
pub const LOCAL_CASES: u32 = 1_000;

/// Generated cases per property under `CI=true` (unless `PROPTEST_CASES` says otherwise).
pub const CI_CASES: u32 = 10_000;

/// Cases per connector-specific property test unless `PROPTEST_CASES` is set (what
/// `tests/tests/fuzz_sources.rs` ran before they moved into the connectors).
pub const PROPERTY_CASES: u32 = 512;

/// [`NOW_SECS`] as a time.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW_SECS, 0).expect("a representable time")
}

/// A POST to `url` with `headers`, received at [`now`], its source id the last path segment.
pub fn post(url: &str, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> InboundRequest {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    gen::inbound(url, &headers, body.as_ref().to_vec())
}

/// The `{source_id}` of `https://host/webhooks/{source_id}`, or `source`.
fn source_id(url: &str) -> String {
    url.split(['?', '#'])
        .next()
        .and_then(|path| path.split_once("/webhooks/"))
        .map(|(_, id)| id.trim_end_matches('/').to_string())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "source".into())
}

/// The suite's property tests' settings (generated bodies, hostile signatures): [`CI_CASES`]
/// under `CI=true`, else [`LOCAL_CASES`], unless `PROPTEST_CASES` is set; no failure files; a
/// fast generator (the cases need no cryptographic randomness).
pub fn suite_config() -> proptest::test_runner::Config {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    config(if ci { CI_CASES } else { LOCAL_CASES })
}

/// Connectors' own property tests' settings: `PROPTEST_CASES` when set, else
/// [`PROPERTY_CASES`]; otherwise as [`suite_config`].
pub fn property_config() -> proptest::test_runner::Config {
    config(PROPERTY_CASES)
}

fn config(default_cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default_cases);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..proptest::test_runner::Config::default()
    }
}

/// Runs a sink check on a current-thread runtime (every task the check starts runs on the
/// test's thread, so its log lines are captured).
pub fn block_on<F: std::future::Future>(check: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(check)
}

/// Runs the source suite: `source_conformance!(module_name, case)` expands to `mod module_name`
/// with one `#[test]` per rule, `case` (an expression of a type implementing
/// [`SourceCase`](source::SourceCase)) evaluated in each. Add `no_published_vector` when the
/// platform publishes no signature vector.
#[macro_export]
macro_rules! source_conformance {
    (@tests $name:ident, $case:expr, { $($vectors:tt)* }) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::source as rules;
            $($vectors)*
            #[test]
            fn valid_request_is_accepted() {
                rules::valid_request_is_accepted(&$case)
            }
            #[test]
            fn wrong_signature_is_refused() {
                rules::wrong_signature_is_refused(&$case)
            }
            #[test]
            fn missing_signature_is_refused() {
                rules::missing_signature_is_refused(&$case)
            }
            #[test]
            fn truncated_signature_is_refused() {
                rules::truncated_signature_is_refused(&$case)
            }
            #[test]
            fn hostile_signatures_are_refused() {
                rules::hostile_signatures_are_refused(&$case)
            }
            #[test]
            fn malformed_body_is_refused_with_a_reason() {
                rules::malformed_body_is_refused_with_a_reason(&$case)
            }
            #[test]
            fn unused_topic_is_acknowledged() {
                rules::unused_topic_is_acknowledged(&$case)
            }
            #[test]
            fn generated_bodies_never_panic() {
                rules::generated_bodies_never_panic(&$case)
            }
        }
    };
    ($name:ident, $case:expr, no_published_vector) => {
        $crate::source_conformance!(@tests $name, $case, {});
    };
    ($name:ident, $case:expr) => {
        $crate::source_conformance!(@tests $name, $case, {
            #[test]
            fn published_vectors_verify() {
                rules::published_vectors_verify(&$case)
            }
        });
    };
}

/// Runs the sink suite: `sink_conformance!(module_name, case)` expands to `mod module_name` with
/// one `#[test]` per rule, `case` (an expression of a type implementing
/// [`SinkCase`](sink::SinkCase)) evaluated in each.
#[macro_export]
macro_rules! sink_conformance {
    ($name:ident, $case:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::{block_on, sink as rules};
            #[test]
            fn accepted_message_is_sent() {
                block_on(rules::accepted_message_is_sent(&$case))
            }
            #[test]
            fn too_many_requests_is_retryable_after_retry_after() {
                block_on(rules::too_many_requests_is_retryable_after_retry_after(
                    &$case,
                ))
            }
            #[test]
            fn server_errors_are_retryable() {
                block_on(rules::server_errors_are_retryable(&$case))
            }
            #[test]
            fn other_client_errors_are_permanent() {
                block_on(rules::other_client_errors_are_permanent(&$case))
            }
            #[test]
            fn timeout_after_sending_is_unknown() {
                block_on(rules::timeout_after_sending_is_unknown(&$case))
            }
            #[test]
            fn closed_port_is_retryable() {
                block_on(rules::closed_port_is_retryable(&$case))
            }
            #[test]
            fn credentials_stay_out_of_debug_and_logs() {
                block_on(rules::credentials_stay_out_of_debug_and_logs(&$case))
            }
            #[test]
            fn many_messages_get_one_answer_each() {
                block_on(rules::many_messages_get_one_answer_each(&$case))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids_come_from_the_webhook_path() {
        assert_eq!(source_id("https://hub.example/webhooks/shop"), "shop");
        assert_eq!(
            source_id("https://hub.example/webhooks/sms?x=/webhooks/y"),
            "sms"
        );
        assert_eq!(source_id("https://hub.example/v1/batch"), "source");
        assert_eq!(post("https://h/webhooks/woo", &[], b"{}").source_id, "woo");
    }
}
