//! [`MailerLiteSink`]: a reminder is one create-or-update of the subscriber (`POST
//! {base}/subscribers`) with the cart in custom fields and the automation's group; a purchase is
//! the same upsert (status `recovered`, the order id) then the subscriber removed from the
//! group (`DELETE {base}/subscribers/{id}/groups/{group_id}`; 404 counts as already gone).
//!
//! The upsert is idempotent by email, so a retry changes nothing twice. The sink only says
//! *whether* a failure is retryable; the outbox decides *when*. Errors never carry the token or
//! a body the hub sent.

use crate::config::MailerLiteSettings;
use crate::payload::{ErrorBody, SubscriberAnswer, SubscriberBody};
use cartback_core::{
    Consent, DeliveryError, Money, OutboundMessage, Purpose, Receipt, Sink, SinkContext,
};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Map;
use std::time::Duration;

/// The wait after a 429 that names none: MailerLite's limit is per minute.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The longest text put in one field (`cart_items` is shortened with `…`).
pub const MAX_TEXT_FIELD: usize = 1024;

/// The MailerLite hand-off sink.
#[derive(Debug)]
pub struct MailerLiteSink {
    settings: MailerLiteSettings,
    /// `Bearer <token>`, marked sensitive.
    auth: HeaderValue,
    client: reqwest::Client,
}

impl MailerLiteSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: MailerLiteSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let mut auth =
            HeaderValue::try_from(format!("Bearer {}", settings.api_token.expose().trim()))
                .map_err(|_| BuildError::Settings("api_token cannot be sent as a header".into()))?;
        auth.set_sensitive(true);
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(MailerLiteSink {
            settings,
            auth,
            client,
        })
    }

    /// The upsert sent for `message`; [`DeliveryError::Permanent`] when it can never be sent
    /// (no cart, no email: MailerLite knows subscribers by email only).
    pub fn body(&self, message: &OutboundMessage) -> Result<SubscriberBody, DeliveryError> {
        let cart = message
            .cart
            .as_ref()
            .ok_or_else(|| permanent("the hand-off has no cart"))?;
        let info = message.contact.clone().unwrap_or_default();
        let email = info
            .email
            .clone()
            .or_else(|| message.to.email.clone())
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| permanent("the contact has no email (MailerLite needs one)"))?;
        let mut fields = Map::new();
        let mut standard = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                fields.insert(k.to_string(), v.into());
            }
        };
        standard("name", info.first_name.clone());
        standard("last_name", info.last_name.clone());
        standard(
            "phone",
            info.phone.clone().or_else(|| message.to.phone.clone()),
        );
        let meta = |k: &str| message.metadata.get(k).cloned();
        let mut custom = |name: &str, v: Option<String>| {
            if let (Some(key), Some(v)) = (self.settings.field_key(name), v) {
                fields.insert(key, v.into());
            }
        };
        custom(
            "cart_id",
            Some(meta("cart_id").unwrap_or_else(|| cart.id.clone())),
        );
        custom("cart_currency", Some(cart.currency.code().to_string()));
        custom("cart_items", Some(items_text(cart)));
        custom(
            "cart_image_url",
            cart.items.iter().find_map(|i| i.image_url.clone()),
        );
        custom("discount_code", message.discount_code.clone());
        custom("flow_id", meta("flow_id"));
        custom("flow_step", meta("step"));
        custom("flow_variant", meta("variant"));
        let mut groups = Vec::new();
        match &message.purpose {
            Purpose::Reminder => {
                custom("cart_url", cart.recovery_url.clone());
                custom("cart_total", Some(amount(cart.total)));
                custom("cart_status", Some("abandoned".into()));
                // A new cart clears the last one's order id.
                custom("order_id", Some(String::new()));
                groups.push(self.settings.group_id.trim().to_string());
            }
            Purpose::Converted {
                order_id, total, ..
            } => {
                custom("cart_total", Some(amount(total.unwrap_or(cart.total))));
                custom("cart_status", Some("recovered".into()));
                custom("order_id", Some(order_id.clone()));
            }
        }
        Ok(SubscriberBody {
            email,
            fields,
            groups,
            status: (info.email_consent == Consent::Unsubscribed).then_some("unsubscribed"),
        })
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Vec<u8>, DeliveryError> {
        let response = request
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        let text = String::from_utf8_lossy(&bytes);
        Err(refused(status, &headers, &text, what, Utc::now()))
    }
}

#[async_trait::async_trait]
impl Sink for MailerLiteSink {
    fn kind(&self) -> &'static str {
        "mailerlite"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let body = serde_json::to_vec(&self.body(message)?)
            .map_err(|e| permanent(format!("cannot encode the subscriber: {e}")))?;
        let upsert = self
            .client
            .post(self.settings.subscribers_url())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let answer = self.send(upsert, "the subscriber").await?;
        let id = serde_json::from_slice::<SubscriberAnswer>(&answer)
            .ok()
            .and_then(|a| a.id());
        if matches!(message.purpose, Purpose::Converted { .. }) {
            if let Some(id) = id.as_deref() {
                let leave = self.client.delete(self.settings.membership_url(id));
                match self.send(leave, "the group removal").await {
                    Ok(_) => {}
                    // Not (or no longer) in the group: nothing to stop.
                    Err(DeliveryError::Permanent { reason }) if reason.starts_with("HTTP 404") => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Receipt {
            provider_message_id: id,
        })
    }
}

/// `"2 × Mug (Blue), 1 × Cup"`, at most [`MAX_TEXT_FIELD`] characters.
fn items_text(cart: &cartback_core::Cart) -> String {
    let text = cart
        .items
        .iter()
        .map(|i| match &i.variant_title {
            Some(v) if !v.trim().is_empty() => format!("{} × {} ({v})", i.quantity, i.title),
            _ => format!("{} × {}", i.quantity, i.title),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if text.chars().count() <= MAX_TEXT_FIELD {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_TEXT_FIELD - 1).collect();
    cut.push('…');
    cut
}

/// `"59.98"`: the amount with the currency's decimals.
fn amount(m: Money) -> String {
    m.to_decimal_string()
}

/// What a non-2xx answer to `what` means: 401/403 the token was refused; 400/422 the named
/// fields were refused; 429 retryable after `Retry-After` (else a minute); the rest by the
/// kit's table.
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
            "credential refused: HTTP {status}: MailerLite did not accept the API token ({what}): {}",
            excerpt(&said)
        )),
        400 | 422 => permanent(format!(
            "HTTP {status}: MailerLite refused {what}: {}",
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
    fn refusals_name_the_fields_and_the_credential() {
        let h = HeaderMap::new();
        let now = Utc::now();
        let body = r#"{"message":"The given data was invalid.","errors":{"email":["The email must be a valid email address."]}}"#;
        match refused(422, &h, body, "the subscriber", now) {
            DeliveryError::Permanent { reason } => assert_eq!(
                reason,
                "HTTP 422: MailerLite refused the subscriber: email: The email must be a valid email address."
            ),
            other => panic!("{other:?}"),
        }
        match refused(
            401,
            &h,
            r#"{"message":"Unauthenticated."}"#,
            "the subscriber",
            now,
        ) {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        match refused(429, &h, "", "the subscriber", now) {
            DeliveryError::Retryable { retry_after, .. } => {
                assert_eq!(retry_after, Some(DEFAULT_RATE_LIMIT_WAIT))
            }
            other => panic!("{other:?}"),
        }
    }
}
