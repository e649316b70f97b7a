//! [`SfmcSink`]: the entry event of one hand-off, and the classification of the answers.
//!
//! - A reminder: `POST {rest host}/interaction/v1/events` with `ContactKey` (the email, the
//!   hub's contact id or the shop's customer id, as `contact_key` says), `EventDefinitionKey`
//!   (`event_definition_key`) and the cart as `Data` (the contact, `CartId`, `CartUrl` = the
//!   hub's tracked recovery link, `CartTotal`, `Currency`, the items, `DiscountCode`, the flow,
//!   step and variant, `MessageId`, `Test`).
//! - A purchase: the same request with `converted_event_definition_key` and the order
//!   (`OrderId`, `OrderTotal`, `PlacedAt`); without that key nothing is sent (the journey exits
//!   on its own criteria).
//!
//! The token comes from [`TokenCache`]. A 401 from the REST host drops that token, fetches a
//! new one and sends once more; a second 401 is a refused credential. The sink only says
//! *whether* a failure is retryable; the outbox decides *when*. Errors never carry a token, the
//! secret or a body sent.

use crate::config::{ContactKeyFrom, SfmcSettings};
use crate::payload::{decimal, Data, EntryEvent, EventAnswer, HubFields, RestError};
use crate::token::{excerpt, Token, TokenCache};
use cartback_core::{
    Clock, DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext, SystemClock,
};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use std::sync::Arc;
use std::time::Duration;

/// The Marketing Cloud hand-off sink.
#[derive(Debug)]
pub struct SfmcSink {
    settings: SfmcSettings,
    client: reqwest::Client,
    tokens: TokenCache,
}

/// How one send of the event ended.
enum Sent {
    Ok(Receipt),
    /// 401: the token was refused.
    Unauthorized(String),
    Failed(DeliveryError),
}

impl SfmcSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: SfmcSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        Self::with_clock(settings, ctx, Arc::new(SystemClock))
    }

    /// As [`Self::new`], with token lifetimes read from `clock`.
    pub fn with_clock(
        settings: SfmcSettings,
        ctx: SinkContext,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BuildError> {
        settings.validate()?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        let tokens = TokenCache::new(settings.clone(), client.clone(), clock);
        Ok(SfmcSink {
            settings,
            client,
            tokens,
        })
    }

    /// The channel's token cache.
    pub fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    /// The event `message` becomes (`None`: a purchase with no converted event configured);
    /// an error when it can never be sent (no cart, no contact key, no recovery link).
    pub fn event(&self, message: &OutboundMessage) -> Result<Option<EntryEvent>, DeliveryError> {
        let cart = message
            .cart
            .as_ref()
            .ok_or_else(|| permanent("the hand-off has no cart"))?;
        let info = message.contact.clone().unwrap_or_default();
        let meta = |k: &str| message.metadata.get(k).cloned();
        let email = info.email.clone().or_else(|| message.to.email.clone());
        let contact_id = meta("contact_id").or_else(|| cart.contact_id.clone());
        let contact_key = match self.settings.contact_key {
            ContactKeyFrom::Email => email.clone(),
            ContactKeyFrom::ContactId => contact_id.clone(),
            ContactKeyFrom::ExternalId => info.external_id.clone(),
        }
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            permanent(format!(
                "the contact has no {} for the ContactKey (contact_key = {:?})",
                self.settings.contact_key.as_str().replace('_', " "),
                self.settings.contact_key.as_str()
            ))
        })?;
        let hub = HubFields {
            message_id: message.id.clone(),
            test: message.test,
            flow_id: meta("flow_id"),
            step: meta("step"),
            variant: meta("variant"),
            contact_id,
        };
        let cart_id = meta("cart_id").unwrap_or_else(|| cart.id.clone());
        let mut data = Data::default();
        data.contact(email.as_deref(), &info);
        let key = match &message.purpose {
            Purpose::Reminder => {
                let cart_url = cart.recovery_url.as_deref().ok_or_else(|| {
                    permanent("the cart has no recovery link: the journey's CartUrl would be empty")
                })?;
                data.value("CartStatus", "abandoned")
                    .value("CartId", cart_id)
                    .value("CartUrl", cart_url)
                    .value("CartTotal", decimal(cart.total))
                    .value("Currency", cart.currency.code())
                    .items(cart, self.settings.max_items())
                    .text("DiscountCode", message.discount_code.as_deref())
                    .hub(&hub);
                self.settings.event_definition_key().to_string()
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                let Some(key) = self.settings.converted_event_definition_key() else {
                    return Ok(None);
                };
                let total = total.unwrap_or(cart.total);
                data.value("CartStatus", "recovered")
                    .value("CartId", cart_id)
                    .value("OrderId", order_id.as_str())
                    .value("OrderTotal", decimal(total))
                    .value("Currency", total.currency.code())
                    .value("PlacedAt", rfc3339(*placed_at))
                    .hub(&hub);
                key.to_string()
            }
        };
        Ok(Some(EntryEvent {
            contact_key,
            event_definition_key: key,
            data: data.into_map(),
        }))
    }

    async fn send(&self, token: &Token, body: &[u8]) -> Sent {
        let url = format!("{}/interaction/v1/events", token.rest_base_url);
        let response = self
            .client
            .post(url)
            .header(
                AUTHORIZATION,
                format!("Bearer {}", token.access_token.expose()),
            )
            .header(CONTENT_TYPE, "application/json; charset=UTF-8")
            .header(ACCEPT, "application/json")
            .body(body.to_vec())
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return Sent::Failed(transport_error(&e)),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            let id = serde_json::from_str::<EventAnswer>(&text)
                .ok()
                .and_then(|a| a.event_instance_id)
                .map(|id| id.trim().to_string())
                .filter(|id| !id.is_empty());
            return Sent::Ok(Receipt {
                provider_message_id: id,
            });
        }
        if status == 401 {
            return Sent::Unauthorized(describe(&text));
        }
        Sent::Failed(refused(status, &headers, &text, Utc::now()))
    }
}

#[async_trait::async_trait]
impl Sink for SfmcSink {
    fn kind(&self) -> &'static str {
        "sfmc"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let Some(event) = self.event(message)? else {
            tracing::debug!(
                message_id = %message.id,
                "No converted_event_definition_key: the purchase is not sent to Marketing Cloud."
            );
            return Ok(Receipt::default());
        };
        let body = serde_json::to_vec(&event)
            .map_err(|e| permanent(format!("cannot encode the entry event: {e}")))?;
        let token = self.tokens.get().await?;
        let first = match self.send(&token, &body).await {
            Sent::Ok(receipt) => return Ok(receipt),
            Sent::Failed(e) => return Err(e),
            Sent::Unauthorized(said) => said,
        };
        tracing::info!(
            message_id = %message.id,
            "Marketing Cloud refused the access token; fetching a new one and sending once more."
        );
        self.tokens.refused(&token).await;
        let token = self.tokens.get().await?;
        match self.send(&token, &body).await {
            Sent::Ok(receipt) => Ok(receipt),
            Sent::Failed(e) => Err(e),
            Sent::Unauthorized(said) => {
                self.tokens.refused(&token).await;
                Err(permanent(format!(
                "credential refused: HTTP 401 from the REST host twice, with a new token the second time ({}; then {})",
                excerpt(&first),
                excerpt(&said)
            )))
            }
        }
    }
}

/// What a refused entry event means (401 is handled by the sink: a new token, once): 403 the
/// package lacks a scope or permission; 400 names what Journey Builder refused (an unknown
/// event key, an inactive contact, a field the data extension does not take); 429 retryable
/// after `Retry-After` or the body's `retryAfter`; the rest by the kit's table.
pub fn refused(status: u16, headers: &HeaderMap, body: &str, now: DateTime<Utc>) -> DeliveryError {
    let said = describe(body);
    match status {
        401 | 403 => permanent(format!(
            "credential refused: HTTP {status} on the entry event: the installed package (or its business unit) lacks a permission or scope the entry event needs: {said}"
        )),
        400 | 404 | 422 => permanent(format!("HTTP {status} on the entry event: {said}")),
        _ => match status_error(status, headers, &said, now) {
            DeliveryError::Retryable {
                reason,
                retry_after,
            } => DeliveryError::Retryable {
                reason: format!("{reason} (the entry event)"),
                retry_after: retry_after.or_else(|| {
                    serde_json::from_str::<RestError>(body)
                        .ok()
                        .and_then(|e| e.retry_after_secs())
                        .map(|s| Duration::from_secs(s.min(86_400)))
                }),
            },
            DeliveryError::Permanent { reason } => {
                permanent(format!("{reason} (the entry event)"))
            }
            other => other,
        },
    }
}

fn describe(body: &str) -> String {
    serde_json::from_str::<RestError>(body)
        .ok()
        .and_then(|e| e.describe())
        .unwrap_or_else(|| excerpt(body))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_was_refused() {
        let h = HeaderMap::new();
        let now = Utc::now();
        let body = r#"{"message":"Unable to queue insert for event: CartTotal: Value is not a decimal","errorcode":30000,"documentation":""}"#;
        match refused(400, &h, body, now) {
            DeliveryError::Permanent { reason } => assert_eq!(
                reason,
                "HTTP 400 on the entry event: Unable to queue insert for event: CartTotal: Value is not a decimal (errorcode 30000)"
            ),
            other => panic!("{other:?}"),
        }
        match refused(403, &h, "", now) {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let throttled = r#"{"message":"Too many requests","errorcode":50100,"retryAfter":12}"#;
        match refused(429, &h, throttled, now) {
            DeliveryError::Retryable { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(12)))
            }
            other => panic!("{other:?}"),
        }
    }
}
