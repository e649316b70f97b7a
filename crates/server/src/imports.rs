//! Imports (`cartback import`, the backfill) driven through the admin API: the hub runs them
//! (SQLite is locked by the running hub, and an instance among several holds the job), the CLI
//! starts, watches and stops them. The jobs are `cartback_engine::import::Imports`.
//!
//! - `POST /api/v1/sources/{id}/import` `{"since": "30d" | RFC 3339 | date, "restart": false}`:
//!   202 with the status; a stopped import resumes where it stood (with its own `since`) unless
//!   `restart`. 404 unknown source; 400 a source that cannot import (says which types can) or a
//!   bad `since`; 409 one already runs (with its status).
//! - `GET /api/v1/sources/{id}/import`: the status (`state`: running, stopped, done, failed;
//!   `since`, `pages`, `records`, `total`, `events`, `carts`, `orders`, `unchanged`, `too_old`,
//!   `skipped`, `retries`, `error`, `started_at`, `finished_at`); 404 when none is known.
//! - `DELETE /api/v1/sources/{id}/import`: stop after the current page (202 with the status, still
//!   `running` until that page is committed); 404 when none runs.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cartback_engine::import::{parse_since, ImportState, StartError};
use serde::Deserialize;
use serde_json::json;

/// The body of `POST /api/v1/sources/{id}/import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartImport {
    pub since: String,
    #[serde(default)]
    pub restart: bool,
}

fn refused(err: StartError) -> Result<Response, ApiError> {
    match err {
        StartError::UnknownSource(id) => Err(ApiError::UnknownSource(id)),
        StartError::CannotImport(reason) => Err(ApiError::BadRequest(reason)),
        StartError::Running(status) => Ok((
            StatusCode::CONFLICT,
            Json(json!({
                "error": format!("an import of source {:?} is already running", status.source),
                "import": *status,
            })),
        )
            .into_response()),
        StartError::Store(e) => Err(e.into()),
    }
}

/// `POST /api/v1/sources/{id}/import`
pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: StartImport = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be {{\"since\": \"30d\" | RFC 3339, \"restart\": false}}: {e}"
        ))
    })?;
    let since = parse_since(&req.since, state.clock.now()).map_err(ApiError::BadRequest)?;
    match state.imports.start(&id, since, req.restart).await {
        Ok(status) => Ok((StatusCode::ACCEPTED, Json(json!(status))).into_response()),
        Err(e) => refused(e),
    }
}

/// `GET /api/v1/sources/{id}/import`
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.imports.status(&id).await {
        Ok(Some(status)) => Ok(Json(json!(status)).into_response()),
        Ok(None) => Err(ApiError::NotFound(format!(
            "no import of source {id:?} is running or waiting to resume"
        ))),
        Err(e) => refused(e),
    }
}

/// `DELETE /api/v1/sources/{id}/import`
pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.imports.stop(&id) {
        Some(status) if status.state == ImportState::Running => {
            Ok((StatusCode::ACCEPTED, Json(json!(status))).into_response())
        }
        _ => Err(ApiError::NotFound(format!(
            "no import of source {id:?} is running"
        ))),
    }
}
