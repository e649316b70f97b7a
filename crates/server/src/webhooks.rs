//! `POST /webhooks/{source_id}`: the raw body is verified, translated and committed, and only then
//! answered: `200` with the effects, or `202` when, under load, the events are durable in SQLite's
//! ingest journal and applied moments later (`cartback_store::journal`). Providers are never
//! called from here. A request whose signature fails is answered `401` with the reason and the
//! scheme its source expects (`Source::scheme`, each connector says its own), and logged at warn with the source id.

use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use cartback_core::{InboundRequest, TranslateError};
use cartback_engine::accept::{AcceptError, Arrival, EffectKind, IngestOutcome};
use serde_json::json;
use std::sync::Arc;

pub async fn receive(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    Path(source_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(source) = state.sources.get(&source_id).cloned() else {
        metrics::webhook("unknown", "unverified", "unknown_source");
        return Err(ApiError::UnknownSource(source_id));
    };
    let request = inbound(&state, &source_id, method, &uri, headers, body);
    process(&state, source_id, source, request).await
}

fn inbound(
    state: &AppState,
    source_id: &str,
    method: Method,
    uri: &axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> InboundRequest {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    InboundRequest {
        source_id: source_id.to_string(),
        method,
        url: format!("{}{}", state.settings.public_base(), path_and_query),
        headers,
        body,
        received_at: state.clock.now(),
    }
}

/// `POST` to a path a source mounts at the hub's root (the Segment-compatible `/v1/batch`):
/// the first source mounted there whose signature check accepts the request takes it.
pub async fn mounted(
    state: AppState,
    candidates: Arc<Vec<String>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut last = None;
    for source_id in candidates.iter() {
        let Some(source) = state.sources.get(source_id).cloned() else {
            continue;
        };
        let request = inbound(
            &state,
            source_id,
            method.clone(),
            &uri,
            headers.clone(),
            body.clone(),
        );
        match source.verify(&request) {
            Ok(()) => return process(&state, source_id.clone(), source, request).await,
            Err(e) => last = Some(e),
        }
    }
    metrics::webhook("mounted", "unverified", "unauthorized");
    let reason = last
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no source accepts this path".into());
    let url = format!("{}{}", state.settings.public_base(), uri.path());
    let scheme = candidates
        .iter()
        .find_map(|id| state.sources.get(id))
        .map_or_else(
            || "a mounted source's credentials".to_string(),
            |s| s.scheme(&url),
        );
    tracing::warn!(sources = ?candidates, path = %uri.path(), %reason, "Rejected request: no mounted source accepts its credentials.");
    Err(ApiError::BadSignature(format!(
        "{reason}; expected {scheme}"
    )))
}

async fn process(
    state: &AppState,
    source_id: String,
    source: Arc<dyn cartback_core::Source>,
    request: InboundRequest,
) -> Result<Response, ApiError> {
    if let Some(h) = source.handshake(&request) {
        metrics::webhook(&source_id, "handshake", "handshake");
        tracing::info!(%source_id, "Answered platform handshake.");
        let status = StatusCode::from_u16(h.status).unwrap_or(StatusCode::OK);
        return Ok((status, [(header::CONTENT_TYPE, h.content_type)], h.body).into_response());
    }
    let verified = match cartback_core::verify(source.as_ref(), &request) {
        Ok(v) => v,
        Err(err) => {
            metrics::webhook(&source_id, "unverified", "unauthorized");
            let kind = source.kind();
            tracing::warn!(%source_id, kind, reason = %err, "Rejected webhook: signature check failed.");
            return Err(ApiError::BadSignature(format!(
                "{err}; expected {}",
                source.scheme(&request.url)
            )));
        }
    };
    let trust = source.trust(verified);
    let mut translation = match source.translate(verified) {
        Ok(t) => t,
        Err(err) => {
            let label = metrics::topic_label(&source_id, topic_of(&err), true);
            metrics::webhook(&source_id, &label, "bad_request");
            tracing::info!(%source_id, reason = %err, "Rejected webhook: payload does not fit.");
            return Err(ApiError::BadRequest(err.to_string()));
        }
    };
    let topic = translation.topic.clone();
    // Label only topics the source uses: an unused one is whatever an unsigned header said.
    let known = translation.ignored.as_deref() != Some("topic not used");
    let label = metrics::topic_label(&source_id, &topic, known);
    if let Some(reason) = &translation.ignored {
        metrics::webhook(&source_id, &label, "ignored");
        if reason == "topic not used" {
            tracing::debug!(%source_id, %topic, %reason, "Ignored webhook topic.");
        } else {
            // Acknowledged requests (Shopify's customers/data_request) are kept in the log.
            tracing::info!(%source_id, %topic, %reason, "Acknowledged webhook.");
        }
        return Ok(ok(
            json!({ "status": "ignored", "topic": topic, "reason": reason }),
        ));
    }
    // The engine's front door checks every event (no negative prices, no over-long addresses, no
    // control characters in names) and keeps only links on the shop's own hosts.
    let accepted = state
        .engine
        .accept(Arrival {
            source_id: &source_id,
            delivery_ids: &translation.delivery_ids,
            events: std::mem::take(&mut translation.events),
            received_at: request.received_at,
            trust,
        })
        .await;
    let accepted = match accepted {
        Ok(a) => a,
        Err(AcceptError::Invalid(reason)) => {
            metrics::webhook(&source_id, &label, "bad_request");
            tracing::info!(%source_id, %reason, "Rejected webhook: an event does not pass the checks.");
            return Err(ApiError::BadRequest(reason));
        }
        Err(AcceptError::Store(e)) => {
            metrics::webhook(&source_id, &label, "store_error");
            return Err(e.into());
        }
    };
    if accepted.links_dropped > 0 {
        metrics::links_dropped(&source_id, accepted.links_dropped);
        tracing::info!(%source_id, %topic, dropped = accepted.links_dropped, "Dropped links to hosts not in server.link_hosts.");
    }
    let outcome = accepted.outcome;
    match outcome {
        IngestOutcome::Duplicate => {
            metrics::webhook(&source_id, &label, "duplicate");
            tracing::debug!(%source_id, %topic, "Duplicate delivery acknowledged.");
            Ok(ok(json!({ "status": "duplicate" })))
        }
        IngestOutcome::Queued => {
            // Durable; carts, contacts and timers follow within moments, redeliveries change nothing.
            metrics::webhook(&source_id, &label, "queued");
            tracing::debug!(%source_id, %topic, "Accepted webhook into the ingest journal.");
            Ok((
                StatusCode::ACCEPTED,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"status":"queued"}"#,
            )
                .into_response())
        }
        IngestOutcome::Accepted { effects } => {
            metrics::webhook(&source_id, &label, "accepted");
            let stale = effects
                .iter()
                .filter(|e| matches!(e.kind, EffectKind::CartUpserted { stale: true, .. }))
                .count();
            tracing::info!(%source_id, %topic, events = effects.len(), stale, "Accepted webhook.");
            let effects: Vec<_> = effects
                .iter()
                .map(|e| json!({ "event_id": e.event_id, "effect": e.kind.label() }))
                .collect();
            Ok(ok(json!({ "status": "accepted", "effects": effects })))
        }
    }
}

fn topic_of(err: &TranslateError) -> &str {
    match err {
        TranslateError::Schema { topic, .. } => topic,
        _ => "unparsed",
    }
}

fn ok(body: serde_json::Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}
