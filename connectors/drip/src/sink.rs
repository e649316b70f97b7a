//! [`DripSink`]: the requests of one hand-off, and the classification of Drip's answers.
//!
//! - A reminder: the person first (`POST /v2/{account}/subscribers`: names, phone, SMS consent,
//!   the hub's contact id as `user_id`, email consent as Drip's statuses), then the Shopper
//!   Activity cart event (`POST /v3/{account}/shopper_activity/cart`, `action` created or
//!   updated, `cart_url` = the hub's tracked recovery link, the items, the discount code and
//!   the flow, step and variant as event properties). A retry sends both again: the person call
//!   is an upsert.
//! - A purchase: the order event (`POST /v3/{account}/shopper_activity/order`, `action`
//!   `placed`), which ends a cart-abandonment workflow whose goal is "Placed an order".
//!
//! Basic auth with the API token as user and an empty password. The sink only says *whether*
//! a failure is retryable; the outbox decides *when*. Errors never carry the token or a body.

use crate::config::DripSettings;
use crate::payload::{
    decimal, initial_status, CartEvent, Errors, HubAttributes, Item, OrderEvent, Subscriber,
    SubscribersBody,
};
use cartback_core::{
    Cart, ContactInfo, DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext,
};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use serde::Serialize;

/// What one hand-off sends, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Subscriber(SubscribersBody),
    Cart(Box<CartEvent>),
    Order(Box<OrderEvent>),
}

/// The Drip hand-off sink.
#[derive(Debug)]
pub struct DripSink {
    settings: DripSettings,
    client: reqwest::Client,
}

impl DripSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: DripSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(DripSink { settings, client })
    }

    /// The requests `message` becomes, as of `now` (a reminder's `occurred_at`); an error when
    /// it can never be sent (no cart, no email, no recovery link).
    pub fn requests(
        &self,
        message: &OutboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Vec<Request>, DeliveryError> {
        let cart = message
            .cart
            .as_ref()
            .ok_or_else(|| permanent("the hand-off has no cart"))?;
        let info = message.contact.clone().unwrap_or_default();
        let email = info
            .email
            .clone()
            .or_else(|| message.to.email.clone())
            .ok_or_else(|| {
                permanent("the contact has no email: Drip identifies people by email")
            })?;
        let meta = |k: &str| message.metadata.get(k).cloned();
        let hub = HubAttributes {
            discount_code: message.discount_code.clone(),
            cartback_flow_id: meta("flow_id"),
            cartback_step: meta("step"),
            cartback_variant: meta("variant"),
            cartback_message_id: message.id.clone(),
            cartback_test: message.test.then_some(true),
        };
        let cart_id = meta("cart_id").unwrap_or_else(|| cart.id.clone());
        match &message.purpose {
            Purpose::Reminder => {
                let cart_url = cart.recovery_url.clone().ok_or_else(|| {
                    permanent("the cart has no recovery link: Drip requires cart_url")
                })?;
                let hub_id = meta("contact_id").or_else(|| cart.contact_id.clone());
                let person = Subscriber::from_info(email.clone(), &info, hub_id.as_deref());
                Ok(vec![
                    Request::Subscriber(SubscribersBody {
                        subscribers: vec![person],
                    }),
                    Request::Cart(Box::new(
                        self.cart_event(cart, &info, email, cart_id, cart_url, now, hub),
                    )),
                ])
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                let total = total.unwrap_or(cart.total);
                Ok(vec![Request::Order(Box::new(OrderEvent {
                    provider: self.settings.provider().to_string(),
                    email,
                    action: "placed",
                    order_id: order_id.clone(),
                    occurred_at: rfc3339(*placed_at),
                    grand_total: decimal(total),
                    currency: total.currency.code().to_string(),
                    items: Item::from_cart(cart),
                    cart_id,
                    hub,
                }))])
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn cart_event(
        &self,
        cart: &Cart,
        info: &ContactInfo,
        email: String,
        cart_id: String,
        cart_url: String,
        now: DateTime<Utc>,
        hub: HubAttributes,
    ) -> CartEvent {
        CartEvent {
            provider: self.settings.provider().to_string(),
            email,
            initial_status: initial_status(info),
            action: self.settings.cart_action.as_str(),
            cart_id,
            occurred_at: rfc3339(now),
            grand_total: decimal(cart.total),
            currency: cart.currency.code().to_string(),
            cart_url,
            items: Item::from_cart(cart),
            hub,
        }
    }

    async fn post<T: Serialize>(
        &self,
        url: &str,
        body: &T,
        what: &str,
    ) -> Result<Vec<u8>, DeliveryError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| permanent(format!("cannot encode the {what}: {e}")))?;
        let response = self
            .client
            .post(url)
            .basic_auth(self.settings.api_token.expose().trim(), Some(""))
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response.status().is_success() {
            // Accepted; an unreadable body does not change that.
            return Ok(response.bytes().await.unwrap_or_default().to_vec());
        }
        let text = response.text().await.unwrap_or_default();
        Err(refused(status, &headers, &text, what, Utc::now()))
    }
}

#[async_trait::async_trait]
impl Sink for DripSink {
    fn kind(&self) -> &'static str {
        "drip"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let mut receipt = Receipt::default();
        for request in self.requests(message, Utc::now())? {
            match request {
                Request::Subscriber(body) => {
                    self.post(&self.settings.subscribers_url(), &body, "person")
                        .await?;
                }
                Request::Cart(body) => {
                    let answer = self
                        .post(&self.settings.cart_url(), &body, "cart event")
                        .await?;
                    receipt.provider_message_id = request_id(&answer);
                }
                Request::Order(body) => {
                    let answer = self
                        .post(&self.settings.order_url(), &body, "order event")
                        .await?;
                    receipt.provider_message_id = request_id(&answer);
                }
            }
        }
        Ok(receipt)
    }
}

/// What a non-2xx answer means: 401/403 the token was refused; 400/422 the named attributes
/// were refused; the rest (429 and 5xx retryable after `Retry-After`) by the kit's table.
pub fn refused(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    what: &str,
    now: DateTime<Utc>,
) -> DeliveryError {
    let said = serde_json::from_str::<Errors>(body)
        .ok()
        .and_then(|e| e.describe())
        .unwrap_or_else(|| body.to_string());
    match status {
        401 | 403 => permanent(format!(
            "credential refused: HTTP {status} on the {what}: Drip did not accept the API token for this account: {}",
            excerpt(&said)
        )),
        400 | 422 => permanent(format!("HTTP {status} on the {what}: {}", excerpt(&said))),
        _ => match status_error(status, headers, &said, now) {
            DeliveryError::Retryable {
                reason,
                retry_after,
            } => DeliveryError::Retryable {
                reason: format!("{reason} (the {what})"),
                retry_after,
            },
            DeliveryError::Permanent { reason } => permanent(format!("{reason} (the {what})")),
            other => other,
        },
    }
}

/// The `request_id` of a Shopper Activity answer (`202 {"request_id": "..."}`).
fn request_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.get("request_id")? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
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
    fn refusals_name_the_attribute_and_the_credential() {
        let h = HeaderMap::new();
        let now = Utc::now();
        let body = r#"{"errors":[{"code":"presence_error","attribute":"cart_url","message":"Cart url is required"}]}"#;
        match refused(422, &h, body, "cart event", now) {
            DeliveryError::Permanent { reason } => assert_eq!(
                reason,
                "HTTP 422 on the cart event: cart_url: presence_error: Cart url is required"
            ),
            other => panic!("{other:?}"),
        }
        match refused(401, &h, "", "person", now) {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            refused(503, &h, "", "person", now),
            DeliveryError::Retryable { .. }
        ));
    }
}
