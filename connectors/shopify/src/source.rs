//! [`ShopifySource`]: topic routing and translation of Shopify payloads into normalized events.

use crate::config::ShopifySettings;
use crate::payload::{
    Address, Amount, Checkout, Customer, CustomerRedact, LineItem as WireItem, MarketingConsent,
    ShopifyCart, ShopifyOrder,
};
use cartback_core::contact::clean_email;
use cartback_core::{
    normalize_phone, CartSnapshot, Consent, ContactInfo, Currency, Erasure, Event, EventKind,
    InboundRequest, LineItem, Money, Order, Source, TranslateError, Translation, Verified,
    VerifyError,
};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

const TOPIC_HEADERS: [&str; 2] = ["x-shopify-topic", "shopify-topic"];
const WEBHOOK_ID_HEADERS: [&str; 2] = ["x-shopify-webhook-id", "shopify-webhook-id"];
const EVENT_ID_HEADERS: [&str; 2] = ["x-shopify-event-id", "shopify-event-id"];

#[derive(Debug)]
pub struct ShopifySource {
    settings: ShopifySettings,
}

impl ShopifySource {
    pub fn new(settings: ShopifySettings) -> Self {
        ShopifySource { settings }
    }
}

impl Source for ShopifySource {
    fn kind(&self) -> &'static str {
        "shopify"
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        crate::verify::verify(&self.settings, request)
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let req = request.request();
        let topic = req
            .first_header(&TOPIC_HEADERS)
            .map(|t| t.trim().to_ascii_lowercase())
            .ok_or_else(|| TranslateError::MissingHeader("X-Shopify-Topic".into()))?;
        let webhook_id = req
            .first_header(&WEBHOOK_ID_HEADERS)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let event_id = req
            .first_header(&EVENT_ID_HEADERS)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let used = matches!(
            topic.as_str(),
            "checkouts/create"
                | "checkouts/update"
                | "carts/create"
                | "carts/update"
                | "orders/create"
                | "orders/paid"
                | "customers/create"
                | "customers/update"
                | "customers/redact"
                | "shop/redact"
                | "customers/data_request"
        );
        if !used {
            return Ok(Translation::ignored(topic, "topic not used"));
        }
        let stable_id = event_id
            .or(webhook_id)
            .ok_or_else(|| TranslateError::MissingHeader("X-Shopify-Webhook-Id".into()))?;
        let mut delivery_ids = Vec::new();
        if let Some(w) = webhook_id {
            delivery_ids.push(format!("webhook:{w}"));
        }
        if let Some(e) = event_id {
            delivery_ids.push(format!("event:{e}"));
        }
        let triggered_at = req
            .first_header(&crate::verify::TRIGGERED_AT_HEADERS)
            .and_then(|t| parse_time(t).ok());
        let ctx = Ctx {
            settings: &self.settings,
            topic: &topic,
        };
        let event = |kind: EventKind, at: Option<DateTime<Utc>>| Event {
            source_id: req.source_id.clone(),
            event_id: format!("{topic}:{stable_id}"),
            topic: topic.clone(),
            occurred_at: triggered_at.or(at).unwrap_or(req.received_at),
            kind,
        };
        let events = match topic.as_str() {
            "checkouts/create" | "checkouts/update" => {
                let c: Checkout = ctx.parse(&req.body)?;
                let snap = ctx.checkout(&c)?;
                let at = snap.updated_at;
                vec![event(EventKind::CheckoutStarted(snap), Some(at))]
            }
            "carts/create" | "carts/update" => {
                let c: ShopifyCart = ctx.parse(&req.body)?;
                let snap = ctx.cart(&c)?;
                let at = snap.updated_at;
                vec![event(EventKind::CartUpdated(snap), Some(at))]
            }
            "orders/create" | "orders/paid" => {
                let o: ShopifyOrder = ctx.parse(&req.body)?;
                let order = ctx.order(&o)?;
                let at = order.placed_at;
                vec![event(EventKind::OrderPlaced(order), Some(at))]
            }
            "customers/create" | "customers/update" => {
                let c: Customer = ctx.parse(&req.body)?;
                let at = c.updated_at.as_deref().and_then(|t| parse_time(t).ok());
                let info = ctx.contact(
                    Some(&c),
                    c.email.as_deref(),
                    c.phone.as_deref(),
                    None,
                    None,
                    None,
                    c.locale.as_deref(),
                    None,
                    None,
                );
                vec![event(EventKind::ContactUpdated(info), at)]
            }
            "customers/redact" => {
                let r: CustomerRedact = ctx.parse(&req.body)?;
                if r.customer.id.is_none()
                    && r.customer.email.is_none()
                    && r.customer.phone.is_none()
                {
                    return Err(ctx.schema("customer has no id, email or phone"));
                }
                let erasure = Erasure::Contact {
                    email: r.customer.email.as_deref().and_then(clean_email),
                    phone: r.customer.phone.as_deref().and_then(|p| ctx.phone(p, None)),
                    external_id: r.customer.id.map(|i| i.0),
                    order_ids: r.orders_to_redact.into_iter().map(|i| i.0).collect(),
                };
                vec![event(EventKind::Erasure(erasure), None)]
            }
            "shop/redact" => {
                let _: serde_json::Value = ctx.parse(&req.body)?;
                vec![event(EventKind::Erasure(Erasure::Source), None)]
            }
            "customers/data_request" => {
                let _: serde_json::Value = ctx.parse(&req.body)?;
                return Ok(Translation::ignored(topic, "data request acknowledged"));
            }
            _ => return Ok(Translation::ignored(topic, "topic not used")),
        };
        Ok(Translation {
            delivery_ids,
            topic,
            events,
            ignored: None,
        })
    }
}

struct Ctx<'a> {
    settings: &'a ShopifySettings,
    topic: &'a str,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s.trim()).map(|t| t.with_timezone(&Utc))
}

fn consent(state: Option<&MarketingConsent>, accepts: Option<bool>) -> Consent {
    match state.and_then(|s| s.state.as_deref()) {
        Some("subscribed") => Consent::Subscribed,
        Some("not_subscribed") | Some("pending") => Consent::NotSubscribed,
        Some("unsubscribed") | Some("redacted") | Some("invalid") => Consent::Unsubscribed,
        _ => match accepts {
            Some(true) => Consent::Subscribed,
            Some(false) => Consent::NotSubscribed,
            None => Consent::Unknown,
        },
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl Ctx<'_> {
    fn schema(&self, reason: impl Into<String>) -> TranslateError {
        TranslateError::Schema {
            topic: self.topic.to_string(),
            reason: reason.into(),
        }
    }

    fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, TranslateError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| TranslateError::Json(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| self.schema(e.to_string()))
    }

    fn time(&self, field: &str, s: &str) -> Result<DateTime<Utc>, TranslateError> {
        parse_time(s).map_err(|_| self.schema(format!("{field} {s:?} is not an ISO-8601 time")))
    }

    fn currency(
        &self,
        presentment: Option<&str>,
        shop: Option<&str>,
    ) -> Result<Currency, TranslateError> {
        let code = non_empty(presentment)
            .or(non_empty(shop))
            .ok_or_else(|| self.schema("currency is missing"))?;
        Currency::parse(code).map_err(|e| self.schema(e.to_string()))
    }

    fn money(&self, field: &str, a: &Amount, c: Currency) -> Result<Money, TranslateError> {
        Money::parse_decimal(&a.0, c).map_err(|e| self.schema(format!("{field}: {e}")))
    }

    fn phone(&self, raw: &str, country: Option<&str>) -> Option<String> {
        let region = self.settings.default_phone_region.as_deref().or(country);
        normalize_phone(raw, region).ok()
    }

    fn items(&self, items: &[WireItem], c: Currency) -> Result<Vec<LineItem>, TranslateError> {
        items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                if it.title.trim().is_empty() {
                    return Err(self.schema(format!("line_items[{i}].title is empty")));
                }
                let unit = self.money(&format!("line_items[{i}].price"), &it.price, c)?;
                let line = match &it.line_price {
                    Some(lp) => self.money(&format!("line_items[{i}].line_price"), lp, c)?,
                    None => unit.checked_mul(i64::from(it.quantity)).ok_or_else(|| {
                        self.schema(format!("line_items[{i}] total out of range"))
                    })?,
                };
                Ok(LineItem {
                    product_id: it.product_id.as_ref().map(|i| i.0.clone()),
                    variant_id: it.variant_id.as_ref().map(|i| i.0.clone()),
                    sku: non_empty(it.sku.as_deref()).map(str::to_string),
                    title: it.title.clone(),
                    variant_title: non_empty(it.variant_title.as_deref()).map(str::to_string),
                    quantity: it.quantity,
                    unit_price: unit,
                    line_price: line,
                    url: None,
                    image_url: None,
                })
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn contact(
        &self,
        customer: Option<&Customer>,
        email: Option<&str>,
        phone: Option<&str>,
        billing: Option<&Address>,
        shipping: Option<&Address>,
        sms_phone: Option<&str>,
        locale: Option<&str>,
        accepts_email: Option<bool>,
        accepts_sms: Option<bool>,
    ) -> ContactInfo {
        let country = billing
            .and_then(|a| a.country_code.as_deref())
            .or(shipping.and_then(|a| a.country_code.as_deref()))
            .or(customer
                .and_then(|c| c.default_address.as_ref())
                .and_then(|a| a.country_code.as_deref()));
        let raw_phone = non_empty(phone)
            .or(non_empty(sms_phone))
            .or(customer.and_then(|c| non_empty(c.phone.as_deref())))
            .or(billing.and_then(|a| non_empty(a.phone.as_deref())));
        let email = non_empty(email).or(customer.and_then(|c| non_empty(c.email.as_deref())));
        let first = customer
            .and_then(|c| non_empty(c.first_name.as_deref()))
            .or(billing.and_then(|a| non_empty(a.first_name.as_deref())));
        let last = customer
            .and_then(|c| non_empty(c.last_name.as_deref()))
            .or(billing.and_then(|a| non_empty(a.last_name.as_deref())));
        ContactInfo {
            email: email.and_then(clean_email),
            phone: raw_phone.and_then(|p| self.phone(p, country)),
            first_name: first.map(str::to_string),
            last_name: last.map(str::to_string),
            locale: non_empty(locale)
                .or(customer.and_then(|c| non_empty(c.locale.as_deref())))
                .map(str::to_string),
            time_zone: None,
            email_consent: consent(
                customer.and_then(|c| c.email_marketing_consent.as_ref()),
                accepts_email.or(customer.and_then(|c| c.accepts_marketing)),
            ),
            sms_consent: consent(
                customer.and_then(|c| c.sms_marketing_consent.as_ref()),
                accepts_sms,
            ),
            external_id: customer.and_then(|c| c.id.as_ref()).map(|i| i.0.clone()),
        }
    }

    fn checkout(&self, c: &Checkout) -> Result<CartSnapshot, TranslateError> {
        if c.token.trim().is_empty() {
            return Err(self.schema("token is empty"));
        }
        let currency = self.currency(c.presentment_currency.as_deref(), c.currency.as_deref())?;
        let contact = self.contact(
            c.customer.as_ref(),
            c.email.as_deref(),
            c.phone.as_deref(),
            c.billing_address.as_ref(),
            c.shipping_address.as_ref(),
            c.sms_marketing_phone.as_deref(),
            c.customer_locale.as_deref(),
            c.buyer_accepts_marketing,
            c.buyer_accepts_sms_marketing,
        );
        let cart_token = non_empty(c.cart_token.as_deref()).map(str::to_string);
        Ok(CartSnapshot {
            key: cart_token.clone().unwrap_or_else(|| c.token.clone()),
            cart_token,
            checkout_token: Some(c.token.clone()),
            platform_id: c.id.as_ref().map(|i| i.0.clone()),
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            items: self.items(&c.line_items, currency)?,
            currency,
            subtotal: c
                .subtotal_price
                .as_ref()
                .map(|a| self.money("subtotal_price", a, currency))
                .transpose()?,
            total: self.money("total_price", &c.total_price, currency)?,
            recovery_url: non_empty(c.abandoned_checkout_url.as_deref()).map(str::to_string),
            updated_at: self.time("updated_at", &c.updated_at)?,
            completed_at: non_empty(c.completed_at.as_deref())
                .map(|t| self.time("completed_at", t))
                .transpose()?,
        })
    }

    fn cart(&self, c: &ShopifyCart) -> Result<CartSnapshot, TranslateError> {
        let token = non_empty(c.token.as_deref())
            .map(str::to_string)
            .or(c.id.as_ref().map(|i| i.0.clone()))
            .ok_or_else(|| self.schema("cart has no token or id"))?;
        let currency = self.currency(c.currency.as_deref(), None)?;
        let items = self.items(&c.line_items, currency)?;
        let mut total = Money::zero(currency);
        for i in &items {
            total = total
                .checked_add(&i.line_price)
                .ok_or_else(|| self.schema("cart total out of range"))?;
        }
        Ok(CartSnapshot {
            key: token.clone(),
            cart_token: Some(token),
            checkout_token: None,
            platform_id: c.id.as_ref().map(|i| i.0.clone()),
            contact: None,
            items,
            currency,
            subtotal: Some(total),
            total,
            recovery_url: None,
            updated_at: self.time("updated_at", &c.updated_at)?,
            completed_at: None,
        })
    }

    fn order(&self, o: &ShopifyOrder) -> Result<Order, TranslateError> {
        let currency = self.currency(o.presentment_currency.as_deref(), o.currency.as_deref())?;
        let placed = non_empty(o.processed_at.as_deref())
            .or(non_empty(o.created_at.as_deref()))
            .ok_or_else(|| self.schema("order has neither processed_at nor created_at"))?;
        let contact = self.contact(
            o.customer.as_ref(),
            o.email.as_deref(),
            o.phone.as_deref(),
            o.billing_address.as_ref(),
            o.shipping_address.as_ref(),
            None,
            o.customer_locale.as_deref(),
            o.buyer_accepts_marketing,
            None,
        );
        Ok(Order {
            order_id: o.id.0.clone(),
            name: o.name.clone(),
            checkout_token: non_empty(o.checkout_token.as_deref()).map(str::to_string),
            cart_token: non_empty(o.cart_token.as_deref()).map(str::to_string),
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            total: self.money("total_price", &o.total_price, currency)?,
            items: self.items(&o.line_items, currency)?,
            placed_at: self.time("processed_at", placed)?,
            test: o.test,
        })
    }
}
