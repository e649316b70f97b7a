//! The shopper's side of a message: `/t/{token}` (click), `/r/{token}` (back to the cart),
//! `/o/{token}` (open pixel), `/u/{token}` (unsubscribe; GET confirms, POST is RFC 8058 one-click).
//!
//! Tokens are signed and name only (message, link index): a redirect goes to a URL the hub stored
//! for that message, never to one the request carries. A forged or altered token gets 404.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use cartback_core::{Event, EventKind, MessageStatus, MessageStatusUpdate, OptOut, OptOutChannel};
use cartback_engine::AddressKind;
use cartback_engine::Arrival;
use cartback_kit::token::{LinkKind, LinkToken};

/// Events the hub itself observes are recorded under this source id.
pub use cartback_core::HUB_SOURCE;

fn token(state: &AppState, raw: &str, kind: LinkKind) -> Result<LinkToken, ApiError> {
    match state.engine.link_signer().verify(raw) {
        Some(t) if t.kind == kind => Ok(t),
        _ => Err(ApiError::NotFound("unknown link".into())),
    }
}

async fn record(state: &AppState, event_id: String, kind: EventKind) {
    let now = state.clock.now();
    let event = Event {
        source_id: HUB_SOURCE.into(),
        event_id,
        topic: kind.name().into(),
        occurred_at: now,
        kind,
    };
    let result = state
        .engine
        .accept(Arrival {
            source_id: HUB_SOURCE,
            delivery_ids: &[],
            events: vec![event],
            received_at: now,
            trust: cartback_core::Trust::Verified,
        })
        .await;
    if let Err(err) = result {
        // The shopper still gets where they were going; the count is what is lost.
        tracing::warn!(error = %err, "Could not record a tracking event.");
    }
}

async fn redirect(state: AppState, raw: String, kind: LinkKind) -> Result<Response, ApiError> {
    let t = token(&state, &raw, kind)?;
    let url = state
        .store
        .message_link(&t.message_id, t.index)
        .await?
        .ok_or_else(|| ApiError::NotFound("unknown link".into()))?;
    record(
        &state,
        format!("click:{}:{}", t.message_id, t.index),
        EventKind::MessageStatus(MessageStatusUpdate {
            message_id: Some(t.message_id.clone()),
            provider_message_id: None,
            status: MessageStatus::Clicked,
            url: Some(url.clone()),
        }),
    )
    .await;
    metrics::counter!("cartback_clicks_total", "kind" => if kind == LinkKind::Recover { "recover" } else { "link" }).increment(1);
    // Stored links were checked when the cart arrived; checked again here, so a link stored
    // before `link_hosts` changed is not followed either.
    if !state.engine.link_policy().allows(&url) {
        return Err(ApiError::NotFound("unknown link".into()));
    }
    // With an on-site pop-up on the page this link opens, the page learns who this is (a signed,
    // expiring visitor token in `cb_v`, which the widget keeps first-party and removes from the
    // address bar). Never appended to a link to any other host.
    let url = match crate::onsite::site_for_url(&state, &url) {
        None => url,
        Some(site) => match state
            .store
            .outbox_message(&t.message_id)
            .await?
            .and_then(|m| m.contact_id)
        {
            Some(contact) => with_param(
                &url,
                "cb_v",
                &crate::onsite::visitor_token(&state, &contact, &site.settings.visitor_lifetime),
            ),
            None => url,
        },
    };
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, url),
            (header::CACHE_CONTROL, "no-store".into()),
            (header::REFERRER_POLICY, "no-referrer".into()),
        ],
    )
        .into_response())
}

pub async fn click(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    redirect(state, raw, LinkKind::Click).await
}

pub async fn recover(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    redirect(state, raw, LinkKind::Recover).await
}

/// A 1×1 transparent GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

pub async fn open(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let t = token(&state, &raw, LinkKind::Open)?;
    record(
        &state,
        format!("open:{}", t.message_id),
        EventKind::MessageStatus(MessageStatusUpdate {
            message_id: Some(t.message_id),
            provider_message_id: None,
            status: MessageStatus::Opened,
            url: None,
        }),
    )
    .await;
    Ok((
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store, max-age=0"),
        ],
        PIXEL,
    )
        .into_response())
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font:inherit;padding:.6rem 1.2rem;cursor:pointer}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    ))
}

/// GET: a confirmation page (link scanners must not unsubscribe anyone by fetching the link).
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    token(&state, &raw, LinkKind::Unsubscribe)?;
    Ok(page(
        "Unsubscribe",
        "<p>Stop receiving cart reminders at this address?</p><form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>",
    )
    .into_response())
}

/// POST: unsubscribe now (the form above, or a mail client's RFC 8058 one-click request).
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let t = token(&state, &raw, LinkKind::Unsubscribe)?;
    let row = state
        .store
        .outbox_message(&t.message_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("unknown link".into()))?;
    let address_kind = state.engine.channel(&row.channel_id).map(|c| c.address);
    let target = match address_kind {
        Some(AddressKind::Phone) => row
            .message
            .to
            .phone
            .clone()
            .map(|p| (OptOutChannel::Sms, p)),
        Some(AddressKind::Email) => row
            .message
            .to
            .email
            .clone()
            .map(|e| (OptOutChannel::Email, e)),
        _ => row
            .message
            .to
            .email
            .clone()
            .map(|e| (OptOutChannel::Email, e))
            .or_else(|| {
                row.message
                    .to
                    .phone
                    .clone()
                    .map(|p| (OptOutChannel::Sms, p))
            }),
    };
    if let Some((channel, address)) = target {
        record(
            &state,
            format!("unsubscribe:{}", t.message_id),
            EventKind::OptOut(OptOut {
                channel,
                address,
                resubscribe: false,
            }),
        )
        .await;
        tracing::info!(message_id = %t.message_id, "Shopper unsubscribed.");
    }
    Ok(page(
        "You are unsubscribed",
        "<p>You will not receive further cart reminders at this address.</p>",
    )
    .into_response())
}

/// Appends `name=value` to a URL's query, before any fragment.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}{name}={value}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}
