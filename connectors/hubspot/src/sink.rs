//! [`HubSpotSink`]: the hand-off of an abandoned cart to HubSpot.
//!
//! Each message is one contact upsert by email (`POST .../contacts/batch/upsert`,
//! `idProperty = "email"`: idempotent, so a retry rewrites the same values; when several
//! hand-offs are due at once they share one request of up to `batch_size` inputs,
//! [`Sink::deliver_many`]) with the cart in the
//! contact properties of [`ContactProperties`](crate::config::ContactProperties), then, when the
//! settings name a custom event, one event occurrence (`POST /events/<version>/send`) whose
//! `uuid` is the hub's message id. A reminder writes the cart and `status = "abandoned"`; a
//! conversion writes `status = "recovered"` and the order id, which is what the shop's workflow
//! exits on.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Errors never
//! carry the token; logs carry ids only.

use crate::config::HubSpotChannelSettings;
use crate::payload::{BatchResult, BatchUpsert, ErrorBody, EventOccurrence, UpsertInput};
use cartback_core::contact::clean_email;
use cartback_core::{Cart, DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext};
use cartback_kit::http::{permanent, retry_after, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, ACCEPT};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// `status` property value written with an abandoned cart.
pub const STATUS_ABANDONED: &str = "abandoned";
/// `status` property value written once the cart is bought.
pub const STATUS_RECOVERED: &str = "recovered";

/// The rate-limit window HubSpot reports with every answer (used when a 429 has no
/// `Retry-After`).
pub const INTERVAL_HEADER: &str = "x-hubspot-ratelimit-interval-milliseconds";

/// Longest value HubSpot takes in an event property (2021 limits: 50 characters, URLs 200).
pub const EVENT_TEXT_MAX: usize = 50;
/// Longest URL value in an event property.
pub const EVENT_URL_MAX: usize = 200;

/// The HubSpot hand-off sink.
#[derive(Debug)]
pub struct HubSpotSink {
    settings: HubSpotChannelSettings,
    upsert_url: reqwest::Url,
    event_url: reqwest::Url,
    client: reqwest::Client,
}

impl HubSpotSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: HubSpotChannelSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let base = settings
            .base()
            .map_err(|p| cartback_kit::settings::line(&p))?;
        let join = |path: String| {
            reqwest::Url::parse(&format!("{}{path}", base.as_str().trim_end_matches('/')))
                .map_err(|e| BuildError::Settings(format!("base_url: {e}")))
        };
        let upsert_url = join(settings.upsert_path())?;
        let event_url = join(settings.event_path())?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(HubSpotSink {
            settings,
            upsert_url,
            event_url,
            client,
        })
    }

    /// The contact upsert for `message` (`at`: the hand-off time); [`DeliveryError::Permanent`]
    /// when it can never be sent (no email, a reminder without a cart).
    pub fn contact_upsert(
        &self,
        message: &OutboundMessage,
        at: DateTime<Utc>,
    ) -> Result<BatchUpsert, DeliveryError> {
        let email = email(message)?;
        let names = &self.settings.properties;
        let mut props = BTreeMap::new();
        props.insert("email".to_string(), email.clone());
        if let Some(c) = &message.contact {
            for (name, value) in [
                ("firstname", &c.first_name),
                ("lastname", &c.last_name),
                ("phone", &c.phone),
            ] {
                if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                    props.insert(name.to_string(), v.to_string());
                }
            }
            set(&mut props, &names.email_consent, c.email_consent.as_str());
            set(&mut props, &names.sms_consent, c.sms_consent.as_str());
        }
        if let Some(id) = contact_id(message) {
            set(&mut props, &names.contact_id, id);
        }
        match &message.purpose {
            Purpose::Reminder => {
                let cart = reminder_cart(message)?;
                set(
                    &mut props,
                    &names.cart_id,
                    cart_id(message).unwrap_or(&cart.id),
                );
                set(
                    &mut props,
                    &names.cart_url,
                    cart.recovery_url.as_deref().unwrap_or(""),
                );
                set(
                    &mut props,
                    &names.cart_value,
                    &cart.total.to_decimal_string(),
                );
                set(&mut props, &names.cart_currency, cart.currency.code());
                set(&mut props, &names.cart_items, &item_names(cart));
                set(
                    &mut props,
                    &names.cart_at,
                    &at.to_rfc3339_opts(SecondsFormat::Millis, true),
                );
                set(
                    &mut props,
                    &names.discount_code,
                    message.discount_code.as_deref().unwrap_or(""),
                );
                set(&mut props, &names.status, STATUS_ABANDONED);
                // A new cart: no order has recovered it yet.
                set(&mut props, &names.order_id, "");
            }
            Purpose::Converted { order_id, .. } => {
                if let Some(id) = cart_id(message) {
                    set(&mut props, &names.cart_id, id);
                }
                set(&mut props, &names.status, STATUS_RECOVERED);
                set(&mut props, &names.order_id, order_id);
            }
        }
        Ok(BatchUpsert {
            inputs: vec![UpsertInput {
                id: email,
                id_property: "email",
                properties: props,
            }],
        })
    }

    /// The custom event occurrence for `message`, when the settings name one for its purpose.
    pub fn event(
        &self,
        message: &OutboundMessage,
        at: DateTime<Utc>,
    ) -> Result<Option<EventOccurrence>, DeliveryError> {
        let name = match &message.purpose {
            Purpose::Reminder => self.settings.event_name.as_deref(),
            Purpose::Converted { .. } => self.settings.converted_event_name.as_deref(),
        };
        let Some(name) = name else {
            return Ok(None);
        };
        let email = email(message)?;
        let mut props = BTreeMap::new();
        let mut put = |k: &str, v: &str, max: usize| {
            put_event_property(&mut props, k, v, max);
        };
        if let Some(id) = cart_id(message).or(message.cart.as_ref().map(|c| c.id.as_str())) {
            put("cart_id", id, EVENT_TEXT_MAX);
        }
        for key in ["flow_id", "step", "variant"] {
            if let Some(v) = message.metadata.get(key) {
                put(key, v, EVENT_TEXT_MAX);
            }
        }
        put(
            "test",
            if message.test { "true" } else { "false" },
            EVENT_TEXT_MAX,
        );
        let occurred_at = match &message.purpose {
            Purpose::Reminder => {
                let cart = reminder_cart(message)?;
                put("total", &cart.total.to_decimal_string(), EVENT_TEXT_MAX);
                put("currency", cart.currency.code(), EVENT_TEXT_MAX);
                if let Some(u) = cart.recovery_url.as_deref() {
                    put("recovery_url", u, EVENT_URL_MAX);
                }
                put("item_names", &item_names(cart), EVENT_TEXT_MAX);
                let count: u64 = cart.items.iter().map(|i| u64::from(i.quantity)).sum();
                put("item_count", &count.to_string(), EVENT_TEXT_MAX);
                if let Some(first) = cart.items.first() {
                    put("first_item_title", &first.title, EVENT_TEXT_MAX);
                    if let Some(u) = first.url.as_deref() {
                        put("first_item_url", u, EVENT_URL_MAX);
                    }
                    if let Some(u) = first.image_url.as_deref() {
                        put("first_item_image_url", u, EVENT_URL_MAX);
                    }
                }
                if let Some(code) = message.discount_code.as_deref() {
                    put("discount_code", code, EVENT_TEXT_MAX);
                }
                at
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                put("order_id", order_id, EVENT_TEXT_MAX);
                if let Some(t) = total.or(message.cart.as_ref().map(|c| c.total)) {
                    put("total", &t.to_decimal_string(), EVENT_TEXT_MAX);
                    put("currency", t.currency.code(), EVENT_TEXT_MAX);
                }
                *placed_at
            }
        };
        Ok(Some(EventOccurrence {
            event_name: name.to_string(),
            email,
            occurred_at: occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            uuid: occurrence_uuid(&message.id),
            properties: props,
        }))
    }

    /// One POST; the body on 2xx, the classified failure otherwise.
    async fn post<T: Serialize>(
        &self,
        url: &reqwest::Url,
        body: &T,
        what: &str,
    ) -> Result<String, DeliveryError> {
        let response = self
            .client
            .post(url.clone())
            .bearer_auth(self.settings.access_token.expose())
            .header(ACCEPT, "application/json")
            .json(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // HubSpot processed a 2xx: a body that cannot be read does not change that.
        let text = response.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(classify_failure(status, &headers, &text, what))
    }
}

/// Classifies a non-2xx answer: 401/403 "credential refused: ...", 429 retryable after
/// `Retry-After` (else HubSpot's rate-limit interval), then the shared table, with HubSpot's
/// error message and the property it names as the reason.
pub fn classify_failure(status: u16, headers: &HeaderMap, body: &str, what: &str) -> DeliveryError {
    let detail = ErrorBody::summary(body).unwrap_or_else(|| body.trim().to_string());
    let detail: String = detail
        .chars()
        .take(300)
        .collect::<String>()
        .replace(['\r', '\n'], " ");
    match status {
        401 => permanent(format!(
            "credential refused: HubSpot refused the access token ({what}, HTTP 401: {detail})"
        )),
        403 => permanent(format!(
            "credential refused: the access token may not do the {what} (HTTP 403, check its \
             scopes and the hub's tier: {detail})"
        )),
        429 => DeliveryError::Retryable {
            reason: format!("HTTP 429 ({what}): {detail}"),
            retry_after: retry_after(headers, Utc::now()).or_else(|| interval(headers)),
        },
        _ => status_error(status, headers, &format!("{what}: {detail}"), Utc::now()),
    }
}

fn interval(headers: &HeaderMap) -> Option<Duration> {
    let ms: u64 = headers
        .get(INTERVAL_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_millis(ms).min(Duration::from_secs(86_400)))
}

impl HubSpotSink {
    /// Reads the upsert's answer: the first refusal as a permanent error, else the contacts.
    fn upserted(text: &str) -> Result<BatchResult, DeliveryError> {
        let result: BatchResult = serde_json::from_str(text).unwrap_or_default();
        match result.errors.first() {
            Some(e) => {
                let field = e
                    .field()
                    .map(|f| format!("property {f:?}: "))
                    .unwrap_or_default();
                let text = e.text().unwrap_or_else(|| "no message".into());
                Err(permanent(format!(
                    "HubSpot refused the contact upsert: {field}{text}"
                )))
            }
            None => Ok(result),
        }
    }

    /// What follows a contact's upsert: its event (when the settings name one), then the receipt
    /// naming HubSpot's contact.
    async fn after_upsert(
        &self,
        message: &OutboundMessage,
        at: DateTime<Utc>,
        contact: Option<String>,
    ) -> Result<Receipt, DeliveryError> {
        if let Some(event) = self.event(message, at)? {
            self.post(&self.event_url, &event, "event").await?;
        }
        tracing::debug!(
            message_id = %message.id,
            hubspot_contact = contact.as_deref().unwrap_or(""),
            "HubSpot took the hand-off."
        );
        Ok(Receipt {
            provider_message_id: contact,
        })
    }
}

#[async_trait::async_trait]
impl Sink for HubSpotSink {
    fn kind(&self) -> &'static str {
        "hubspot"
    }

    fn batch_limit(&self) -> usize {
        self.settings.batch_size.clamp(1, crate::config::MAX_BATCH) as usize
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let at = Utc::now();
        let upsert = self.contact_upsert(message, at)?;
        // Built before any request: an event that can never go fails the message up front.
        self.event(message, at)?;
        let text = self
            .post(&self.upsert_url, &upsert, "contact upsert")
            .await?;
        let result = Self::upserted(&text).inspect_err(|_| {
            tracing::warn!(message_id = %message.id, "HubSpot refused the contact.");
        })?;
        let contact = result.results.first().map(|r| r.id.0.clone());
        self.after_upsert(message, at, contact).await
    }

    /// Several hand-offs due at once: their contacts in one batch upsert (up to `batch_size`),
    /// then each one's event. HubSpot's answer is matched to the messages by email. A message
    /// whose upsert cannot be built answers at once; a second message for an address already in
    /// the request, or one whose answer a partly refused batch does not name, goes on its own
    /// (the upsert is idempotent: writing a contact twice writes the same values). A failure of
    /// the whole request is every message's answer.
    async fn deliver_many(
        &self,
        messages: &[OutboundMessage],
    ) -> Vec<Result<Receipt, DeliveryError>> {
        let at = Utc::now();
        let mut answers: Vec<Option<Result<Receipt, DeliveryError>>> =
            messages.iter().map(|_| None).collect();
        let mut inputs = Vec::new();
        let mut batched: Vec<(usize, String)> = Vec::new();
        let mut alone = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let built = self
                .contact_upsert(message, at)
                .and_then(|u| self.event(message, at).map(|_| u));
            match built {
                Err(e) => answers[i] = Some(Err(e)),
                Ok(upsert) => {
                    for input in upsert.inputs {
                        let email = input.id.to_ascii_lowercase();
                        if batched.iter().any(|(_, e)| *e == email) {
                            alone.push(i);
                        } else {
                            batched.push((i, email));
                            inputs.push(input);
                        }
                    }
                }
            }
        }
        if !inputs.is_empty() {
            match self
                .post(&self.upsert_url, &BatchUpsert { inputs }, "contact upsert")
                .await
            {
                Err(e) => {
                    for (i, _) in &batched {
                        answers[*i] = Some(Err(e.clone()));
                    }
                }
                Ok(text) => {
                    let result: BatchResult = serde_json::from_str(&text).unwrap_or_default();
                    let refused = !result.errors.is_empty();
                    for (i, email) in &batched {
                        let found = result
                            .results
                            .iter()
                            .find(|r| r.email().as_ref() == Some(email));
                        match (found, refused) {
                            (Some(c), _) => {
                                let id = Some(c.id.0.clone());
                                answers[*i] = Some(self.after_upsert(&messages[*i], at, id).await);
                            }
                            // All taken, but the answer does not say which contact is whose.
                            (None, false) => {
                                answers[*i] =
                                    Some(self.after_upsert(&messages[*i], at, None).await);
                            }
                            // Partly refused without naming this one: it goes alone, for its own answer.
                            (None, true) => alone.push(*i),
                        }
                    }
                    if refused {
                        tracing::warn!(
                            refused = result.errors.len(),
                            of = batched.len(),
                            "HubSpot refused part of a contact batch; those go one by one."
                        );
                    }
                }
            }
        }
        for i in alone {
            answers[i] = Some(self.deliver(&messages[i]).await);
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(permanent("no answer was recorded for the message"))))
            .collect()
    }
}

/// Writes `value` under the property `name` unless the settings left it out (`""`).
fn set(props: &mut BTreeMap<String, String>, name: &str, value: &str) {
    if !name.is_empty() {
        props.insert(name.to_string(), value.to_string());
    }
}

/// An event property within HubSpot's length limits: text is cut with `…`, a URL too long to
/// be one is left out (cut, it would lead nowhere).
fn put_event_property(props: &mut BTreeMap<String, String>, key: &str, value: &str, max: usize) {
    if value.chars().count() <= max {
        props.insert(key.to_string(), value.to_string());
    } else if max < EVENT_URL_MAX {
        let mut cut: String = value.chars().take(max - 1).collect();
        cut.push('…');
        props.insert(key.to_string(), cut);
    }
}

fn email(message: &OutboundMessage) -> Result<String, DeliveryError> {
    message
        .contact
        .as_ref()
        .and_then(|c| c.email.as_deref())
        .or(message.to.email.as_deref())
        .and_then(clean_email)
        .ok_or_else(|| {
            permanent(
                "the contact has no valid email address (HubSpot contacts are upserted by email)",
            )
        })
}

fn reminder_cart(message: &OutboundMessage) -> Result<&Cart, DeliveryError> {
    message
        .cart
        .as_ref()
        .ok_or_else(|| permanent("the hand-off carries no cart"))
}

fn cart_id(message: &OutboundMessage) -> Option<&str> {
    message
        .metadata
        .get("cart_id")
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// The hub's contact id: `metadata["contact_id"]`, else the cart's.
fn contact_id(message: &OutboundMessage) -> Option<&str> {
    message
        .metadata
        .get("contact_id")
        .map(String::as_str)
        .or(message.cart.as_ref().and_then(|c| c.contact_id.as_deref()))
        .filter(|s| !s.is_empty())
}

/// The item titles (with the variant in brackets), `, `-separated.
pub fn item_names(cart: &Cart) -> String {
    cart.items
        .iter()
        .map(
            |i| match i.variant_title.as_deref().filter(|v| !v.is_empty()) {
                Some(v) => format!("{} ({v})", i.title),
                None => i.title.clone(),
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// The event's `uuid`: the hub's message id when it is a UUID (it is: v7), else a UUID-shaped
/// digest of it, so every retry of one message carries the same value.
pub fn occurrence_uuid(message_id: &str) -> String {
    if is_uuid(message_id) {
        return message_id.to_ascii_lowercase();
    }
    let d = Sha256::digest(message_id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8: custom
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_kept_or_derived_stably() {
        let v7 = "0193a6f0-7c1e-7b7a-9f00-000000000001";
        assert_eq!(occurrence_uuid(v7), v7);
        let derived = occurrence_uuid("msg-42");
        assert!(is_uuid(&derived), "{derived}");
        assert_eq!(derived, occurrence_uuid("msg-42"));
        assert_ne!(derived, occurrence_uuid("msg-43"));
    }

    #[test]
    fn event_values_stay_within_the_limits() {
        let mut p = BTreeMap::new();
        put_event_property(&mut p, "t", &"x".repeat(60), EVENT_TEXT_MAX);
        put_event_property(
            &mut p,
            "u",
            &format!("https://a/{}", "x".repeat(200)),
            EVENT_URL_MAX,
        );
        put_event_property(&mut p, "ok", "https://a/b", EVENT_URL_MAX);
        assert_eq!(p["t"].chars().count(), 50);
        assert!(p["t"].ends_with('…'));
        assert!(!p.contains_key("u"));
        assert_eq!(p["ok"], "https://a/b");
    }
}
