//! The admin API under `/api/v1`, behind `Authorization: Bearer <server.admin_token>`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::{Json, Router};
use cartback_core::CartStatus;
use cartback_store::{CartFilter, CartRecord, ContactRecord};
use serde::Deserialize;

/// The admin routes: [`crate::openapi::ADMIN`], the table the OpenAPI document is built from
/// (methods of one path merged), behind the admin token.
pub fn routes(state: AppState) -> Router<AppState> {
    let mut by_path: std::collections::BTreeMap<&str, axum::routing::MethodRouter<AppState>> =
        Default::default();
    for r in crate::openapi::ADMIN {
        let mounted = (r.handler)();
        let merged = match by_path.remove(r.path) {
            Some(m) => m.merge(mounted),
            None => mounted,
        };
        by_path.insert(r.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, m)| router.route(path, m))
        .route_layer(axum::middleware::from_fn_with_state(state, require_admin))
        .layer(crate::observe::admin_timeout())
}

/// Constant-time bearer check. No token configured: the admin API is closed. Wrong tokens are
/// rate-limited per client: past the burst every attempt gets `429` unchecked (`crate::auth`).
pub async fn require_admin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = &state.settings.admin_token else {
        return Err(ApiError::Unauthorized(
            "the admin API is disabled: set server.admin_token".into(),
        ));
    };
    let guards = req
        .extensions()
        .get::<std::sync::Arc<crate::auth::Guards>>()
        .cloned();
    let client = crate::auth::Client::from_extensions(req.extensions());
    let given = crate::auth::bearer(req.headers());
    if let (Some(_), Some(g)) = (given, &guards) {
        if let Err(wait) = g.limiter.check(client) {
            return Ok(axum::response::IntoResponse::into_response(wait));
        }
    }
    match given {
        Some(t) if cartback_kit::constant_time_eq(t.as_bytes(), expected.as_bytes()) => {
            Ok(next.run(req).await)
        }
        Some(_) => {
            if let Some(g) = &guards {
                g.limiter.fail(client);
            }
            Err(ApiError::Unauthorized("invalid admin token".into()))
        }
        None => Err(ApiError::Unauthorized(
            "missing Authorization: Bearer <admin token>".into(),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartQuery {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

pub(crate) async fn list_carts(
    State(state): State<AppState>,
    query: Result<Query<CartQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(CartStatus::parse(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "status {s:?} is not one of open, abandoned, converted"
            ))
        })?),
    };
    if q.limit.is_some_and(|l| l == 0 || l > 500) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    let filter = CartFilter {
        email: q.email.filter(|e| !e.trim().is_empty()),
        status,
        source_id: q.source,
        contact_id: None,
        limit: q.limit.unwrap_or(50),
    };
    let carts: Vec<CartRecord> = state.store.carts(&filter).await?;
    Ok(Json(
        serde_json::json!({ "carts": carts, "count": carts.len() }),
    ))
}

pub(crate) async fn get_cart(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CartRecord>, ApiError> {
    state
        .store
        .cart(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no cart {id:?}")))
}

pub(crate) async fn get_contact(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ContactRecord>, ApiError> {
    state
        .store
        .contact(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no contact {id:?}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagsRequest {
    tags: Vec<String>,
}

/// `GET /api/v1/contacts/{id}/tags`
pub(crate) async fn get_tags(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .store
        .contact(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no contact {id:?}")))?;
    Ok(Json(
        serde_json::json!({ "tags": state.store.contact_tags(&id).await? }),
    ))
}

/// `POST /api/v1/contacts/{id}/tags {"tags": ["VIP"]}`: tags that `tag:<name>` conditions read.
pub(crate) async fn add_tags(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: TagsRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid tags request: {e}")))?;
    state
        .store
        .contact(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no contact {id:?}")))?;
    for tag in &req.tags {
        let t = tag.trim();
        if t.is_empty() || t.len() > 64 {
            return Err(ApiError::BadRequest(format!(
                "tag {tag:?} must be 1 to 64 characters"
            )));
        }
        // A tag new to the contact starts the `tag:<name>` flows (through the engine).
        state.engine.tag_contact(&id, t).await?;
    }
    Ok(Json(
        serde_json::json!({ "tags": state.store.contact_tags(&id).await? }),
    ))
}
