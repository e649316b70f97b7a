//! Flow operations under `/api/v1`: test mode, runs, the message queue.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use cartback_core::{Cart, CartStatus, ContactInfo, Currency, LineItem, Money};
use cartback_store::{ContactRecord, MessageFilter, OutboxStatus};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    #[serde(default)]
    cart_id: Option<String>,
    /// With `cart_id`: where the test goes (the admin's own inbox or phone), in place of the
    /// shopper's addresses.
    #[serde(default)]
    to: Option<TestTo>,
    /// With `cart_id`: send to the shopper's own addresses. Never by default.
    #[serde(default)]
    to_shopper: bool,
    #[serde(default)]
    contact: Option<ContactInfo>,
    #[serde(default)]
    cart: Option<TestCart>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestTo {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCart {
    currency: String,
    #[serde(default)]
    recovery_url: Option<String>,
    items: Vec<TestItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestItem {
    title: String,
    quantity: u32,
    price: String,
    #[serde(default)]
    variant_title: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
}

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// `POST /api/v1/flows/{id}/test`: every step at once, rules ignored, messages marked test.
pub async fn test_flow(
    State(state): State<AppState>,
    Path(flow_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: TestRequest =
        serde_json::from_slice(&body).map_err(|e| bad(format!("invalid test request: {e}")))?;
    let now = state.clock.now();
    if req.cart_id.is_none() && (req.to.is_some() || req.to_shopper) {
        return Err(bad(
            "to and to_shopper go with cart_id (a test contact is already the address)",
        ));
    }
    let (cart, contact) = match (req.cart_id, req.contact, req.cart) {
        (Some(id), None, None) => {
            let rec = state
                .store
                .cart(&id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no cart {id:?}")))?;
            let mut contact = rec
                .contact
                .ok_or_else(|| bad("the cart has no contact to send to"))?;
            // A test never surprises a shopper: it goes where the admin says, or to the shopper
            // only when asked in so many words.
            match (req.to, req.to_shopper) {
                (Some(to), false) => {
                    let email = to
                        .email
                        .map(|e| {
                            cartback_core::normalize_email(&e)
                                .contains('@')
                                .then_some(e.trim().to_string())
                                .ok_or_else(|| bad(format!("to.email: {e:?} is not an address")))
                        })
                        .transpose()?;
                    let phone = to
                        .phone
                        .map(|p| {
                            cartback_core::normalize_phone(&p, None)
                                .map_err(|e| bad(format!("to.phone: {e}")))
                        })
                        .transpose()?;
                    if email.is_none() && phone.is_none() {
                        return Err(bad("to needs an email or a phone"));
                    }
                    contact.info.email = email;
                    contact.info.phone = phone;
                    // The admin's own address: theirs to test with.
                    contact.info.email_consent = cartback_core::Consent::Subscribed;
                    contact.info.sms_consent = cartback_core::Consent::Subscribed;
                    contact.email_verified = true;
                    contact.phone_verified = true;
                }
                (None, true) => {}
                (Some(_), true) => return Err(bad("give either to or to_shopper, not both")),
                (None, false) => {
                    return Err(bad(
                        "a test of a stored cart goes to the address in \"to\" ({\"email\": ...} \
                         or {\"phone\": ...}); to send it to the shopper's own addresses, say \
                         \"to_shopper\": true",
                    ))
                }
            }
            (rec.cart, contact)
        }
        (None, Some(info), Some(c)) => {
            if !info.is_identified() {
                return Err(bad("contact needs an email or a phone"));
            }
            let currency = Currency::parse(&c.currency).map_err(bad)?;
            let mut items = Vec::new();
            let mut total = Money::zero(currency);
            for (i, it) in c.items.iter().enumerate() {
                let unit = Money::parse_decimal(&it.price, currency)
                    .map_err(|e| bad(format!("cart.items[{i}].price: {e}")))?;
                let line = unit
                    .checked_mul(i64::from(it.quantity))
                    .ok_or_else(|| bad("amount out of range"))?;
                total = total
                    .checked_add(&line)
                    .ok_or_else(|| bad("amount out of range"))?;
                items.push(LineItem {
                    product_id: None,
                    variant_id: None,
                    sku: None,
                    title: it.title.clone(),
                    variant_title: it.variant_title.clone(),
                    quantity: it.quantity,
                    unit_price: unit,
                    line_price: line,
                    url: it.url.clone(),
                    image_url: it.image_url.clone(),
                });
            }
            let test_id = format!("test-{}", uuid_like(now));
            let cart = Cart {
                id: test_id.clone(),
                source_id: "test".into(),
                key: test_id.clone(),
                cart_token: None,
                checkout_token: None,
                platform_id: None,
                status: CartStatus::Abandoned,
                contact_id: None,
                items,
                currency,
                subtotal: Some(total),
                total,
                recovery_url: c.recovery_url,
                updated_at: now,
                completed_at: None,
                converted_at: None,
                order_id: None,
                created_at: now,
            };
            let contact = ContactRecord {
                id: test_id,
                info: info.clone(),
                // The admin named this contact: it is theirs to test with.
                email_verified: true,
                phone_verified: true,
                created_at: now,
                updated_at: now,
            };
            (cart, contact)
        }
        _ => return Err(bad("give either cart_id, or contact and cart")),
    };
    let report = state
        .engine
        .test_flow(&flow_id, cart, contact)
        .await
        .map_err(|e| match e {
            cartback_engine::TestError::UnknownFlow(f) => {
                ApiError::NotFound(format!("no flow {f:?}"))
            }
            cartback_engine::TestError::UnknownCart(c) => {
                ApiError::NotFound(format!("no cart {c:?}"))
            }
            cartback_engine::TestError::NoContact => bad("the cart has no contact to send to"),
            cartback_engine::TestError::Store(s) => s.into(),
        })?;
    tracing::info!(%flow_id, run_id = %report.run_id, messages = report.messages.len(), "Test run queued.");
    Ok(Json(serde_json::to_value(report).map_err(bad)?))
}

fn uuid_like(now: chrono::DateTime<chrono::Utc>) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        now.timestamp_millis(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// `GET /api/v1/carts/{id}/runs`
pub async fn cart_runs(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    // Each run with its step log (what each step came to, why a skipped one was skipped), the
    // step it took last and the one it takes next, numbered from 1 and named.
    let out = state.engine.cart_runs(&id).await?;
    Ok(Json(json!({ "runs": out })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/messages?status=failed`
pub async fn messages(
    State(state): State<AppState>,
    query: Result<Query<MessageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| bad(e.body_text()))?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => {
            Some(OutboxStatus::parse(s).ok_or_else(|| bad(format!("unknown status {s:?}")))?)
        }
    };
    let rows = state
        .store
        .messages(&MessageFilter {
            status,
            run_id: q.run_id,
            channel_id: q.channel,
            cart_id: None,
            limit: q.limit.unwrap_or(100),
        })
        .await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|r| {
            let flow = r.message.metadata.get("flow_id").map_or("", String::as_str);
            let variant = r.message.metadata.get("variant").map(String::as_str);
            let at = state.engine.step_ref(flow, variant, r.step);
            json!({
                "id": r.id, "run_id": r.run_id, "step": at.number, "step_name": at.name,
                "closing": r.step >= cartback_store::CLOSING_STEP, "channel": r.channel_id, "status": r.status,
                "attempts": r.attempts, "last_error": r.last_error, "provider_message_id": r.provider_message_id,
                "test": r.test, "created_at": r.created_at, "sent_at": r.sent_at,
                "subject": r.message.subject, "cart_id": r.cart_id, "contact_id": r.contact_id,
            })
        })
        .collect();
    Ok(Json(json!({ "messages": list, "count": list.len() })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedriveRequest {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `POST /api/v1/messages/redrive` with `{"ids": [...]}` or `{"status": "failed"}`.
pub async fn redrive(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: RedriveRequest =
        serde_json::from_slice(&body).map_err(|e| bad(format!("invalid redrive request: {e}")))?;
    let status = match req.status.as_deref() {
        None => None,
        Some(s @ ("failed" | "unknown")) => OutboxStatus::parse(s),
        Some(s) => {
            return Err(bad(format!(
                "only failed or unknown messages can be redriven, not {s:?}"
            )))
        }
    };
    if req.ids.is_empty() && status.is_none() {
        return Err(bad("give ids or status"));
    }
    let n = state
        .store
        .redrive(&req.ids, status, state.clock.now())
        .await?;
    Ok(Json(json!({ "requeued": n })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// `2026-11-01` (midnight UTC) or an RFC 3339 instant.
pub fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{s:?} is not a date (2026-11-01) or an RFC 3339 time"))
}

/// The report window: `from` defaults to 30 days before `to`, `to` to now.
pub fn window(
    from: Option<&str>,
    to: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), String> {
    let to = match to {
        Some(t) => parse_instant(t)?,
        None => now,
    };
    let from = match from {
        Some(f) => parse_instant(f)?,
        None => to - chrono::Duration::days(30),
    };
    if from >= to {
        return Err("from must be before to".into());
    }
    Ok((from, to))
}

/// `GET /api/v1/flows/{id}/report?from=&to=`
pub async fn report(
    State(state): State<AppState>,
    Path(flow_id): Path<String>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| bad(e.body_text()))?;
    let (from, to) = window(q.from.as_deref(), q.to.as_deref(), state.clock.now()).map_err(bad)?;
    let report = state
        .engine
        .report(&flow_id, from, to)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no flow {flow_id:?}")))?;
    Ok(Json(serde_json::to_value(report).map_err(bad)?))
}
