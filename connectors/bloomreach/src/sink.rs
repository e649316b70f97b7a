//! [`BloomreachSink`]: a reminder is two Tracking API calls, the customer (`POST
//! {base}/track/v2/projects/{token}/customers`) then the event (`POST …/customers/events`); a
//! purchase is one event. Every call carries Basic auth (API key id : secret).
//!
//! Bloomreach documents no idempotency key: a retry after an unknown outcome may record the
//! event twice (`cartback_message_id` tells them apart). The sink only says *whether* a failure
//! is retryable; the outbox decides *when*. Errors never carry the secret.

use crate::config::{BloomreachSettings, CustomerId};
use crate::payload::{cart_properties, decimal, Answer, CustomerBody, CustomerIds, EventBody};
use cartback_core::{Consent, DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// The wait after a 429 that names none.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The Bloomreach hand-off sink.
#[derive(Debug)]
pub struct BloomreachSink {
    settings: BloomreachSettings,
    customers_url: String,
    events_url: String,
    client: reqwest::Client,
}

/// The requests of a hand-off: the customer (reminders only) and the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Requests {
    pub customer: Option<CustomerBody>,
    pub event: EventBody,
}

impl BloomreachSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: BloomreachSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(BloomreachSink {
            customers_url: settings.customers_url(),
            events_url: settings.events_url(),
            settings,
            client,
        })
    }

    /// The requests sent for `message` as of `now`; [`DeliveryError::Permanent`] when it can
    /// never be sent (no cart, no id to name the customer by).
    pub fn requests(
        &self,
        message: &OutboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Requests, DeliveryError> {
        let cart = message
            .cart
            .as_ref()
            .ok_or_else(|| permanent("the hand-off has no cart"))?;
        let info = message.contact.clone().unwrap_or_default();
        let email = info.email.clone().or_else(|| message.to.email.clone());
        let phone = info.phone.clone().or_else(|| message.to.phone.clone());
        let hub_id = message
            .metadata
            .get("contact_id")
            .cloned()
            .or_else(|| cart.contact_id.clone());
        let by_address = || email.clone().or_else(|| phone.clone());
        let registered = match self.settings.customer_id {
            CustomerId::Email => by_address().or_else(|| hub_id.clone()),
            CustomerId::Hub => hub_id.clone().or_else(by_address),
            CustomerId::Platform => info.external_id.clone().or_else(by_address),
        }
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| permanent("the contact has no email, phone or id for Bloomreach"))?;
        let ids = CustomerIds { registered };

        let meta = |k: &str| message.metadata.get(k).cloned();
        let mut props = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                props.insert(k.to_string(), v);
            }
        };
        put(
            "cart_id",
            Some(meta("cart_id").unwrap_or_else(|| cart.id.clone()).into()),
        );
        put(
            "discount_code",
            message.discount_code.clone().map(Value::from),
        );
        put("cartback_flow_id", meta("flow_id").map(Value::from));
        put("cartback_step", meta("step").map(Value::from));
        put("cartback_variant", meta("variant").map(Value::from));
        put("cartback_message_id", Some(message.id.clone().into()));
        put("cartback_test", message.test.then_some(Value::Bool(true)));
        let (name, at, customer) = match &message.purpose {
            Purpose::Reminder => {
                put("action", Some("update".into()));
                put("cart_url", cart.recovery_url.clone().map(Value::from));
                put("total_price", Some(Value::Number(decimal(cart.total))));
                put("local_currency", Some(cart.currency.code().into()));
                let mut p = Map::new();
                let mut set = |k: &str, v: Option<String>| {
                    if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                        p.insert(k.to_string(), v.into());
                    }
                };
                set("email", email.clone());
                set("phone", phone.clone());
                set("first_name", info.first_name.clone());
                set("last_name", info.last_name.clone());
                set("cartback_contact_id", hub_id.clone());
                let said = |c: Consent| match c {
                    Consent::Subscribed => Some("subscribed".to_string()),
                    Consent::Unsubscribed => Some("unsubscribed".to_string()),
                    _ => None,
                };
                set("cartback_email_consent", said(info.email_consent));
                set("cartback_sms_consent", said(info.sms_consent));
                let customer = CustomerBody {
                    customer_ids: ids.clone(),
                    properties: p,
                };
                (self.settings.event_name(), now, Some(customer))
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                let total = total.unwrap_or(cart.total);
                put("purchase_id", Some(order_id.clone().into()));
                put("purchase_status", Some("success".into()));
                put("purchase_source_type", Some("cartback".into()));
                put("total_price", Some(Value::Number(decimal(total))));
                put("local_currency", Some(total.currency.code().into()));
                (
                    self.settings.converted_event_name(),
                    (*placed_at).min(now),
                    None,
                )
            }
        };
        cart_properties(cart, &mut props);
        Ok(Requests {
            customer,
            event: EventBody {
                customer_ids: ids,
                event_type: name.to_string(),
                timestamp: at.timestamp(),
                properties: props,
            },
        })
    }

    async fn post(
        &self,
        url: &str,
        body: &impl Serialize,
        what: &str,
    ) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| permanent(format!("cannot encode {what}: {e}")))?;
        let response = self
            .client
            .post(url)
            .basic_auth(
                self.settings.api_key_id.trim(),
                Some(self.settings.api_secret.expose().trim()),
            )
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            // A 200 can still say `"success": false` with the refused properties.
            let answer = serde_json::from_str::<Answer>(&text).unwrap_or_default();
            if answer.success == Some(false) {
                return Err(permanent(format!(
                    "HTTP {status}: Bloomreach refused {what}: {}",
                    excerpt(&answer.describe().unwrap_or_else(|| "success: false".into()))
                )));
            }
            return Ok(());
        }
        Err(refused(status, &headers, &text, what, Utc::now()))
    }
}

#[async_trait::async_trait]
impl Sink for BloomreachSink {
    fn kind(&self) -> &'static str {
        "bloomreach"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let requests = self.requests(message, Utc::now())?;
        if let Some(customer) = &requests.customer {
            self.post(&self.customers_url, customer, "the customer")
                .await?;
        }
        self.post(&self.events_url, &requests.event, "the event")
            .await?;
        // Writes are queued; Bloomreach answers `{"success": true}` with no id.
        Ok(Receipt {
            provider_message_id: None,
        })
    }
}

/// What a non-2xx answer to `what` means: 401/403 the key was refused; 400/404/413/422 what
/// Bloomreach named was refused; 429 retryable after `Retry-After` (else a minute); the rest by
/// the kit's table.
pub fn refused(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    what: &str,
    now: DateTime<Utc>,
) -> DeliveryError {
    let said = serde_json::from_str::<Answer>(body)
        .ok()
        .and_then(|a| a.describe())
        .unwrap_or_else(|| body.to_string());
    match status {
        401 | 403 => permanent(format!(
            "credential refused: HTTP {status}: Bloomreach did not accept the API key id and \
             secret for this project (the key's group needs Set rights for customer \
             properties and events) ({what}): {}",
            excerpt(&said)
        )),
        400 | 404 | 413 | 422 => permanent(format!(
            "HTTP {status}: Bloomreach refused {what}: {}",
            excerpt(&said)
        )),
        429 => DeliveryError::Retryable {
            reason: format!("HTTP 429 ({what}): {}", excerpt(&said)),
            retry_after: Some(
                cartback_kit::http::retry_after(headers, now).unwrap_or(DEFAULT_RATE_LIMIT_WAIT),
            ),
        },
        _ => status_error(status, headers, &format!("{what}: {said}"), now),
    }
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out.replace(['\n', '\r'], " ")
}
