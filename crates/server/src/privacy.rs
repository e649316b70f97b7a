//! A shopper's data on request: `DELETE /api/v1/contacts?email=|phone=` erases them everywhere
//! (an erasure event, applied in order with everything else through `Engine::accept`: contacts,
//! carts' identifying fields, the log's events, what the hub sent them; counts stay), and
//! `GET /api/v1/contacts/export?email=|phone=` returns everything held about them (what
//! Shopify's `customers/data_request` asks the shop to hand over).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use cartback_core::{Erasure, Event, EventKind, Trust, HUB_SOURCE};
use cartback_engine::Arrival;
use cartback_store::{CartFilter, EffectKind, IngestOutcome};
use serde::Deserialize;
use serde_json::{json, Value};

/// Who: an email address, a phone number (E.164), or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Who {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

impl Who {
    fn read(
        q: Result<Query<Who>, axum::extract::rejection::QueryRejection>,
    ) -> Result<(Option<String>, Option<String>), ApiError> {
        let Query(w) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let (email, phone) = (clean(w.email), clean(w.phone));
        if email.is_none() && phone.is_none() {
            return Err(ApiError::BadRequest("give email or phone".into()));
        }
        if email
            .as_ref()
            .is_some_and(|e| !e.contains('@') || e.len() > 254)
        {
            return Err(ApiError::BadRequest("email is not an address".into()));
        }
        let phone = match phone {
            Some(p) => Some(cartback_core::normalize_phone(&p, None).map_err(|e| {
                ApiError::BadRequest(format!("phone: {e} (write +<country><number>)"))
            })?),
            None => None,
        };
        Ok((email, phone))
    }
}

/// `DELETE /api/v1/contacts?email=&phone=`
pub async fn erase(
    State(state): State<AppState>,
    query: Result<Query<Who>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    let (email, phone) = Who::read(query)?;
    let now = state.clock.now();
    let event = Event {
        source_id: HUB_SOURCE.into(),
        event_id: format!("erase:{}", uuid::Uuid::now_v7()),
        topic: "admin/erase".into(),
        occurred_at: now,
        kind: EventKind::Erasure(Erasure::Contact {
            email,
            phone,
            external_id: None,
            order_ids: Vec::new(),
        }),
    };
    let accepted = state
        .engine
        .accept(Arrival {
            source_id: HUB_SOURCE,
            delivery_ids: &[],
            events: vec![event],
            received_at: now,
            trust: Trust::Verified,
        })
        .await?;
    tracing::info!("Contact erased on the admin's request.");
    Ok(match accepted.outcome {
        IngestOutcome::Accepted { effects } => {
            let erased: u64 = effects
                .iter()
                .map(|e| match e.kind {
                    EffectKind::Erased { contacts } => contacts,
                    _ => 0,
                })
                .sum();
            Json(json!({ "status": "erased", "contacts": erased })).into_response()
        }
        // Durable in SQLite's ingest journal: applied in order within moments.
        _ => (StatusCode::ACCEPTED, Json(json!({ "status": "queued" }))).into_response(),
    })
}

/// How many events and messages an export lists per contact, newest first.
pub const EXPORT_LIMIT: u32 = 1000;

/// `GET /api/v1/contacts/export?email=&phone=`
pub async fn export(
    State(state): State<AppState>,
    query: Result<Query<Who>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (email, phone) = Who::read(query)?;
    let store = &state.store;
    let contacts = store
        .contacts_matching(email.as_deref(), phone.as_deref())
        .await?;
    let mut out = Vec::with_capacity(contacts.len());
    for contact in contacts {
        let carts = store
            .carts(&CartFilter {
                contact_id: Some(contact.id.clone()),
                limit: 500,
                ..Default::default()
            })
            .await?;
        // Each cart's runs as the runs API shows them (steps numbered from 1).
        let mut runs = Vec::new();
        for c in &carts {
            runs.extend(state.engine.cart_runs(&c.cart.id).await?);
        }
        let carts: Vec<Value> = carts
            .into_iter()
            .map(|c| serde_json::to_value(c.cart).unwrap_or_default())
            .collect();
        let messages = store.contact_messages(&contact.id, EXPORT_LIMIT).await?;
        let messages: Vec<Value> = messages
            .into_iter()
            .map(|m| {
                json!({ "id": m.id, "channel": m.channel_id, "status": m.status,
                        "created_at": m.created_at, "sent_at": m.sent_at, "message": m.message })
            })
            .collect();
        out.push(json!({
            "contact": contact,
            "tags": store.contact_tags(&contact.id).await?,
            "carts": carts,
            "runs": runs,
            "messages": messages,
            "events": store.contact_events(&contact.id, EXPORT_LIMIT).await?,
        }));
    }
    tracing::info!(
        contacts = out.len(),
        "Contact data exported on the admin's request."
    );
    Ok(Json(json!({ "contacts": out, "count": out.len() })))
}
