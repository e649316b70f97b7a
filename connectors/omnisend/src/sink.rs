//! [`OmnisendSink`]: one `POST {base_url}/v5/events` per hand-off, and the classification of
//! Omnisend's answer.
//!
//! - A reminder is the `started checkout` event (or the configured custom event) with the cart,
//!   the tracked recovery link, the discount code and the flow, step and variant; its `contact`
//!   object creates or updates the contact (names, phone, opt-ins / opt-outs as the hub knows
//!   them), so one request does both.
//! - A purchase is the `placed order` event (or the configured one), which cancels Omnisend's
//!   checkout-abandonment automation.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Errors never
//! carry the API key or the body.

use crate::config::{OmnisendSettings, PLACED_ORDER, STARTED_CHECKOUT};
use crate::payload::{decimal, Contact, EventBody, LineItem, Problem, Properties};
use cartback_core::{DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use std::time::Duration;

/// The header carrying the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The wait after a 429 that names none: Omnisend's limit is a sliding one-minute window.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The Omnisend hand-off sink.
#[derive(Debug)]
pub struct OmnisendSink {
    settings: OmnisendSettings,
    endpoint: String,
    /// The key as a header value marked sensitive (its `Debug` never shows it).
    key: HeaderValue,
    client: reqwest::Client,
}

impl OmnisendSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: OmnisendSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let mut key = HeaderValue::try_from(settings.api_key.expose().trim())
            .map_err(|_| BuildError::Settings("api_key cannot be sent as a header value".into()))?;
        key.set_sensitive(true);
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(OmnisendSink {
            endpoint: settings.events_url(),
            settings,
            key,
            client,
        })
    }

    /// The event sent for `message`, as of `now` (a reminder's `eventTime`).
    pub fn event(
        &self,
        message: &OutboundMessage,
        now: DateTime<Utc>,
    ) -> Result<EventBody, DeliveryError> {
        let cart = message
            .cart
            .as_ref()
            .ok_or_else(|| permanent("the hand-off has no cart"))?;
        let info = message.contact.clone().unwrap_or_default();
        let mut contact = Contact::from_info(
            &info,
            message
                .metadata
                .get("contact_id")
                .map(String::as_str)
                .or(cart.contact_id.as_deref()),
        );
        // A message always names its recipient; the contact may lack what `to` has.
        if contact.email.is_none() {
            contact.email = message.to.email.clone();
        }
        if contact.phone.is_none() {
            contact.phone = message.to.phone.clone();
        }
        if contact.email.is_none() && contact.phone.is_none() {
            return Err(permanent(
                "the contact has no email or phone for Omnisend to identify it by",
            ));
        }
        let meta = |k: &str| message.metadata.get(k).cloned();
        let mut properties = Properties {
            cart_id: meta("cart_id").unwrap_or_else(|| cart.id.clone()),
            abandoned_checkout_url: None,
            value: None,
            currency: cart.currency.code().to_string(),
            line_items: LineItem::from_cart(cart),
            order_id: None,
            total_price: None,
            created_at: None,
            discount_code: message.discount_code.clone(),
            flow_id: meta("flow_id"),
            step: meta("step"),
            variant: meta("variant"),
            message_id: message.id.clone(),
            test: message.test.then_some(true),
        };
        let (event_name, event_version, at) = match &message.purpose {
            Purpose::Reminder => {
                properties.value = Some(decimal(cart.total));
                properties.abandoned_checkout_url = cart.recovery_url.clone();
                let name = self.settings.event_name();
                (name, (name == STARTED_CHECKOUT).then_some(""), now)
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                let total = total.unwrap_or(cart.total);
                properties.order_id = Some(order_id.clone());
                properties.total_price = Some(decimal(total));
                properties.currency = total.currency.code().to_string();
                properties.created_at = Some(rfc3339(*placed_at));
                let name = self.settings.converted_event_name();
                (name, (name == PLACED_ORDER).then_some("v2"), *placed_at)
            }
        };
        Ok(EventBody {
            event_name: event_name.to_string(),
            event_id: uuid::Uuid::parse_str(&message.id)
                .ok()
                .map(|u| u.hyphenated().to_string()),
            event_time: rfc3339(at),
            event_version,
            origin: self.settings.origin().to_string(),
            contact,
            properties,
        })
    }
}

#[async_trait::async_trait]
impl Sink for OmnisendSink {
    fn kind(&self) -> &'static str {
        "omnisend"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let body = serde_json::to_vec(&self.event(message, Utc::now())?)
            .map_err(|e| permanent(format!("cannot encode the event: {e}")))?;
        let response = self
            .client
            .post(&self.endpoint)
            .header(API_KEY_HEADER, self.key.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response.status().is_success() {
            // Accepted (202); an unreadable body does not change that.
            let bytes = response.bytes().await.unwrap_or_default();
            return Ok(Receipt {
                provider_message_id: response_id(&bytes),
            });
        }
        let text = response.text().await.unwrap_or_default();
        Err(refused(status, &headers, &text, Utc::now()))
    }
}

/// What a non-2xx answer means: 401/403 the key was refused; 400/422 the named fields were
/// refused; 429 retryable after `Retry-After` (else a minute); the rest by the kit's table.
pub fn refused(status: u16, headers: &HeaderMap, body: &str, now: DateTime<Utc>) -> DeliveryError {
    let said = serde_json::from_str::<Problem>(body)
        .ok()
        .and_then(|p| p.describe())
        .unwrap_or_else(|| body.to_string());
    match status {
        401 | 403 => permanent(format!(
            "credential refused: HTTP {status}: Omnisend did not accept the API key (it needs the events write scope): {}",
            excerpt(&said)
        )),
        400 | 422 => permanent(format!("HTTP {status}: {}", excerpt(&said))),
        429 => DeliveryError::Retryable {
            reason: format!("HTTP 429: {}", excerpt(&said)),
            retry_after: Some(
                cartback_kit::http::retry_after(headers, now).unwrap_or(DEFAULT_RATE_LIMIT_WAIT),
            ),
        },
        _ => status_error(status, headers, &said, now),
    }
}

/// The `eventID` (or `id`) of a JSON answer, if any.
fn response_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["eventID", "id"].iter().find_map(|k| match value.get(*k)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_field_and_the_credential() {
        let h = HeaderMap::new();
        let now = Utc::now();
        let body = r#"{"type":"https://problems.omnisend.com/validation","title":"Validation failed","errors":[{"field":"contact.email","code":"invalid_format","message":"Must be a valid email address"}]}"#;
        match refused(400, &h, body, now) {
            DeliveryError::Permanent { reason } => {
                assert_eq!(
                    reason,
                    "HTTP 400: contact.email: Must be a valid email address"
                )
            }
            other => panic!("{other:?}"),
        }
        match refused(403, &h, "{\"error\":\"forbidden\"}", now) {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        match refused(429, &h, "", now) {
            DeliveryError::Retryable { retry_after, .. } => {
                assert_eq!(retry_after, Some(DEFAULT_RATE_LIMIT_WAIT))
            }
            other => panic!("{other:?}"),
        }
    }
}
