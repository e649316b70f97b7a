//! Dead letters, for an operator: messages that failed for good or whose fate is unknown, and
//! ingest journal records set aside (SQLite) — listed, inspected one by one, and redriven, through
//! the admin API (`/api/v1/dead-letters...`, `/api/v1/messages/{id}`) and a dashboard page
//! (`/dashboard/dead-letters`). Every redrive is idempotent: a message goes back to the queue only
//! from `failed` or `unknown`; a journal record leaves the table once applied (or recognised as
//! applied before).

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use cartback_store::{MessageFilter, OutboxRow, OutboxStatus, Redriven};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// How many of each kind a listing shows.
pub const LIST_LIMIT: u32 = 100;

fn summary(m: &OutboxRow) -> Value {
    json!({
        "id": m.id, "run_id": m.run_id, "channel": m.channel_id, "status": m.status,
        "attempts": m.attempts, "last_error": m.last_error, "created_at": m.created_at,
        "flow_id": m.message.metadata.get("flow_id"),
    })
}

async fn dead_messages(state: &AppState, status: OutboxStatus) -> Result<Vec<OutboxRow>, ApiError> {
    Ok(state
        .store
        .messages(&MessageFilter {
            status: Some(status),
            limit: LIST_LIMIT,
            ..Default::default()
        })
        .await?)
}

/// `GET /api/v1/dead-letters`: failed and unknown messages, and journal records set aside.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let failed = dead_messages(&state, OutboxStatus::Failed).await?;
    let unknown = dead_messages(&state, OutboxStatus::Unknown).await?;
    let journal = state.store.set_aside(LIST_LIMIT).await?;
    Ok(Json(json!({
        "messages": {
            "failed": failed.iter().map(summary).collect::<Vec<_>>(),
            "unknown": unknown.iter().map(summary).collect::<Vec<_>>(),
        },
        "journal": journal,
    })))
}

/// `GET /api/v1/messages/{id}`: one message whole (what was rendered, its attempts, its error).
pub async fn message(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = state
        .store
        .outbox_message(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no message {id:?}")))?;
    let flow = row
        .message
        .metadata
        .get("flow_id")
        .map_or("", String::as_str);
    let variant = row.message.metadata.get("variant").map(String::as_str);
    let at = state.engine.step_ref(flow, variant, row.step);
    let mut v = summary(&row);
    v["step"] = json!(at.number);
    v["step_name"] = json!(at.name);
    v["provider_message_id"] = json!(row.provider_message_id);
    v["sent_at"] = json!(row.sent_at);
    v["next_attempt_at"] = json!(row.next_attempt_at);
    v["message"] = serde_json::to_value(&row.message).unwrap_or_default();
    Ok(Json(v))
}

/// `GET /api/v1/dead-letters/journal/{seq}`: one record set aside, whole.
pub async fn journal_record(
    State(state): State<AppState>,
    Path(seq): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let kept = state
        .store
        .set_aside_one(seq)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no journal record {seq} set aside")))?;
    Ok(Json(serde_json::to_value(kept).unwrap_or_default()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalRedrive {
    #[serde(default)]
    seqs: Vec<i64>,
    #[serde(default)]
    all: bool,
}

#[derive(Debug, Serialize)]
struct Outcome {
    seq: i64,
    #[serde(flatten)]
    result: Redriven,
}

/// Redrives the records named (or every one listed); what each came to.
async fn redrive_journal(state: &AppState, seqs: Vec<i64>) -> Result<Vec<Outcome>, ApiError> {
    let mut out = Vec::with_capacity(seqs.len());
    for seq in seqs {
        let result = state.store.redrive_set_aside(seq).await?;
        tracing::info!(seq, outcome = ?result, "Journal record redriven.");
        out.push(Outcome { seq, result });
    }
    Ok(out)
}

/// `POST /api/v1/dead-letters/journal/redrive` with `{"seqs": [...]}` or `{"all": true}`.
pub async fn journal_redrive(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: JournalRedrive = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid redrive request: {e}")))?;
    let seqs = match (req.all, req.seqs.is_empty()) {
        (true, true) => state
            .store
            .set_aside(LIST_LIMIT)
            .await?
            .into_iter()
            .map(|s| s.seq)
            .collect(),
        (false, false) => req.seqs,
        _ => return Err(ApiError::BadRequest("give seqs or all, not both".into())),
    };
    Ok(Json(
        json!({ "results": redrive_journal(&state, seqs).await? }),
    ))
}

/// `GET /dashboard/dead-letters`: the same lists, with one button that redrives them all.
pub async fn page(
    State(state): State<AppState>,
    Extension(guards): Extension<Arc<crate::auth::Guards>>,
    client: crate::auth::Client,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(elsewhere) = crate::dashboard::unless_signed_in(&state, &guards, client, &headers) {
        return Ok(elsewhere);
    }
    let row = |m: &OutboxRow| {
        minijinja::context! {
            id => m.id, channel => m.channel_id, status => m.status.as_str(), attempts => m.attempts,
            error => m.last_error.clone().unwrap_or_default(),
            when => m.created_at.format("%Y-%m-%d %H:%M").to_string(),
        }
    };
    let failed = dead_messages(&state, OutboxStatus::Failed).await?;
    let unknown = dead_messages(&state, OutboxStatus::Unknown).await?;
    let journal = state.store.set_aside(LIST_LIMIT).await?;
    let messages: Vec<_> = failed.iter().chain(unknown.iter()).map(row).collect();
    let records: Vec<_> = journal
        .iter()
        .map(|s| {
            minijinja::context! {
                seq => s.seq, source => s.source_id, events => s.events, error => s.error,
                when => s.failed_at.format("%Y-%m-%d %H:%M").to_string(),
            }
        })
        .collect();
    let flows: Vec<_> = state
        .engine
        .flow_ids()
        .into_iter()
        .map(|f| {
            let query: String = url::form_urlencoded::byte_serialize(f.as_bytes()).collect();
            minijinja::context! { id => f, query => query }
        })
        .collect();
    Ok(crate::dashboard::respond(crate::dashboard::render(
        "dead_letters.html",
        minijinja::context! {
            flows => flows, messages => messages, records => records,
            empty => failed.is_empty() && unknown.is_empty() && journal.is_empty(),
        },
    )))
}

/// `POST /dashboard/dead-letters/redrive` (signed in, same origin): every failed and unknown
/// message back to the queue, every record set aside applied again; back to the page.
pub async fn page_redrive(
    State(state): State<AppState>,
    Extension(guards): Extension<Arc<crate::auth::Guards>>,
    client: crate::auth::Client,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(elsewhere) = crate::dashboard::unless_signed_in(&state, &guards, client, &headers) {
        return Ok(elsewhere);
    }
    let now = state.clock.now();
    let mut n = 0;
    for status in [OutboxStatus::Failed, OutboxStatus::Unknown] {
        n += state.store.redrive(&[], Some(status), now).await?;
    }
    let seqs = state
        .store
        .set_aside(LIST_LIMIT)
        .await?
        .into_iter()
        .map(|s| s.seq)
        .collect();
    let records = redrive_journal(&state, seqs).await?;
    tracing::info!(
        messages = n,
        records = records.len(),
        "Dead letters redriven from the dashboard."
    );
    Ok(Redirect::to("/dashboard/dead-letters").into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_page_escapes_what_providers_and_platforms_said() {
        let evil = "<script>alert(1)</script>";
        let html = crate::dashboard::render(
            "dead_letters.html",
            minijinja::context! {
                flows => vec![minijinja::context! { id => evil, query => "x" }],
                messages => vec![minijinja::context! { id => "m1", channel => evil, status => "failed",
                    attempts => 6, error => evil, when => "2026-11-28 10:00" }],
                records => vec![minijinja::context! { seq => 7, source => evil, events => 1,
                    error => evil, when => "2026-11-28 10:00" }],
                empty => false,
            },
        )
        .unwrap();
        assert!(!html.contains(evil), "{html}");
        assert!(html.contains("Redrive all") && html.contains("data-record=\"7\""));
    }
}
