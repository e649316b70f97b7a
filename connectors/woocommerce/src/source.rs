//! [`WooSource`]: topic routing and translation of WooCommerce payloads into normalized events.
//!
//! - `order.created` / `order.updated`: by the order's `status`:
//!   `pending`, `checkout-draft`, `failed`, `on-hold` → [`EventKind::CheckoutStarted`] keyed
//!   `order:<id>`; `processing`, `completed` → [`EventKind::OrderPlaced`] (its `checkout_token` is
//!   the `order_key`, so it converts the same cart); any other status is ignored.
//! - `action.woocommerce_cart_abandoned` / `cart_abandoned`: a companion plugin's cart (shape in
//!   `tests/fixtures/README.md`) → [`EventKind::CheckoutStarted`] keyed `cart:<cart_id>`.
//! - Every other topic is answered as ignored.
//!
//! WooCommerce's `X-WC-Webhook-Delivery-ID` is a hash of the webhook id and the send time, not an
//! event id; an order event is identified by `order:<id>:<date_modified_gmt>` instead (the same
//! id the poller gives it), used both as the event id and the delivery id.

use crate::config::WooSettings;
use crate::payload::{AbandonedCart, Amount, Billing, CartLine, OrderLine, WooOrder};
use crate::verify::{header, TOPIC_HEADER};
use cartback_core::contact::clean_email;
use cartback_core::{
    CartSnapshot, ContactInfo, Currency, Event, EventKind, Handshake, InboundRequest, LineItem,
    Money, Order, Source, TranslateError, Translation, Verified, VerifyError,
};
use chrono::{DateTime, NaiveDateTime, Utc};

/// The WooCommerce source: answers the creation ping, verifies deliveries and translates orders
/// and abandoned carts.
#[derive(Debug)]
pub struct WooSource {
    settings: WooSettings,
}

impl WooSource {
    pub fn new(settings: WooSettings) -> Self {
        WooSource { settings }
    }
}

/// What an order's `status` means to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStage {
    /// Not paid yet: an open checkout that may be abandoned.
    Checkout,
    /// Paid: a purchase that converts the cart.
    Placed,
    /// Cancelled, refunded, trashed or unknown: not used.
    Ignored,
}

impl OrderStage {
    /// Classifies a status (`pending`, `wc-pending`, ...).
    pub fn of(status: &str) -> OrderStage {
        let s = status.trim().to_ascii_lowercase();
        match s.strip_prefix("wc-").unwrap_or(&s) {
            "pending" | "checkout-draft" | "failed" | "on-hold" => OrderStage::Checkout,
            "processing" | "completed" => OrderStage::Placed,
            _ => OrderStage::Ignored,
        }
    }
}

/// Topics the hub reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topic {
    Order,
    CartAbandoned,
}

impl Topic {
    fn route(topic: &str) -> Option<Topic> {
        match topic {
            "order.created" | "order.updated" => Some(Topic::Order),
            "action.woocommerce_cart_abandoned" | "cart_abandoned" => Some(Topic::CartAbandoned),
            _ => None,
        }
    }
}

/// The event (and delivery) id of an order state: `order:<id>:<date_modified_gmt>`.
pub fn order_event_id(order_id: &str, modified: DateTime<Utc>) -> String {
    format!("order:{order_id}:{}", format_gmt(modified))
}

/// A time as WooCommerce writes its `*_gmt` fields: `YYYY-MM-DDTHH:MM:SS` (UTC, no offset).
pub fn format_gmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Parses a `*_gmt` field (`2026-11-20T15:04:05`, no offset: UTC), or any ISO-8601 time with an
/// offset.
pub fn parse_gmt(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

/// What one order translates into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OrderOutcome {
    Event(Box<Event>),
    /// The status is not one the hub uses; the event id it would have had, and why.
    Ignored {
        event_id: String,
        reason: String,
    },
}

impl Source for WooSource {
    fn scheme(&self, _url: &str) -> String {
        "X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body keyed with the source's `secret` \
         (the webhook's secret in WooCommerce)"
            .into()
    }

    fn kind(&self) -> &'static str {
        "woocommerce"
    }

    fn handshake(&self, request: &InboundRequest) -> Option<Handshake> {
        crate::verify::handshake(request)
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        crate::verify::verify(&self.settings, request)
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let req = request.request();
        let topic = header(req, TOPIC_HEADER)
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| TranslateError::MissingHeader("X-WC-Webhook-Topic".into()))?;
        let Some(route) = Topic::route(&topic) else {
            return Ok(Translation::ignored(topic, "topic not used"));
        };
        let ctx = Ctx {
            settings: &self.settings,
            topic: &topic,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&req.body).map_err(|e| TranslateError::Json(e.to_string()))?;
        let event = match route {
            Topic::Order => {
                let order: WooOrder =
                    serde_json::from_value(value).map_err(|e| ctx.schema(e.to_string()))?;
                match ctx.order(&req.source_id, &order)? {
                    OrderOutcome::Event(e) => *e,
                    OrderOutcome::Ignored { event_id, reason } => {
                        return Ok(Translation {
                            delivery_ids: vec![event_id],
                            ..Translation::ignored(topic, reason)
                        })
                    }
                }
            }
            Topic::CartAbandoned => {
                let cart: AbandonedCart = serde_json::from_value(unwrap_action(value))
                    .map_err(|e| ctx.schema(e.to_string()))?;
                ctx.abandoned(&req.source_id, &cart)?
            }
        };
        Ok(Translation {
            delivery_ids: vec![event.event_id.clone()],
            topic,
            events: vec![event],
            ignored: None,
        })
    }
}

/// WooCommerce's custom `action.<hook>` topics deliver `{"action": "<hook>", "arg": <first
/// argument>}`; the cart is then in `arg`. A body that is the cart itself is used as is.
fn unwrap_action(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(mut o)
            if !o.contains_key("cart_id") && o.get("arg").is_some_and(|a| a.is_object()) =>
        {
            o.remove("arg").unwrap_or_default()
        }
        other => other,
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

pub use cartback_core::money::round_decimal;

/// Translation helpers bound to one topic (for error messages) and the source's settings.
pub(crate) struct Ctx<'a> {
    pub(crate) settings: &'a WooSettings,
    pub(crate) topic: &'a str,
}

impl Ctx<'_> {
    fn schema(&self, reason: impl Into<String>) -> TranslateError {
        TranslateError::Schema {
            topic: self.topic.to_string(),
            reason: reason.into(),
        }
    }

    fn time(&self, field: &str, s: &str) -> Result<DateTime<Utc>, TranslateError> {
        parse_gmt(s).ok_or_else(|| self.schema(format!("{field} is not an ISO-8601 time")))
    }

    fn currency(&self, code: &str) -> Result<Currency, TranslateError> {
        Currency::parse(code).map_err(|e| self.schema(format!("currency: {e}")))
    }

    fn money(&self, field: &str, a: &Amount, c: Currency) -> Result<Money, TranslateError> {
        Money::parse_decimal(&round_decimal(&a.0, c.exponent()), c)
            .map_err(|e| self.schema(format!("{field}: {e}")))
    }

    fn phone(&self, raw: Option<&str>, country: Option<&str>) -> Option<String> {
        let region = non_empty(self.settings.default_phone_region.as_deref()).or(country);
        cartback_kit::wire::phone(non_empty(raw)?, region, "woocommerce")
    }

    fn sum(&self, items: &[LineItem], currency: Currency) -> Result<Money, TranslateError> {
        items.iter().try_fold(Money::zero(currency), |acc, i| {
            acc.checked_add(&i.line_price)
                .ok_or_else(|| self.schema("total is out of range"))
        })
    }

    fn contact(&self, billing: Option<&Billing>, customer_id: Option<&str>) -> Option<ContactInfo> {
        let b = billing.cloned().unwrap_or_default();
        let info = ContactInfo {
            email: non_empty(b.email.as_deref()).and_then(clean_email),
            phone: self.phone(b.phone.as_deref(), non_empty(b.country.as_deref())),
            first_name: b.first_name,
            last_name: b.last_name,
            external_id: customer_id.map(str::to_string),
            ..ContactInfo::default()
        };
        Some(info).filter(|c| c.is_identified() || c.external_id.is_some())
    }

    fn order_line(&self, i: usize, l: &OrderLine, c: Currency) -> Result<LineItem, TranslateError> {
        let field = |name: &str| format!("line_items[{i}].{name}");
        let name = l.name.trim();
        if name.is_empty() {
            return Err(self.schema(format!("line_items[{i}].name is empty")));
        }
        let line = self.money(&field("total"), &l.total, c)?;
        let unit = match &l.price {
            Some(p) => self.money(&field("price"), p, c)?,
            None => {
                // No unit price: the pre-discount line subtotal (else the total) over the quantity.
                let base = match &l.subtotal {
                    Some(s) => self.money(&field("subtotal"), s, c)?,
                    None => line,
                };
                // Rounded in i128: `minor + q / 2` overflows i64 for an amount near its bound.
                let q = i128::from(l.quantity.max(1));
                let minor = (i128::from(base.minor) + q / 2) / q;
                let minor = i64::try_from(minor)
                    .map_err(|_| self.schema(format!("{} is out of range", field("price"))))?;
                Money::new(minor, c)
            }
        };
        Ok(LineItem {
            product_id: l.product_id.as_ref().map(|i| i.0.clone()),
            variant_id: l.variation_id.as_ref().map(|i| i.0.clone()),
            sku: l.sku.clone(),
            title: name.to_string(),
            variant_title: None,
            quantity: l.quantity,
            unit_price: unit,
            line_price: line,
            url: None,
            image_url: l.image.clone(),
        })
    }

    fn recovery_url(&self, o: &WooOrder) -> Option<String> {
        let key = non_empty(o.order_key.as_deref());
        match (self.settings.base_url(), key) {
            (Some(base), Some(key)) => {
                let key: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
                Some(format!(
                    "{base}/checkout/order-pay/{}/?pay_for_order=true&key={key}",
                    o.id.0
                ))
            }
            _ => o.payment_url.clone(),
        }
    }

    /// Translates one order (webhook body or REST list entry) into its event, or says why not.
    pub(crate) fn order(
        &self,
        source_id: &str,
        o: &WooOrder,
    ) -> Result<OrderOutcome, TranslateError> {
        let modified_raw = non_empty(o.date_modified_gmt.as_deref())
            .or(non_empty(o.date_created_gmt.as_deref()))
            .ok_or_else(|| {
                self.schema("order has neither date_modified_gmt nor date_created_gmt")
            })?;
        let modified = self.time("date_modified_gmt", modified_raw)?;
        let event_id = order_event_id(&o.id.0, modified);
        let stage = OrderStage::of(&o.status);
        if stage == OrderStage::Ignored {
            return Ok(OrderOutcome::Ignored {
                event_id,
                reason: format!("order status {:?} not used", o.status.trim()),
            });
        }
        let currency = self.currency(&o.currency)?;
        let items = o
            .line_items
            .iter()
            .enumerate()
            .map(|(i, l)| self.order_line(i, l, currency))
            .collect::<Result<Vec<_>, _>>()?;
        let total = self.money("total", &o.total, currency)?;
        let contact = self.contact(
            o.billing.as_ref(),
            o.customer_id.as_ref().map(|i| i.0.as_str()),
        );
        let order_key = non_empty(o.order_key.as_deref()).map(str::to_string);
        let kind = match stage {
            OrderStage::Placed => {
                let placed_at = match non_empty(o.date_paid_gmt.as_deref())
                    .or(non_empty(o.date_created_gmt.as_deref()))
                {
                    Some(t) => self.time("date_paid_gmt", t)?,
                    None => modified,
                };
                EventKind::OrderPlaced(Order {
                    order_id: o.id.0.clone(),
                    name: o.number.clone(),
                    checkout_token: order_key,
                    cart_token: None,
                    contact,
                    total,
                    items,
                    placed_at,
                    test: false,
                })
            }
            _ => EventKind::CheckoutStarted(CartSnapshot {
                key: format!("order:{}", o.id.0),
                cart_token: None,
                checkout_token: order_key,
                platform_id: Some(o.id.0.clone()),
                contact,
                subtotal: Some(self.sum(&items, currency)?).filter(|_| !items.is_empty()),
                items,
                currency,
                total,
                recovery_url: self.recovery_url(o),
                updated_at: modified,
                completed_at: None,
            }),
        };
        Ok(OrderOutcome::Event(Box::new(Event {
            source_id: source_id.to_string(),
            event_id,
            topic: self.topic.to_string(),
            occurred_at: modified,
            kind,
        })))
    }

    fn cart_line(&self, i: usize, l: &CartLine, c: Currency) -> Result<LineItem, TranslateError> {
        let name = l.name.trim();
        if name.is_empty() {
            return Err(self.schema(format!("items[{i}].name is empty")));
        }
        let unit = self.money(&format!("items[{i}].price"), &l.price, c)?;
        let line = unit
            .checked_mul(i64::from(l.quantity))
            .ok_or_else(|| self.schema(format!("items[{i}] total is out of range")))?;
        Ok(LineItem {
            product_id: l.product_id.as_ref().map(|i| i.0.clone()),
            variant_id: l.variation_id.as_ref().map(|i| i.0.clone()),
            sku: l.sku.clone(),
            title: name.to_string(),
            variant_title: None,
            quantity: l.quantity,
            unit_price: unit,
            line_price: line,
            url: l.url.clone(),
            image_url: l.image_url.clone(),
        })
    }

    /// Translates a companion plugin's abandoned cart.
    fn abandoned(&self, source_id: &str, c: &AbandonedCart) -> Result<Event, TranslateError> {
        let updated_at = self.time("updated_at", &c.updated_at)?;
        let currency = self.currency(&c.currency)?;
        let items = c
            .items
            .iter()
            .enumerate()
            .map(|(i, l)| self.cart_line(i, l, currency))
            .collect::<Result<Vec<_>, _>>()?;
        let subtotal = self.sum(&items, currency)?;
        let total = match &c.total {
            Some(t) => self.money("total", t, currency)?,
            None => subtotal,
        };
        let billing = Billing {
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            country: c.country.clone(),
        };
        let contact = self.contact(Some(&billing), c.customer_id.as_ref().map(|i| i.0.as_str()));
        let id = &c.cart_id.0;
        Ok(Event {
            source_id: source_id.to_string(),
            event_id: format!("cart:{id}:{}", format_gmt(updated_at)),
            topic: self.topic.to_string(),
            occurred_at: updated_at,
            kind: EventKind::CheckoutStarted(CartSnapshot {
                key: format!("cart:{id}"),
                cart_token: Some(id.clone()),
                checkout_token: None,
                platform_id: Some(id.clone()),
                contact,
                items,
                currency,
                subtotal: Some(subtotal),
                total,
                recovery_url: c.recovery_url.clone(),
                updated_at,
                completed_at: None,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_times() {
        assert_eq!(OrderStage::of("wc-pending"), OrderStage::Checkout);
        assert_eq!(OrderStage::of("checkout-draft"), OrderStage::Checkout);
        assert_eq!(OrderStage::of("completed"), OrderStage::Placed);
        assert_eq!(OrderStage::of("refunded"), OrderStage::Ignored);
        let t = parse_gmt("2026-11-20T15:04:05").unwrap_or_default();
        assert_eq!(format_gmt(t), "2026-11-20T15:04:05");
        let z = parse_gmt("2026-11-20T16:04:05+01:00").unwrap_or_default();
        assert_eq!(z, t);
        assert_eq!(parse_gmt("2026-11-20 15:04:05"), Some(t));
        assert_eq!(parse_gmt("yesterday"), None);
    }
}
