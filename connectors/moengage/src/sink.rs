//! [`MoEngageSink`]: a reminder is two Data API calls, the user (`POST
//! {base}/v1/customer/{workspace_id}`) then the event (`POST {base}/v1/event/{workspace_id}`);
//! a purchase is one event. Every call carries Basic auth (Workspace ID : Data API key) and the
//! `MOE-APPKEY` header.
//!
//! MoEngage documents no idempotency key: a retry after an unknown outcome may record the event
//! twice (the hub's message id rides along as `message_id` so a Flow can tell). The sink only
//! says *whether* a failure is retryable; the outbox decides *when*. Errors never carry the key
//! or a body the hub sent.

use crate::config::{CustomerId, MoEngageSettings};
use crate::payload::{cart_attributes, decimal, Action, CustomerBody, ErrorBody, EventBody};
use cartback_core::{Consent, DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext};
use cartback_kit::http::{permanent, post_json, status_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// The header naming the workspace.
pub const APP_KEY_HEADER: &str = "moe-appkey";

/// The wait after a 429 that names none: MoEngage's limits are per minute.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The MoEngage hand-off sink.
#[derive(Debug)]
pub struct MoEngageSink {
    settings: MoEngageSettings,
    customer_url: String,
    event_url: String,
    app_key: HeaderValue,
    client: reqwest::Client,
}

/// The two requests of a hand-off: the user (reminders only) and the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Requests {
    pub customer: Option<CustomerBody>,
    pub event: EventBody,
}

impl MoEngageSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: MoEngageSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let app_key = HeaderValue::try_from(settings.workspace_id.trim()).map_err(|_| {
            BuildError::Settings("workspace_id cannot be sent as a header value".into())
        })?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(MoEngageSink {
            customer_url: settings.customer_url(),
            event_url: settings.event_url(),
            settings,
            app_key,
            client,
        })
    }

    /// The requests sent for `message` as of `now`; [`DeliveryError::Permanent`] when it can
    /// never be sent (no cart, no id to name the user by).
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
        let customer_id = match self.settings.customer_id {
            CustomerId::Email => by_address().or_else(|| hub_id.clone()),
            CustomerId::Hub => hub_id.clone().or_else(by_address),
            CustomerId::Platform => info.external_id.clone().or_else(by_address),
        }
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| {
            permanent("the contact has no email, phone or id for MoEngage's customer_id")
        })?;

        let meta = |k: &str| message.metadata.get(k).cloned();
        let mut attributes = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                attributes.insert(k.to_string(), v);
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
        put("flow_id", meta("flow_id").map(Value::from));
        put("step", meta("step").map(Value::from));
        put("variant", meta("variant").map(Value::from));
        put("message_id", Some(message.id.clone().into()));
        put("test", message.test.then_some(Value::Bool(true)));
        let (name, at, customer) = match &message.purpose {
            Purpose::Reminder => {
                put("cart_url", cart.recovery_url.clone().map(Value::from));
                put("value", Some(Value::Number(decimal(cart.total))));
                put("currency", Some(cart.currency.code().into()));
                let mut user = Map::new();
                let mut set = |k: &str, v: Option<String>| {
                    if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                        user.insert(k.to_string(), v.into());
                    }
                };
                set("email", email.clone());
                set("mobile", phone.clone());
                set("first_name", info.first_name.clone());
                set("last_name", info.last_name.clone());
                let full = [info.first_name.as_deref(), info.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                set(
                    "name",
                    Some(full)
                        .filter(|n| !n.is_empty())
                        .or(message.to.name.clone()),
                );
                set("cartback_contact_id", hub_id.clone());
                // Only an opt-out is passed on: a hub that knows "subscribed" never overrides
                // an unsubscribe made in MoEngage.
                if info.email_consent == Consent::Unsubscribed && email.is_some() {
                    user.insert("moe_unsubscribe".into(), Value::Bool(true));
                }
                let customer = CustomerBody {
                    kind: "customer",
                    customer_id: customer_id.clone(),
                    attributes: user,
                };
                (self.settings.event_name(), now, Some(customer))
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                let total = total.unwrap_or(cart.total);
                put("order_id", Some(order_id.clone().into()));
                put("value", Some(Value::Number(decimal(total))));
                put("currency", Some(total.currency.code().into()));
                // MoEngage refuses future-dated events.
                (
                    self.settings.converted_event_name(),
                    (*placed_at).min(now),
                    None,
                )
            }
        };
        cart_attributes(cart, &mut attributes);
        Ok(Requests {
            customer,
            event: EventBody {
                kind: "event",
                customer_id,
                actions: vec![Action {
                    action: name.to_string(),
                    attributes,
                    current_time: at.timestamp(),
                }],
            },
        })
    }

    async fn post(
        &self,
        url: &str,
        body: &impl Serialize,
        what: &str,
    ) -> Result<(), DeliveryError> {
        let request = self
            .client
            .post(url)
            .basic_auth(
                self.settings.workspace_id.trim(),
                Some(self.settings.api_key.expose().trim()),
            )
            .header(APP_KEY_HEADER, self.app_key.clone());
        post_json(request, body, what)
            .await?
            .map_err(|r| refused(r.status, &r.headers, &r.body, what, Utc::now()))
    }
}

#[async_trait::async_trait]
impl Sink for MoEngageSink {
    fn kind(&self) -> &'static str {
        "moengage"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let requests = self.requests(message, Utc::now())?;
        if let Some(customer) = &requests.customer {
            self.post(&self.customer_url, customer, "the user").await?;
        }
        self.post(&self.event_url, &requests.event, "the event")
            .await?;
        // MoEngage answers `{"status": "success", ...}` with no id.
        Ok(Receipt {
            provider_message_id: None,
        })
    }
}

/// What a non-2xx answer to `what` means: 401/403 the key was refused; 400/413/422 what
/// MoEngage named was refused; 429 retryable after `Retry-After` (else a minute); the rest by
/// the kit's table.
pub fn refused(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    what: &str,
    now: DateTime<Utc>,
) -> DeliveryError {
    let said = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .and_then(|e| e.describe())
        .unwrap_or_else(|| body.to_string());
    match status {
        401 | 403 => permanent(format!(
            "credential refused: HTTP {status}: MoEngage did not accept the Workspace ID and \
             Data API key ({what}): {}",
            excerpt(&said)
        )),
        400 | 413 | 422 => permanent(format!(
            "HTTP {status}: MoEngage refused {what}: {}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_what_moengage_said() {
        let h = HeaderMap::new();
        let now = Utc::now();
        let body = r#"{"status":"fail","error":{"message":"customer_id is mandatory","type":"Bad Request","request_id":"r1"}}"#;
        match refused(400, &h, body, "the user", now) {
            DeliveryError::Permanent { reason } => assert_eq!(
                reason,
                "HTTP 400: MoEngage refused the user: Bad Request: customer_id is mandatory"
            ),
            other => panic!("{other:?}"),
        }
        match refused(401, &h, "", "the event", now) {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        match refused(429, &h, "", "the event", now) {
            DeliveryError::Retryable { retry_after, .. } => {
                assert_eq!(retry_after, Some(DEFAULT_RATE_LIMIT_WAIT))
            }
            other => panic!("{other:?}"),
        }
    }
}
