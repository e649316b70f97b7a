//! `POST /webhooks/{source_id}`: the raw body is verified, translated and committed, and only then
//! answered: `200` with the effects, or `202` when, under load, the events are durable in SQLite's
//! ingest journal and applied moments later (`cartback_store::journal`). Providers are never
//! called from here. A request whose signature fails is answered `401` with the reason and the
//! scheme its source expects ([`expected_scheme`]), and logged at warn with the source id.

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
    let kind = candidates
        .iter()
        .find_map(|id| state.sources.get(id))
        .map(|s| s.kind())
        .unwrap_or("unknown");
    let url = format!("{}{}", state.settings.public_base(), uri.path());
    tracing::warn!(sources = ?candidates, path = %uri.path(), %reason, "Rejected request: no mounted source accepts its credentials.");
    Err(ApiError::BadSignature(format!(
        "{reason}; expected {}",
        expected_scheme(kind, &url)
    )))
}

/// What a source of `kind` checks, for the 401 its caller reads: the header, the algorithm, what
/// is signed and which setting holds the key (never the key itself). `url` is the URL the hub
/// verifies against, named for the platforms that sign it (HubSpot, Twilio) and for Segment's
/// mounted API.
pub fn expected_scheme(kind: &str, url: &str) -> String {
    match kind {
        "shopify" => "X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body keyed with the source's `secret`, \
             and X-Shopify-Triggered-At (RFC 3339) within `replay_window` \
             (and X-Shopify-Shop-Domain equal to `shop_domain` when it is set)"
            .into(),
        "woocommerce" => "X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body keyed with the source's `secret` \
             (the webhook's secret in WooCommerce)"
            .into(),
        "hubspot" => format!(
            "X-HubSpot-Signature-v3: base64 HMAC-SHA256 of method + URL + raw body + X-HubSpot-Request-Timestamp \
             (epoch milliseconds, within `max_age`) keyed with the source's `client_secret`, or X-HubSpot-Signature: \
             hex SHA-256 of `client_secret` + body (v1) or + method + URL + body (v2); the URL signed must be {url}"
        ),
        "segment" if is_segment_api(url) => format!(
            "Authorization: Basic base64(<write key>:) or a body `writeKey`, with a key of the source's \
             `write_keys` or `server_write_keys` (at {url})"
        ),
        "segment" => "X-Signature: hex HMAC-SHA1 of the raw body keyed with the source's `shared_secret`, \
             or Authorization: Basic base64(<write key>:) with a key of `write_keys` or `server_write_keys`"
            .into(),
        "klaviyo" => "Klaviyo-Signature: hex HMAC-SHA256 of the raw body followed by Klaviyo-Timestamp \
             (within `max_age`) keyed with the source's `secret`, or, from a flow's Webhook action, \
             X-Cartback-Secret: <the source's `secret`>"
            .into(),
        "sendgrid" => "X-Twilio-Email-Event-Webhook-Signature: base64 DER ECDSA P-256 SHA-256 signature of \
             X-Twilio-Email-Event-Webhook-Timestamp (unix seconds, within 10 minutes) followed by the raw body, \
             checked with the channel's `event_webhook_public_key` (without one, events are refused \
             unless `allow_unsigned_events = true`)"
            .into(),
        "twilio" => format!(
            "X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by every form parameter's name and \
             value, sorted by name, keyed with the channel's `auth_token`; the URL signed must be {url}"
        ),
        other => format!("the signature scheme of a `{other}` source (docs/CONNECTORS.md)"),
    }
}

fn is_segment_api(url: &str) -> bool {
    let path = url.split('?').next().unwrap_or_default();
    ["/v1/batch", "/v1/track", "/v1/identify", "/v1/page"]
        .iter()
        .any(|p| path.ends_with(p))
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
                expected_scheme(kind, &request.url)
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

#[cfg(test)]
mod tests {
    use super::expected_scheme;

    #[test]
    fn each_scheme_names_its_header_and_key_setting() {
        let url = "https://hub.example/webhooks/x";
        for (kind, header, key) in [
            ("shopify", "X-Shopify-Hmac-Sha256", "`secret`"),
            ("woocommerce", "X-WC-Webhook-Signature", "`secret`"),
            ("hubspot", "X-HubSpot-Signature-v3", "`client_secret`"),
            ("segment", "X-Signature", "`shared_secret`"),
            ("klaviyo", "Klaviyo-Signature", "`secret`"),
            (
                "sendgrid",
                "X-Twilio-Email-Event-Webhook-Signature",
                "`event_webhook_public_key`",
            ),
            ("twilio", "X-Twilio-Signature", "`auth_token`"),
        ] {
            let s = expected_scheme(kind, url);
            assert!(s.starts_with(header), "{kind}: {s}");
            assert!(s.contains(key), "{kind}: {s}");
            assert!(!s.contains('\n') && !s.contains("  "), "{kind}: {s}");
        }
        assert!(expected_scheme("twilio", url).ends_with(url));
        assert!(expected_scheme("segment", "https://hub.example/v1/batch")
            .starts_with("Authorization: Basic"));
        assert_eq!(
            expected_scheme("acme", url),
            "the signature scheme of a `acme` source (docs/CONNECTORS.md)"
        );
    }
}
