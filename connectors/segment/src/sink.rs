//! [`SegmentSink`]: hands a cart to Segment through the Tracking API's `POST {base_url}/v1/batch`
//! and classifies Segment's answer.
//!
//! A reminder is one batch of two messages: an `identify` (the contact's traits) and a `track`
//! of `event_name` (default `Checkout Started`) with the cart as Ecommerce v2 properties. A
//! bought cart (`Purpose::Converted`) is one `track` of `converted_event_name` (default
//! `Order Completed`) with the order id and total. One request per hand-off, so a delivery is
//! all or nothing; each message's `messageId` is the hub's message id with `-identify` or
//! `-track` after it, so a retried delivery is deduplicated by Segment.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Errors never
//! carry the write key; logs carry ids, never the body.

use crate::config::{SegmentChannelSettings, UserId};
use crate::payload::{
    Batch, Library, OutContext, OutMessage, OutProduct, MAX_MESSAGE_BYTES, MAX_MESSAGE_ID_CHARS,
};
use crate::verify::basic_auth;
use cartback_core::{
    Cart, Consent, ContactInfo, DeliveryError, Money, OutboundMessage, Purpose, Receipt, Sink,
    SinkContext,
};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The Segment hand-off sink.
#[derive(Debug)]
pub struct SegmentSink {
    settings: SegmentChannelSettings,
    endpoint: String,
    /// `Basic base64(write_key + ":")`, marked sensitive (its `Debug` is `Sensitive`).
    auth: HeaderValue,
    client: reqwest::Client,
}

/// Who the messages are about: Segment needs a `userId` or an `anonymousId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    User(String),
    Anonymous(String),
}

impl SegmentSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: SegmentChannelSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let mut auth = HeaderValue::try_from(basic_auth(settings.write_key.expose()))
            .map_err(|_| BuildError::Settings("write_key cannot be sent as a header".into()))?;
        auth.set_sensitive(true);
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(SegmentSink {
            endpoint: settings.batch_url(),
            settings,
            auth,
            client,
        })
    }

    /// The batch for `message`; [`DeliveryError::Permanent`] when it can never be sent (a
    /// reminder without a cart, a message over Segment's 32 KB).
    pub fn request_body(&self, message: &OutboundMessage) -> Result<Batch, DeliveryError> {
        let contact = contact(message);
        let who = identity(message, &contact, self.settings.user_id);
        let (user_id, anonymous_id) = match &who {
            Identity::User(u) => (Some(u.clone()), None),
            Identity::Anonymous(a) => (None, Some(a.clone())),
        };
        let context = |traits: Option<Map<String, Value>>| OutContext {
            library: Library::hub(),
            traits,
            locale: non_empty(contact.locale.as_deref()),
            timezone: non_empty(contact.time_zone.as_deref()),
        };
        let cart = message.cart.as_ref();
        let mut props = Map::new();
        let mut batch = Vec::new();
        let (event, timestamp) = match &message.purpose {
            Purpose::Reminder => {
                let cart = cart.ok_or_else(|| permanent("the hand-off carries no cart"))?;
                batch.push(OutMessage {
                    kind: "identify",
                    message_id: message_id(&message.id, "identify"),
                    user_id: user_id.clone(),
                    anonymous_id: anonymous_id.clone(),
                    event: None,
                    traits: Some(traits(message, &contact)),
                    properties: None,
                    timestamp: None,
                    context: context(None),
                });
                props.insert("cart_id".into(), Value::from(cart_id(message, cart)));
                if let Some(url) = non_empty(cart.recovery_url.as_deref()) {
                    props.insert("checkout_url".into(), Value::from(url));
                }
                props.insert("value".into(), Value::from(decimal(cart.total)));
                props.insert("currency".into(), Value::from(cart.total.currency.code()));
                (self.settings.event_name(), None)
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                props.insert("order_id".into(), Value::from(order_id.as_str()));
                if let Some(id) = cart
                    .map(|c| cart_id(message, c))
                    .or_else(|| non_empty(message.metadata.get("cart_id").map(String::as_str)))
                {
                    props.insert("cart_id".into(), Value::from(id));
                }
                if let Some(t) = total.or(cart.map(|c| c.total)) {
                    props.insert("total".into(), Value::from(decimal(t)));
                    props.insert("currency".into(), Value::from(t.currency.code()));
                }
                (
                    self.settings.converted_event_name(),
                    Some(placed_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
                )
            }
        };
        if let Some(cart) = cart {
            props.insert("products".into(), products(cart));
        }
        if let Some(code) = non_empty(message.discount_code.as_deref()) {
            props.insert("discount_code".into(), Value::from(code));
        }
        for key in ["flow_id", "variant"] {
            if let Some(v) = non_empty(message.metadata.get(key).map(String::as_str)) {
                props.insert(key.into(), Value::from(v));
            }
        }
        if let Some(step) = non_empty(message.metadata.get("step").map(String::as_str)) {
            let step = step
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or(Value::from(step));
            props.insert("step".into(), step);
        }
        if message.test {
            props.insert("test".into(), Value::Bool(true));
        }
        batch.push(OutMessage {
            kind: "track",
            message_id: message_id(&message.id, "track"),
            user_id,
            anonymous_id,
            event: Some(event.to_string()),
            traits: None,
            properties: Some(props),
            timestamp,
            context: context(Some(reach(&contact))).with_empty_traits_dropped(),
        });
        for m in &batch {
            let size = serde_json::to_vec(m).map(|b| b.len()).unwrap_or(0);
            if size > MAX_MESSAGE_BYTES {
                return Err(permanent(format!(
                    "the {} message is {size} bytes; Segment takes at most {MAX_MESSAGE_BYTES} \
                     per message",
                    m.kind
                )));
            }
        }
        Ok(Batch { batch })
    }
}

impl OutContext {
    fn with_empty_traits_dropped(mut self) -> Self {
        if self.traits.as_ref().is_some_and(Map::is_empty) {
            self.traits = None;
        }
        self
    }
}

/// `<hub id>-<what>`; a hub id too long for Segment's 100 characters is replaced by its SHA-256
/// (hex), the same on every retry.
pub fn message_id(hub_id: &str, what: &str) -> String {
    let id = format!("{hub_id}-{what}");
    if id.chars().count() < MAX_MESSAGE_ID_CHARS {
        return id;
    }
    format!("{}-{what}", hex::encode(Sha256::digest(hub_id.as_bytes())))
}

/// The contact as the hub knows it, the recipient filling what it lacks.
fn contact(message: &OutboundMessage) -> ContactInfo {
    let mut c = message.contact.clone().unwrap_or_default();
    c.email = c
        .email
        .as_deref()
        .or(message.to.email.as_deref())
        .and_then(cartback_core::contact::clean_email);
    c.phone = non_empty(c.phone.as_deref().or(message.to.phone.as_deref()));
    c
}

/// The `userId` or `anonymousId`, as `user_id` says (see [`UserId`]).
pub fn identity(message: &OutboundMessage, contact: &ContactInfo, user_id: UserId) -> Identity {
    let external = non_empty(contact.external_id.as_deref());
    let seen_anonymous = external
        .as_deref()
        .and_then(|e| e.strip_prefix("anon:"))
        .and_then(|a| non_empty(Some(a)));
    let platform_user = external.filter(|e| !e.starts_with("anon:"));
    let hub = hub_contact_id(message);
    let fallback = || {
        seen_anonymous
            .clone()
            .map(Identity::Anonymous)
            .unwrap_or_else(|| {
                Identity::Anonymous(match (&hub, &message.cart) {
                    (Some(h), _) => format!("cartback:{h}"),
                    (None, Some(c)) => format!("cartback-cart:{}", c.id),
                    (None, None) => format!("cartback-message:{}", message.id),
                })
            })
    };
    match user_id {
        UserId::Platform => platform_user.map(Identity::User).unwrap_or_else(fallback),
        UserId::Hub => hub.clone().map(Identity::User).unwrap_or_else(fallback),
        UserId::None => fallback(),
    }
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

fn cart_id(message: &OutboundMessage, cart: &Cart) -> String {
    non_empty(message.metadata.get("cart_id").map(String::as_str))
        .unwrap_or_else(|| cart.id.clone())
}

/// The `identify` traits: Segment's reserved `email`, `phone`, `firstName`, `lastName`, the
/// consent the hub knows (left out when unknown, so a destination keeps its own), and the hub's
/// contact id.
fn traits(message: &OutboundMessage, c: &ContactInfo) -> Map<String, Value> {
    let mut t = reach(c);
    for (key, value) in [("firstName", &c.first_name), ("lastName", &c.last_name)] {
        if let Some(v) = non_empty(value.as_deref()) {
            t.insert(key.into(), Value::from(v));
        }
    }
    for (key, consent) in [
        ("email_consent", c.email_consent),
        ("sms_consent", c.sms_consent),
    ] {
        if consent != Consent::Unknown {
            t.insert(key.into(), Value::from(consent.as_str()));
        }
    }
    if let Some(id) = hub_contact_id(message) {
        t.insert("cartback_contact_id".into(), Value::from(id));
    }
    t
}

/// `email` and `phone`, when known.
fn reach(c: &ContactInfo) -> Map<String, Value> {
    let mut t = Map::new();
    if let Some(e) = &c.email {
        t.insert("email".into(), Value::from(e.as_str()));
    }
    if let Some(p) = &c.phone {
        t.insert("phone".into(), Value::from(p.as_str()));
    }
    t
}

/// The cart's lines as Ecommerce v2 `products[]`.
fn products(cart: &Cart) -> Value {
    let list: Vec<OutProduct> = cart
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| OutProduct {
            product_id: non_empty(item.product_id.as_deref()),
            sku: non_empty(item.sku.as_deref()),
            name: item.title.clone(),
            variant: non_empty(item.variant_title.as_deref()),
            price: decimal(item.unit_price),
            quantity: item.quantity,
            url: non_empty(item.url.as_deref()),
            image_url: non_empty(item.image_url.as_deref()),
            position: i + 1,
        })
        .collect();
    serde_json::to_value(list).unwrap_or(Value::Array(Vec::new()))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An amount in decimal units (5998 cents → 59.98), the nearest binary number to the exact
/// decimal (so JSON shows `59.98`).
pub fn decimal(m: Money) -> f64 {
    m.to_decimal_string()
        .parse::<f64>()
        .unwrap_or_else(|_| m.minor as f64 / 10f64.powi(m.currency.exponent() as i32))
}

/// Classifies a non-2xx answer: 401 and 403 are a refused write key (permanent, the reason
/// starting `credential refused:`); otherwise the shared table (400 permanent, with what
/// Segment's body says; 429 retryable after `Retry-After`, else after `X-RateLimit-Reset`; 5xx
/// but 501 retryable).
pub fn classify_failure(status: u16, headers: &HeaderMap, body: &str) -> DeliveryError {
    let reason = error_summary(body).unwrap_or_else(|| body.trim().to_string());
    if matches!(status, 401 | 403) {
        return permanent(format!(
            "credential refused: Segment answered HTTP {status} ({}); write_key must be the \
             write key of a server source in this workspace and region",
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

/// What a JSON error body says: its `message`, `error` or `code` (with `field`/`path` when it
/// names one). Segment documents no error body, so any of these is read.
fn error_summary(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let what = text("message").or(text("error")).or(text("code"))?;
    Some(match text("field").or(text("path")) {
        Some(f) => format!("{f}: {what}"),
        None => what.to_string(),
    })
}

/// `X-RateLimit-Reset` (seconds until the limit resets), capped at one day.
fn rate_limit_reset(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get("x-ratelimit-reset")?
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
impl Sink for SegmentSink {
    fn kind(&self) -> &'static str {
        "segment"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let body = serde_json::to_vec(&self.request_body(message)?)
            .map_err(|e| permanent(format!("cannot encode the Segment batch: {e}")))?;
        let response = self
            .client
            .post(&self.endpoint)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response.status().is_success() {
            // Segment gives no id: it answers 200 once it has the batch.
            tracing::debug!(message_id = %message.id, status, "Segment accepted the batch.");
            return Ok(Receipt::default());
        }
        let text = response.text().await.unwrap_or_default();
        let err = classify_failure(status, &headers, &text);
        tracing::warn!(message_id = %message.id, status, "Segment refused the batch.");
        Err(err)
    }
}
