//! [`WebEngageSink`]: a reminder is two REST calls, the user (`POST
//! {base}/v1/accounts/{licence}/users`) then the event (`POST …/events`); a purchase is one
//! event. Every call carries `Authorization: Bearer <REST API key>`.
//!
//! WebEngage documents no idempotency key: a retry after an unknown outcome may record the
//! event twice (`messageId` rides along so a Journey can tell). The sink only says *whether* a
//! failure is retryable; the outbox decides *when*. Errors never carry the key.

use crate::config::{UserId, WebEngageSettings};
use crate::payload::{cart_data, decimal, truncate, Answer, EventBody, UserBody};
use cartback_core::{Consent, DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext};
use cartback_kit::http::{permanent, post_json, status_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// The wait after a 429 that names none.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The WebEngage hand-off sink.
#[derive(Debug)]
pub struct WebEngageSink {
    settings: WebEngageSettings,
    users_url: String,
    events_url: String,
    /// `Bearer <key>`, marked sensitive.
    auth: HeaderValue,
    client: reqwest::Client,
}

/// The requests of a hand-off: the user (reminders only) and the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Requests {
    pub user: Option<UserBody>,
    pub event: EventBody,
}

impl WebEngageSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: WebEngageSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let mut auth =
            HeaderValue::try_from(format!("Bearer {}", settings.api_key.expose().trim()))
                .map_err(|_| BuildError::Settings("api_key cannot be sent as a header".into()))?;
        auth.set_sensitive(true);
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(WebEngageSink {
            users_url: settings.users_url(),
            events_url: settings.events_url(),
            settings,
            auth,
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
        let user_id = match self.settings.user_id {
            UserId::Email => by_address().or_else(|| hub_id.clone()),
            UserId::Hub => hub_id.clone().or_else(by_address),
            UserId::Platform => info.external_id.clone().or_else(by_address),
        }
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty() && id.chars().count() <= 100)
        .ok_or_else(|| {
            permanent("the contact has no email, phone or id (at most 100 characters) for WebEngage's userId")
        })?;

        let meta = |k: &str| message.metadata.get(k).cloned();
        let mut data = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                data.insert(k.to_string(), v);
            }
        };
        let cart_id = meta("cart_id").unwrap_or_else(|| cart.id.clone());
        put("cartId", Some(truncate(&cart_id).into()));
        put(
            "discountCode",
            message.discount_code.clone().map(Value::from),
        );
        put("flowId", meta("flow_id").map(Value::from));
        put("step", meta("step").map(Value::from));
        put("variant", meta("variant").map(Value::from));
        put("messageId", Some(message.id.clone().into()));
        put("test", message.test.then_some(Value::Bool(true)));
        let (name, at, user) = match &message.purpose {
            Purpose::Reminder => {
                put("cartUrl", cart.recovery_url.clone().map(Value::from));
                put("value", Some(Value::Number(decimal(cart.total))));
                put("currency", Some(cart.currency.code().into()));
                let opt_in = |c: Consent| match c {
                    Consent::Subscribed => Some(true),
                    Consent::Unsubscribed => Some(false),
                    _ => None,
                };
                let mut attributes = Map::new();
                if let Some(id) = hub_id.clone() {
                    attributes.insert("cartbackContactId".into(), id.into());
                }
                let user = UserBody {
                    user_id: user_id.clone(),
                    first_name: info.first_name.clone(),
                    last_name: info.last_name.clone(),
                    email: email.clone(),
                    phone: phone.clone(),
                    email_opt_in: email.as_ref().and(opt_in(info.email_consent)),
                    sms_opt_in: phone.as_ref().and(opt_in(info.sms_consent)),
                    attributes,
                };
                (self.settings.event_name(), now, Some(user))
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                let total = total.unwrap_or(cart.total);
                put("orderId", Some(order_id.clone().into()));
                put("value", Some(Value::Number(decimal(total))));
                put("currency", Some(total.currency.code().into()));
                (
                    self.settings.converted_event_name(),
                    (*placed_at).min(now),
                    None,
                )
            }
        };
        cart_data(cart, &mut data);
        Ok(Requests {
            user,
            event: EventBody {
                user_id,
                event_name: name.to_string(),
                event_time: at.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
                event_data: data,
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
            .header(AUTHORIZATION, self.auth.clone());
        post_json(request, body, what)
            .await?
            .map_err(|r| refused(r.status, &r.headers, &r.body, what, Utc::now()))
    }
}

#[async_trait::async_trait]
impl Sink for WebEngageSink {
    fn kind(&self) -> &'static str {
        "webengage"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let requests = self.requests(message, Utc::now())?;
        if let Some(user) = &requests.user {
            self.post(&self.users_url, user, "the user").await?;
        }
        self.post(&self.events_url, &requests.event, "the event")
            .await?;
        // WebEngage answers 201 `{"response": {"status": "queued"}}` with no id.
        Ok(Receipt {
            provider_message_id: None,
        })
    }
}

/// What a non-2xx answer to `what` means: 401/403 the key was refused, 404 the licence code;
/// 400/413/422 what WebEngage named was refused; 429 retryable after `Retry-After` (else a
/// minute); the rest by the kit's table.
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
            "credential refused: HTTP {status}: WebEngage did not accept the REST API key \
             (an admin's key with Account Management and Update Data) ({what}): {}",
            excerpt(&said)
        )),
        404 => permanent(format!(
            "credential refused: HTTP 404: WebEngage knows no account with this license_code \
             on this data centre ({what}): {}",
            excerpt(&said)
        )),
        400 | 413 | 422 => permanent(format!(
            "HTTP {status}: WebEngage refused {what}: {}",
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
