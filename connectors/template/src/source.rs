//! [`TemplateSource`]: routes Acme's topics and translates its bodies into normalized events.
//!
//! - `checkout.updated` → `CheckoutStarted` (the whole cart; keyed by the checkout id).
//! - `order.created` → `OrderPlaced` (converts the checkout it names).
//! - any other topic → acknowledged and ignored (200), so Acme does not retry it.

use crate::config::TemplateSettings;
use crate::payload::{Checkout, Item, OrderCreated};
use crate::verify::{DELIVERY_HEADER, TOPIC_HEADER};
use cartback_core::contact::clean_email;
use cartback_core::{
    CartSnapshot, ContactInfo, Currency, Event, EventKind, InboundRequest, LineItem, Money, Order,
    Source, TranslateError, Translation, Verified, VerifyError,
};
use cartback_kit::wire::{from_json, JsonError};
use chrono::{DateTime, Utc};

#[derive(Debug)]
pub struct TemplateSource {
    settings: TemplateSettings,
}

impl TemplateSource {
    pub fn new(settings: TemplateSettings) -> Self {
        TemplateSource { settings }
    }
}

impl Source for TemplateSource {
    fn kind(&self) -> &'static str {
        "template"
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        crate::verify::verify(&self.settings, request)
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let topic = request
            .header(TOPIC_HEADER)
            .ok_or_else(|| TranslateError::MissingHeader("X-Acme-Topic".into()))?
            .trim()
            .to_string();
        let kind = match topic.as_str() {
            "checkout.updated" => {
                let c: Checkout = read(&request.body, &topic)?;
                let at = time(&c.updated_at, &topic, "updated_at")?;
                (EventKind::CheckoutStarted(self.cart(c, at, &topic)?), at)
            }
            "order.created" => {
                let o: OrderCreated = read(&request.body, &topic)?;
                let at = time(&o.created_at, &topic, "created_at")?;
                (EventKind::OrderPlaced(self.order(o, at, &topic)?), at)
            }
            _ => return Ok(Translation::ignored(topic, "topic not used")),
        };
        let delivery = request.header(DELIVERY_HEADER).map(str::to_string);
        let event_id = match &delivery {
            Some(d) => format!("{topic}:{d}"),
            None => format!("{topic}:{}", kind.1.timestamp_millis()),
        };
        Ok(Translation {
            delivery_ids: delivery.into_iter().collect(),
            topic: topic.clone(),
            events: vec![Event {
                source_id: request.source_id.clone(),
                event_id,
                topic,
                occurred_at: kind.1,
                kind: kind.0,
            }],
            ignored: None,
        })
    }
}

impl TemplateSource {
    fn currency(&self, given: Option<&str>, topic: &str) -> Result<Currency, TranslateError> {
        match given {
            Some(code) => {
                Currency::parse(code).map_err(|_| schema(topic, "currency is not ISO 4217"))
            }
            None => Ok(self.settings.currency()),
        }
    }

    fn cart(
        &self,
        c: Checkout,
        at: DateTime<Utc>,
        topic: &str,
    ) -> Result<CartSnapshot, TranslateError> {
        let currency = self.currency(c.currency.as_deref(), topic)?;
        let money = |a: &str, what: &str| {
            Money::parse_decimal(a, currency).map_err(|e| schema(topic, format!("{what}: {e}")))
        };
        let items = c
            .items
            .iter()
            .map(|i| item(i, money(&i.price.0, "items[].price")?))
            .collect::<Result<Vec<_>, _>>()?;
        let contact = c
            .email
            .as_deref()
            .and_then(clean_email)
            .map(|email| ContactInfo {
                email: Some(email),
                ..Default::default()
            });
        Ok(CartSnapshot {
            key: c.id.0.clone(),
            cart_token: None,
            checkout_token: Some(c.id.0.clone()),
            platform_id: Some(c.id.0),
            contact,
            items,
            currency,
            subtotal: None,
            total: money(&c.total.0, "total")?,
            recovery_url: c.recovery_url,
            updated_at: at,
            completed_at: None,
        })
    }

    fn order(
        &self,
        o: OrderCreated,
        at: DateTime<Utc>,
        topic: &str,
    ) -> Result<Order, TranslateError> {
        let currency = self.currency(o.currency.as_deref(), topic)?;
        Ok(Order {
            order_id: o.id.0,
            name: None,
            checkout_token: o.checkout_id.map(|i| i.0),
            cart_token: None,
            contact: o
                .email
                .as_deref()
                .and_then(clean_email)
                .map(|email| ContactInfo {
                    email: Some(email),
                    ..Default::default()
                }),
            total: Money::parse_decimal(&o.total.0, currency)
                .map_err(|e| schema(topic, format!("total: {e}")))?,
            items: Vec::new(),
            placed_at: at,
            test: false,
        })
    }
}

fn item(i: &Item, unit_price: Money) -> Result<LineItem, TranslateError> {
    Ok(LineItem {
        product_id: i.product_id.as_ref().map(|p| p.0.clone()),
        variant_id: None,
        sku: None,
        title: i.name.clone(),
        variant_title: None,
        quantity: i.quantity,
        unit_price,
        line_price: Money::new(
            unit_price.minor.saturating_mul(i64::from(i.quantity)),
            unit_price.currency,
        ),
        url: i.url.clone(),
        image_url: None,
    })
}

fn read<T: serde::de::DeserializeOwned>(body: &[u8], topic: &str) -> Result<T, TranslateError> {
    from_json(body).map_err(|e| match e {
        JsonError::Syntax(m) => TranslateError::Json(m),
        JsonError::Schema(m) => schema(topic, m),
    })
}

fn time(s: &str, topic: &str, field: &str) -> Result<DateTime<Utc>, TranslateError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| schema(topic, format!("{field} is not an RFC 3339 time")))
}

fn schema(topic: &str, reason: impl Into<String>) -> TranslateError {
    TranslateError::Schema {
        topic: topic.to_string(),
        reason: reason.into(),
    }
}
