//! Prometheus metrics through the `metrics` crate. One recorder per process (installed on first
//! use), shared by every app instance in it.

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns its handle.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            )
            .expect("bucket list is non-empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (embedding); then ours only renders nothing.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub async fn render() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response()
}

/// Records `http_request_duration_seconds{route, method, status}` for every request.
pub async fn track_latency(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    metrics::histogram!(
        "http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => resp.status().as_u16().to_string()
    )
    .record(start.elapsed().as_secs_f64());
    resp
}

/// Topic labels kept per source; later new topics are counted as `other`.
pub const MAX_TOPICS: usize = 32;

/// The `topic` label of `cartback_webhooks_total` for a verified request: the topic, lower-cased,
/// when the source `known` it (translated it, or rejected its payload as that topic's). Anything
/// else (a topic the source does not use, which an unsigned header may name at will), an
/// odd-looking name, or one past the first [`MAX_TOPICS`] of a source is `other`, so the number
/// of series stays bounded whatever callers send.
pub fn topic_label(source: &str, topic: &str, known: bool) -> String {
    static SEEN: OnceLock<Mutex<HashMap<String, HashSet<String>>>> = OnceLock::new();
    let topic = topic.trim().to_ascii_lowercase();
    let tidy = !topic.is_empty()
        && topic.len() <= 64
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" _-./:".contains(&b));
    if !known || !tidy {
        return "other".into();
    }
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let topics = seen.entry(source.to_string()).or_default();
    if topics.contains(&topic) || topics.len() < MAX_TOPICS {
        topics.insert(topic.clone());
        topic
    } else {
        "other".into()
    }
}

/// Counts one webhook by source, topic and outcome.
pub fn webhook(source: &str, topic: &str, outcome: &'static str) {
    metrics::counter!(
        "cartback_webhooks_total",
        "source" => source.to_string(),
        "topic" => topic.to_string(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Links dropped from incoming carts because their host is not in `server.link_hosts`.
pub fn links_dropped(source: &str, n: usize) {
    metrics::counter!("cartback_links_dropped_total", "source" => source.to_string())
        .increment(n as u64);
}

/// `cartback_http_connections`: connections open now (the gauge moves by `delta`).
pub fn connections(delta: f64) {
    metrics::gauge!("cartback_http_connections").increment(delta);
}

/// `cartback_http_connections_closed_total{reason}`: connections the hub closed on its own:
/// `header_timeout` (headers not in within `server.header_read_timeout`), `idle` (nothing for
/// `server.idle_timeout`), `shed` (idle while `server.max_connections` were open).
pub fn connection_closed(reason: &'static str) {
    metrics::counter!("cartback_http_connections_closed_total", "reason" => reason).increment(1);
}

/// `cartback_http_connections_at_cap_total`: times the accept loop found every slot taken.
pub fn connections_at_cap() {
    metrics::counter!("cartback_http_connections_at_cap_total").increment(1);
}
