//! Liveness and readiness.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The store answers.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    match state.store.ping().await {
        Ok(()) => {
            // A channel whose credential the provider refused does not stop the hub from taking
            // webhooks (still ready), but it is named (the provider's words are in the log and
            // the admin API's messages, not on this unauthenticated page).
            let mut body = String::from("ready\n");
            for id in state.engine.channel_ids() {
                if state.engine.channel(id).and_then(|c| c.refused()).is_some() {
                    body.push_str(&format!("channel {id}: unhealthy (credential refused)\n"));
                }
            }
            (StatusCode::OK, body)
        }
        Err(err) => {
            tracing::warn!(error = %err, "Readiness check failed.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "store unreachable\n".into(),
            )
        }
    }
}
