//! [`KlaviyoSink`]: hands a cart to Klaviyo as one event (`POST {base_url}/api/events`) and
//! classifies Klaviyo's answer.
//!
//! A reminder becomes the `event_name` metric (default `Started Checkout`) with the cart in its
//! properties; a bought cart (`Purpose::Converted`) becomes the `converted_event_name` metric
//! with the order id and value, so the Klaviyo flow can exit on it. The profile rides inside
//! the event (Klaviyo creates or updates it), and the hub's message id is the event's
//! `unique_id`, so a retried delivery is kept once.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Errors never
//! carry the API key; logs carry ids, never the body.

use crate::config::{ExternalId, KlaviyoChannelSettings};
use crate::payload::{
    ErrorBody, EventAttributes, EventRequest, Item, MetricAttributes, ProfileAttributes, Resource,
};
use cartback_core::{
    Cart, DeliveryError, Money, OutboundMessage, Purpose, Receipt, Sink, SinkContext,
};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Map, Value};
use std::time::Duration;

/// The JSON:API media type Klaviyo's API reads and writes.
pub const MEDIA_TYPE: &str = "application/vnd.api+json";

/// The header naming the API revision.
pub const REVISION_HEADER: &str = "revision";

/// The Klaviyo hand-off sink.
#[derive(Debug)]
pub struct KlaviyoSink {
    settings: KlaviyoChannelSettings,
    endpoint: String,
    /// `Klaviyo-API-Key <key>`, marked sensitive (its `Debug` is `Sensitive`).
    auth: HeaderValue,
    revision: HeaderValue,
    client: reqwest::Client,
}

impl KlaviyoSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: KlaviyoChannelSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let mut auth =
            HeaderValue::try_from(format!("Klaviyo-API-Key {}", settings.api_key.expose()))
                .map_err(|_| {
                    BuildError::Settings("api_key cannot be sent as a header".to_string())
                })?;
        auth.set_sensitive(true);
        let revision = HeaderValue::try_from(settings.revision())
            .map_err(|_| BuildError::Settings("revision cannot be sent as a header".to_string()))?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(KlaviyoSink {
            endpoint: settings.events_url(),
            settings,
            auth,
            revision,
            client,
        })
    }

    /// The Create Event body for `message`; [`DeliveryError::Permanent`] when it can never be
    /// sent (a reminder without a cart, a contact with no email, phone or external id).
    pub fn request_body(&self, message: &OutboundMessage) -> Result<EventRequest, DeliveryError> {
        let cart = message.cart.as_ref();
        let profile = profile(message, self.settings.external_id)?;
        let mut properties = Map::new();
        let mut put = |key: &str, value: Value| {
            properties.insert(key.to_string(), value);
        };
        let (metric, value, time) = match &message.purpose {
            Purpose::Reminder => {
                let cart = cart.ok_or_else(|| permanent("the hand-off carries no cart"))?;
                (self.settings.event_name(), Some(cart.total), None)
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                put("OrderID", Value::from(order_id.as_str()));
                (
                    self.settings.converted_event_name(),
                    total.or(cart.map(|c| c.total)),
                    Some(placed_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
                )
            }
        };
        if let Some(id) = cart_id(message) {
            put("CartID", Value::from(id));
        }
        if let Some(cart) = cart {
            if message.purpose == Purpose::Reminder {
                if let Some(url) = cart.recovery_url.as_deref().filter(|u| !u.is_empty()) {
                    put("CheckoutURL", Value::from(url));
                }
            }
            put_cart(&mut put, cart);
        }
        if let Some(code) = message.discount_code.as_deref().filter(|c| !c.is_empty()) {
            put("DiscountCode", Value::from(code));
        }
        for (key, name) in [("flow_id", "FlowID"), ("variant", "Variant")] {
            if let Some(v) = message.metadata.get(key).filter(|v| !v.is_empty()) {
                put(name, Value::from(v.as_str()));
            }
        }
        if let Some(step) = message.metadata.get("step").filter(|v| !v.is_empty()) {
            put("FlowStep", number_or_text(step));
        }
        if let Some(c) = &message.contact {
            put("EmailConsent", Value::from(c.email_consent.as_str()));
            put("SMSConsent", Value::from(c.sms_consent.as_str()));
        }
        put("MessageID", Value::from(message.id.as_str()));
        if message.test {
            put("Test", Value::Bool(true));
        }
        Ok(Resource::document(
            "event",
            EventAttributes {
                properties,
                metric: Resource::document(
                    "metric",
                    MetricAttributes {
                        name: metric.to_string(),
                    },
                ),
                profile: Resource::document("profile", profile),
                time,
                value: value.map(decimal),
                value_currency: value.map(|m| m.currency.code().to_string()),
                unique_id: message.id.clone(),
            },
        ))
    }
}

/// The cart's lines and currency, under Klaviyo's custom-integration names (`Items`,
/// `ItemNames`, `ItemCount`, `Currency`).
fn put_cart(put: &mut impl FnMut(&str, Value), cart: &Cart) {
    let items: Vec<Item> = cart
        .items
        .iter()
        .map(|i| Item {
            product_id: non_empty(i.product_id.as_deref()),
            variant_id: non_empty(i.variant_id.as_deref()),
            sku: non_empty(i.sku.as_deref()),
            product_name: i.title.clone(),
            variant_name: non_empty(i.variant_title.as_deref()),
            quantity: i.quantity,
            item_price: decimal(i.unit_price),
            row_total: decimal(i.line_price),
            product_url: non_empty(i.url.as_deref()),
            image_url: non_empty(i.image_url.as_deref()),
        })
        .collect();
    let names: Vec<Value> = cart
        .items
        .iter()
        .map(|i| Value::from(i.title.as_str()))
        .collect();
    let count: u64 = cart.items.iter().map(|i| u64::from(i.quantity)).sum();
    put("ItemNames", Value::Array(names));
    put("ItemCount", Value::from(count));
    put(
        "Items",
        serde_json::to_value(items).unwrap_or(Value::Array(Vec::new())),
    );
    put("Currency", Value::from(cart.currency.code()));
}

/// The profile inside the event. The contact as the hub knows it, else the recipient; the
/// `external_id` as the settings say.
fn profile(
    message: &OutboundMessage,
    external_id: ExternalId,
) -> Result<ProfileAttributes, DeliveryError> {
    let contact = message.contact.clone().unwrap_or_default();
    let email = contact
        .email
        .as_deref()
        .or(message.to.email.as_deref())
        .and_then(cartback_core::contact::clean_email);
    let phone_number = non_empty(contact.phone.as_deref().or(message.to.phone.as_deref()));
    let external_id = match external_id {
        ExternalId::Hub => hub_contact_id(message),
        ExternalId::Platform => {
            non_empty(contact.external_id.as_deref()).filter(|id| !id.starts_with("anon:"))
        }
        ExternalId::None => None,
    };
    if email.is_none() && phone_number.is_none() && external_id.is_none() {
        return Err(permanent(
            "the contact has no email, phone or external id to name the Klaviyo profile by",
        ));
    }
    Ok(ProfileAttributes {
        email,
        phone_number,
        external_id,
        first_name: non_empty(contact.first_name.as_deref()),
        last_name: non_empty(contact.last_name.as_deref()),
        locale: non_empty(contact.locale.as_deref()),
    })
}

/// The hub's id of the contact: `metadata["contact_id"]`, else the cart's contact.
pub fn hub_contact_id(message: &OutboundMessage) -> Option<String> {
    non_empty(message.metadata.get("contact_id").map(String::as_str)).or_else(|| {
        message
            .cart
            .as_ref()
            .and_then(|c| non_empty(c.contact_id.as_deref()))
    })
}

/// The hub's id of the cart: `metadata["cart_id"]`, else the cart's own.
fn cart_id(message: &OutboundMessage) -> Option<String> {
    non_empty(message.metadata.get("cart_id").map(String::as_str))
        .or_else(|| message.cart.as_ref().map(|c| c.id.clone()))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `"2"` as the number 2; anything else as text.
fn number_or_text(raw: &str) -> Value {
    raw.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(raw))
}

/// An amount in decimal units (5998 cents → 59.98), the nearest binary number to the exact
/// decimal (so JSON shows `59.98`).
pub fn decimal(m: Money) -> f64 {
    m.to_decimal_string()
        .parse::<f64>()
        .unwrap_or_else(|_| m.minor as f64 / 10f64.powi(m.currency.exponent() as i32))
}

/// Classifies a non-2xx answer: 401 and 403 are a refused credential (permanent, the reason
/// starting `credential refused:`); otherwise the shared table (400 permanent, 429 retryable
/// after `Retry-After`, else after `RateLimit-Reset`; 5xx but 501 retryable), with Klaviyo's
/// `errors[]` (the field each names, and its detail) as the reason.
pub fn classify_failure(status: u16, headers: &HeaderMap, body: &str) -> DeliveryError {
    let reason = ErrorBody::summary(body).unwrap_or_else(|| body.trim().to_string());
    if matches!(status, 401 | 403) {
        return permanent(format!(
            "credential refused: Klaviyo answered HTTP {status} ({}); api_key must be a private \
             key with the events:write scope",
            excerpt(&reason)
        ));
    }
    match status_error(status, headers, &reason, Utc::now()) {
        DeliveryError::Retryable {
            reason,
            retry_after: None,
        } => DeliveryError::Retryable {
            reason,
            retry_after: rate_limit_reset(headers),
        },
        other => other,
    }
}

/// `RateLimit-Reset` (seconds until the window resets), capped at one day.
fn rate_limit_reset(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get("ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(86_400)))
}

fn excerpt(s: &str) -> String {
    let out: String = s.chars().take(300).collect();
    if out.is_empty() {
        "no reason given".to_string()
    } else {
        out.replace(['\n', '\r'], " ")
    }
}

#[async_trait::async_trait]
impl Sink for KlaviyoSink {
    fn kind(&self) -> &'static str {
        "klaviyo"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let body = serde_json::to_vec(&self.request_body(message)?)
            .map_err(|e| permanent(format!("cannot encode the Klaviyo event: {e}")))?;
        let response = self
            .client
            .post(&self.endpoint)
            .header(AUTHORIZATION, self.auth.clone())
            .header(REVISION_HEADER, self.revision.clone())
            .header(CONTENT_TYPE, MEDIA_TYPE)
            .header(ACCEPT, MEDIA_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response.status().is_success() {
            // 202 without a body: validated and queued. An unreadable body changes nothing.
            let bytes = response.bytes().await.unwrap_or_default();
            let provider_message_id = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                v.pointer("/data/id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            tracing::debug!(
                message_id = %message.id,
                status,
                "Klaviyo accepted the event."
            );
            return Ok(Receipt {
                provider_message_id,
            });
        }
        let text = response.text().await.unwrap_or_default();
        let err = classify_failure(status, &headers, &text);
        tracing::warn!(message_id = %message.id, status, "Klaviyo refused the event.");
        Err(err)
    }
}
