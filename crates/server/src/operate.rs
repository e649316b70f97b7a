//! Changing the running hub: the flows listed with their state, paused and resumed (for every
//! instance: the pause is kept in the store), and the configuration reloaded (validated first: a
//! bad file changes nothing and says why; `SIGHUP` does the same).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// `GET /api/v1/flows`: every flow with its trigger, steps and state (`enabled`, `paused`, and
/// `retired` for one a reload removed whose runs are finishing).
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let paused = state.engine.paused_flows().await?;
    let live = state.engine.live();
    let flows: Vec<Value> = live
        .flows
        .values()
        .map(|f| {
            json!({
                "id": f.id,
                "trigger": format!("{:?}", f.settings.trigger),
                "enabled": f.settings.enabled.unwrap_or(true),
                "paused": paused.contains(&f.id),
                "retired": f.retired,
                "steps": f.steps(None).len(),
                "variants": f.variants.iter().filter_map(|v| v.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "flows": flows })))
}

async fn set(state: &AppState, id: &str, paused: bool) -> Result<Json<Value>, ApiError> {
    if !state.engine.set_paused(id, paused).await? {
        return Err(ApiError::NotFound(format!("no flow {id:?}")));
    }
    Ok(Json(json!({ "flow": id, "paused": paused })))
}

/// `POST /api/v1/flows/{id}/pause`: no new enrolments; its runs wait until it is resumed.
pub async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set(&state, &id, true).await
}

/// `POST /api/v1/flows/{id}/resume`
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set(&state, &id, false).await
}

/// `POST /api/v1/config/reload`: the file read again; what changed, or why nothing did.
pub async fn reload(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(reload) = state.reload.clone() else {
        return Ok((
            StatusCode::CONFLICT,
            Json(json!({ "error": "this hub was not started from a configuration file" })),
        )
            .into_response());
    };
    // Reading and checking the file is blocking work.
    let result = tokio::task::spawn_blocking(move || reload.reload())
        .await
        .map_err(|e| ApiError::BadRequest(format!("reload did not finish: {e}")))?;
    Ok(match result {
        Ok(report) => Json(json!({ "status": "reloaded", "changes": report })).into_response(),
        Err(problems) => {
            tracing::warn!(%problems, "Configuration reload refused; nothing changed.");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "status": "unchanged", "problems": problems.lines().collect::<Vec<_>>() })),
            )
                .into_response()
        }
    })
}
