//! The on-site return-visit reminder ("Previously added to cart"): the widget script, the cart it
//! shows, shopper identification, and its impression/click/dismiss events.
//!
//! A flow step `send = { channel = "web" }` "sends" by turning the pop-up on for that shopper for
//! the channel's `window`: the web channel's sink records the message as sent, and
//! `GET /onsite/cart` shows the cart of a shopper who has such a message. Holdout runs send
//! nothing, so control-group shoppers see nothing and are still measured.
//!
//! Shoppers are identified by a signed visitor token (the contact id, HMAC-signed with the link
//! key): appended as `cb_v` to the hub's `/t/` and `/r/` redirects, or issued by
//! `GET /onsite/identify` when the shop's server signed the email with the site secret
//! (identity verification, as Intercom does). Nobody can read another shopper's cart by guessing.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cartback_core::duration::HumanDuration;
use cartback_core::{CartStatus, Event, EventKind, MessageStatus, MessageStatusUpdate};
use cartback_engine::Arrival;
use cartback_kit::token::{LinkKind, LinkToken};
use cartback_store::{CartFilter, MessageFilter, OutboxStatus};
use serde::Deserialize;
use serde_json::json;

pub const WIDGET_JS: &str = include_str!("../assets/widget.js");

pub use cartback_web::{WebSettings, WebSink};

pub use crate::state::Site;

pub(crate) fn site<'a>(state: &'a AppState, key: &str) -> Result<&'a Site, ApiError> {
    state
        .sites
        .get(key)
        .ok_or_else(|| ApiError::NotFound("unknown site".into()))
}

/// CORS for `/onsite/cart`: the shopper's cart is read only from the site's own pages, so a
/// request must name one of the site's origins (a browser always sends `Origin` on the widget's
/// cross-origin `fetch`).
fn cors_required(site: &Site, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    match cors(site, headers)? {
        Some(o) => Ok(o),
        None => Err(ApiError::Forbidden(
            "an Origin of this site is required".into(),
        )),
    }
}

/// CORS: only the site's own origins; requests without an Origin (curl, servers) pass.
pub(crate) fn cors(site: &Site, headers: &HeaderMap) -> Result<Option<HeaderValue>, ApiError> {
    match headers.get(header::ORIGIN) {
        None => Ok(None),
        Some(origin) => {
            let o = origin.to_str().unwrap_or_default().trim_end_matches('/');
            if site
                .settings
                .origins
                .iter()
                .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(o))
            {
                Ok(Some(origin.clone()))
            } else {
                Err(ApiError::Forbidden(
                    "origin not allowed for this site".into(),
                ))
            }
        }
    }
}

fn with_cors(mut resp: Response, origin: Option<HeaderValue>) -> Response {
    let h = resp.headers_mut();
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn widget() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        WIDGET_JS,
    )
        .into_response()
}

/// The visitor token of a contact, good for `lifetime`: its index is the Unix second it expires.
pub fn visitor_token(state: &AppState, contact_id: &str, lifetime: &HumanDuration) -> String {
    let expires = state
        .clock
        .now()
        .timestamp()
        .saturating_add(lifetime.0.as_secs() as i64);
    state.engine.link_signer().sign(&LinkToken {
        kind: LinkKind::Visitor,
        message_id: contact_id.to_string(),
        index: u32::try_from(expires.max(0)).unwrap_or(u32::MAX),
    })
}

/// The contact a visitor token names, if it is one of ours and has not expired.
pub(crate) fn visitor(state: &AppState, token: &str) -> Option<String> {
    let t = state
        .engine
        .link_signer()
        .verify(token)
        .filter(|t| t.kind == LinkKind::Visitor)?;
    (i64::from(t.index) > state.clock.now().timestamp()).then_some(t.message_id)
}

/// The site whose origins include `url`'s origin: a visitor token is only ever appended to a
/// link to one of the shop's own pages.
pub fn site_for_url<'a>(state: &'a AppState, url: &str) -> Option<&'a Site> {
    let u = url::Url::parse(url).ok()?;
    let origin = u.origin().ascii_serialization();
    state.sites.values().find(|s| {
        s.settings
            .origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&origin))
    })
}

/// A link the widget may use: one of the hub's own (tracked) links, or one on `link_hosts`.
fn widget_link(state: &AppState, url: Option<&str>) -> Option<String> {
    let url = url?;
    let own = cartback_engine::links::is_hub_link(url, state.settings.public_base());
    if own || state.engine.link_policy().allows(url) {
        Some(url.to_string())
    } else {
        None
    }
}

#[derive(Debug, Deserialize)]
pub struct CartQuery {
    site: String,
    #[serde(default)]
    visitor: Option<String>,
    #[serde(default)]
    preview: Option<String>,
}

/// `GET /onsite/cart?site=&visitor=` (or `&preview=`): the pop-up's content, or 204.
pub async fn cart(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<CartQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let site = site(&state, &q.site)?;
    let origin = Some(cors_required(site, &headers)?);
    let signer = state.engine.link_signer();
    let body = if let Some(p) = q.preview.as_deref() {
        // The brief's force link: an admin-issued preview shows the pop-up at once, rules ignored.
        let t = signer
            .verify(p)
            .filter(|t| t.kind == LinkKind::Preview)
            .ok_or_else(|| ApiError::NotFound("unknown preview".into()))?;
        let rec = state
            .store
            .cart(&t.message_id)
            .await?
            .ok_or_else(|| ApiError::NotFound("unknown preview".into()))?;
        Some(content(&state, site, None, &rec.cart))
    } else {
        let v = q.visitor.as_deref().unwrap_or_default();
        let contact = visitor(&state, v)
            .ok_or_else(|| ApiError::NotFound("unknown or expired visitor".into()))?;
        active(&state, site, &contact).await?
    };
    Ok(with_cors(
        match body {
            Some(b) => axum::Json(b).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
        origin,
    ))
}

/// The open cart of a contact with a web reminder sent within the window.
async fn active(
    state: &AppState,
    site: &Site,
    contact_id: &str,
) -> Result<Option<serde_json::Value>, ApiError> {
    let carts = state
        .store
        .carts(&CartFilter {
            contact_id: Some(contact_id.to_string()),
            limit: 5,
            ..Default::default()
        })
        .await?;
    let since = state.clock.now()
        - chrono::Duration::from_std(site.settings.window.0).unwrap_or(chrono::Duration::MAX);
    for rec in carts
        .iter()
        .filter(|c| matches!(c.cart.status, CartStatus::Open | CartStatus::Abandoned))
    {
        let messages = state
            .store
            .messages(&MessageFilter {
                cart_id: Some(rec.cart.id.clone()),
                channel_id: Some(site.channel_id.clone()),
                status: Some(OutboxStatus::Sent),
                limit: 1,
                ..Default::default()
            })
            .await?;
        if let Some(m) = messages
            .into_iter()
            .find(|m| m.sent_at.is_some_and(|t| t >= since) && !m.test)
        {
            // The message's own cart carries its tracked links.
            let cart = m.message.cart.clone().unwrap_or_else(|| rec.cart.clone());
            let mut body = content(state, site, Some(&m.id), &cart);
            // "Why they left": one row of reasons, until the cart has an answer (survey.rs).
            if let Some(survey) = crate::survey::onsite_survey(state, &m.id).await? {
                body["survey"] = survey;
            }
            return Ok(Some(body));
        }
    }
    Ok(None)
}

/// The pop-up's content. Every link in it is the hub's own or on `link_hosts`: the widget sets
/// them as `href` and `src` on the shop's page.
fn content(
    state: &AppState,
    site: &Site,
    message_id: Option<&str>,
    cart: &cartback_core::Cart,
) -> serde_json::Value {
    let n = cart.items.len();
    let items: Vec<serde_json::Value> = cart.items[n.saturating_sub(2)..]
        .iter()
        .rev()
        .map(|i| {
            json!({
                "title": i.title, "quantity": i.quantity,
                "image_url": widget_link(state, i.image_url.as_deref()),
                "url": widget_link(state, i.url.as_deref()),
                "price": cartback_engine::template::format_money(&i.unit_price),
            })
        })
        .collect();
    json!({
        "message_id": message_id,
        "items": items,
        "item_count": n,
        "recovery_url": widget_link(state, cart.recovery_url.as_deref())
            .or_else(|| state.engine.link_policy().fallback().map(str::to_string)),
        "total": cartback_engine::template::format_money(&cart.total),
        "landing_only": site.settings.landing_only,
        "title": site.settings.title,
        "button": site.settings.button,
    })
}

#[derive(Debug, Deserialize)]
pub struct IdentifyQuery {
    site: String,
    email: String,
    signature: String,
}

/// `GET /onsite/identify?site=&email=&signature=`: a visitor token for a shopper the shop's
/// server vouched for (signature = hex HMAC-SHA256(email, site secret)).
pub async fn identify(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<IdentifyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let site = site(&state, &q.site)?;
    let origin = cors(site, &headers)?;
    let Some(secret) = &site.settings.site_secret else {
        return Err(ApiError::Forbidden(
            "identify is not enabled for this site (set site_secret)".into(),
        ));
    };
    let email = cartback_core::normalize_email(&q.email);
    let expected = hex::encode(cartback_kit::hmac_sha256(
        secret.as_bytes(),
        &[email.as_bytes()],
    ));
    if !cartback_kit::constant_time_eq(
        expected.as_bytes(),
        q.signature.trim().to_ascii_lowercase().as_bytes(),
    ) {
        // A signed request, not a bearer-token one: 401 without a challenge.
        return Err(ApiError::BadSignature("signature does not match".into()));
    }
    let carts = state
        .store
        .carts(&CartFilter {
            email: Some(email),
            limit: 1,
            ..Default::default()
        })
        .await?;
    let resp = match carts.first().and_then(|c| c.contact.as_ref()) {
        Some(contact) => axum::Json(json!({
            "visitor": visitor_token(&state, &contact.id, &site.settings.visitor_lifetime)
        }))
        .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    Ok(with_cors(resp, origin))
}

#[derive(Debug, Deserialize)]
struct EventBody {
    site: String,
    #[serde(default)]
    visitor: Option<String>,
    #[serde(default)]
    message: Option<String>,
    kind: String,
}

/// `POST /onsite/event` (a `sendBeacon`, text/plain JSON): impression, click or dismiss.
pub async fn event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let e: EventBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid event: {e}")))?;
    let site = site(&state, &e.site)?;
    let origin = cors(site, &headers)?;
    let contact = e
        .visitor
        .as_deref()
        .and_then(|v| visitor(&state, v))
        .ok_or_else(|| ApiError::BadSignature("unknown or expired visitor".into()))?;
    let message_id = e
        .message
        .ok_or_else(|| ApiError::BadRequest("message is required".into()))?;
    // The message must be this visitor's, on this site's channel.
    let row = state
        .store
        .outbox_message(&message_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("unknown message".into()))?;
    if row.contact_id.as_deref() != Some(contact.as_str()) || row.channel_id != site.channel_id {
        return Err(ApiError::NotFound("unknown message".into()));
    }
    let statuses: &[MessageStatus] = match e.kind.as_str() {
        "impression" => &[MessageStatus::Delivered, MessageStatus::Opened],
        "click" => &[MessageStatus::Clicked],
        "dismiss" => &[MessageStatus::Dismissed],
        other => return Err(ApiError::BadRequest(format!("unknown kind {other:?}"))),
    };
    let now = state.clock.now();
    let events: Vec<Event> = statuses
        .iter()
        .map(|s| Event {
            source_id: cartback_core::HUB_SOURCE.into(),
            event_id: format!("web:{message_id}:{s:?}"),
            topic: format!("onsite/{}", e.kind),
            occurred_at: now,
            kind: EventKind::MessageStatus(MessageStatusUpdate {
                message_id: Some(message_id.clone()),
                provider_message_id: None,
                status: *s,
                url: None,
            }),
        })
        .collect();
    state
        .engine
        .accept(Arrival {
            source_id: cartback_core::HUB_SOURCE,
            delivery_ids: &[],
            events,
            received_at: now,
            trust: cartback_core::Trust::Verified,
        })
        .await?;
    metrics::counter!("cartback_onsite_events_total", "kind" => e.kind.clone()).increment(1);
    Ok(with_cors(StatusCode::NO_CONTENT.into_response(), origin))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    cart_id: String,
}

/// `POST /api/v1/onsite/preview {"cart_id"}` (admin): a token for `?cartback_preview=<token>`.
pub async fn preview(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let req: PreviewRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid preview request: {e}")))?;
    state
        .store
        .cart(&req.cart_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no cart {:?}", req.cart_id)))?;
    let token = state.engine.link_signer().sign(&LinkToken {
        kind: LinkKind::Preview,
        message_id: req.cart_id,
        index: 0,
    });
    Ok(axum::Json(
        json!({ "query": format!("cartback_preview={token}"), "token": token }),
    ))
}
