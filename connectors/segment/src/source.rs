//! [`SegmentSource`]: batch unpacking, Ecommerce v2 routing and translation of Segment messages
//! into normalized events.
//!
//! What becomes what (the fixtures README has the full rules):
//! - `Cart Viewed` (`Viewed Cart`) → `CartUpdated`, built from `products[]` (the whole cart).
//! - `Product Added` / `Product Removed` (`Added Product` / `Removed Product`) → `CartChanged`
//!   for the one product they name (`shopping.rs`), or `CartUpdated` when they carry the whole
//!   cart in `properties.products`.
//! - `Checkout Started` (`Started Checkout`) → `CheckoutStarted`.
//! - `Order Completed` (`Completed Order`) → `OrderPlaced`.
//! - `identify` with an email, phone or name → `ContactUpdated` (twice when it carries both an
//!   `anonymousId` and a `userId`, so the anonymous contact gains the email).
//! - A message the hub sent itself (`context.library.name = "cartback"`, the Segment hand-off
//!   channel's mark) is skipped: it comes back when a Webhooks destination on the same Segment
//!   source points at the hub, and read as a cart it would be handed off again, without end.
//! - Any other `track` → `Tracked` (for `event:<name>` flows).
//! - Every other message is skipped; a request where all are skipped is answered as ignored.

use crate::config::SegmentSettings;
use crate::payload::{Amount, Message, Product, Properties, Traits};
use crate::verify::{Credential, Mode};

mod shopping;
use cartback_core::contact::clean_email;
use cartback_core::{
    normalize_phone, CartSnapshot, ContactInfo, Currency, Event, EventKind, InboundRequest,
    LineItem, LineOp, Money, MoneyError, Order, Source, TranslateError, Translation, Trust,
    Verified, VerifyError,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// The Segment source: the Segment-compatible API and the Segment Webhooks destination.
#[derive(Debug)]
pub struct SegmentSource {
    settings: SegmentSettings,
    currency: Currency,
}

impl SegmentSource {
    pub fn new(settings: SegmentSettings) -> Self {
        let currency = settings.currency();
        SegmentSource { settings, currency }
    }
}

/// The track events the hub reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Track {
    CartViewed,
    ProductAdded,
    ProductRemoved,
    CheckoutStarted,
    OrderCompleted,
}

impl Track {
    /// Ecommerce v2 names and their v1 aliases, case-insensitively.
    fn route(event: &str) -> Option<Track> {
        Some(match event.trim().to_ascii_lowercase().as_str() {
            "cart viewed" | "viewed cart" => Track::CartViewed,
            "product added" | "added product" => Track::ProductAdded,
            "product removed" | "removed product" => Track::ProductRemoved,
            "checkout started" | "started checkout" => Track::CheckoutStarted,
            "order completed" | "completed order" => Track::OrderCompleted,
            _ => return None,
        })
    }
}

impl Source for SegmentSource {
    fn scheme(&self, url: &str) -> String {
        let path = url.split('?').next().unwrap_or_default();
        let mounted = ["/v1/batch", "/v1/track", "/v1/identify", "/v1/page"]
            .iter()
            .any(|p| path.ends_with(p));
        if mounted {
            format!(
                "Authorization: Basic base64(<write key>:) or a body `writeKey`, with a key of the source's \
                 `write_keys` or `server_write_keys` (at {url})"
            )
        } else {
            "X-Signature: hex HMAC-SHA1 of the raw body keyed with the source's `shared_secret`, \
             or Authorization: Basic base64(<write key>:) with a key of `write_keys` or `server_write_keys`"
                .into()
        }
    }

    fn kind(&self) -> &'static str {
        "segment"
    }

    fn mounts(&self) -> Vec<String> {
        crate::verify::API_PATHS
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        crate::verify::verify(&self.settings, request)
    }

    /// A browser write key is public: what it says about a shopper is a claim.
    fn trust(&self, request: Verified<'_>) -> Trust {
        crate::verify::credential(&self.settings, request.request())
            .map_or(Trust::Claimed, |c| c.trust())
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let req = request.request();
        let mode = crate::verify::mode(req);
        let body: Value =
            serde_json::from_slice(&req.body).map_err(|e| TranslateError::Json(e.to_string()))?;
        // The type a bare `/v1/track` (etc.) body implies when it has no `type`.
        let implied = match mode {
            Mode::Api(path) => path.strip_prefix("/v1/").filter(|t| *t != "batch"),
            Mode::Webhook => None,
        };
        let (items, envelope_sent_at, batched) = match body {
            Value::Array(items) => (items, None, true),
            Value::Object(mut obj) => match obj.remove("batch") {
                Some(Value::Array(items)) => {
                    let sent = obj.get("sentAt").and_then(cartback_kit::wire::text);
                    (items, sent, true)
                }
                Some(_) => {
                    return Err(schema("batch", "batch is not an array"));
                }
                None => (vec![Value::Object(obj)], None, false),
            },
            _ => {
                return Err(schema(
                    "segment",
                    "body is not a message object, a {\"batch\": [...]} or an array",
                ))
            }
        };
        // The classic Webhooks destination signs only a batch's first element: nothing after it
        // is authenticated, so nothing after it is acted on.
        let signed = crate::verify::credential(&self.settings, req)
            .map_err(|e| TranslateError::Invalid(format!("not verified: {e}")))?;
        let items: Vec<Value> = if signed == Credential::SignedFirstElement {
            items.into_iter().take(1).collect()
        } else {
            items
        };
        let mut events = Vec::new();
        let mut topics = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let at = if batched {
                format!("batch[{i}]")
            } else {
                "message".to_string()
            };
            if !item.is_object() {
                return Err(schema("batch", format!("{at} is not an object")));
            }
            // The properties as sent: a tracked event's, for templates and conditions.
            let raw = item.get("properties").cloned().unwrap_or(Value::Null);
            let msg: Message =
                serde_json::from_value(item).map_err(|e| schema("batch", format!("{at}: {e}")))?;
            let ctx = Ctx {
                source: self,
                req,
                msg: &msg,
                raw: &raw,
                at: &at,
                envelope_sent_at: envelope_sent_at.as_deref(),
            };
            let kind = msg
                .kind
                .as_deref()
                .map(str::to_ascii_lowercase)
                .or(implied.map(str::to_string));
            let produced = match kind.as_deref() {
                _ if from_hub(&msg) => Vec::new(),
                Some("track") => ctx.track()?,
                Some("identify") => ctx.identify()?,
                _ => Vec::new(),
            };
            if let Some(e) = produced.first() {
                topics.push(e.topic.clone());
            }
            events.extend(produced);
        }
        let topic = if batched {
            "batch".to_string()
        } else {
            topics.first().cloned().unwrap_or_else(|| "message".into())
        };
        if events.is_empty() {
            return Ok(Translation::ignored(
                topic,
                "no cart, product, checkout, order, identify or track message the hub uses",
            ));
        }
        Ok(Translation {
            delivery_ids: Vec::new(),
            topic,
            events,
            ignored: None,
        })
    }
}

/// Whether the hub's own Segment channel sent `msg` (`context.library.name`).
fn from_hub(msg: &Message) -> bool {
    msg.context
        .as_ref()
        .and_then(|c| c.library.as_ref())
        .and_then(|l| l.name.as_deref())
        .is_some_and(|n| n.trim() == crate::payload::HUB_LIBRARY)
}

fn schema(topic: &str, reason: impl Into<String>) -> TranslateError {
    TranslateError::Schema {
        topic: topic.to_string(),
        reason: reason.into(),
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// RFC 3339 (`2026-11-20T10:05:42.123Z`), or a zone-less ISO-8601 time read as UTC.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// Reads an amount exactly. JavaScript float artefacts (`59.970000000000006`) carry more
/// decimals than the currency has: those are rounded half away from zero on the decimal text,
/// never through `f64`.
fn money(amount: &Amount, currency: Currency) -> Result<Money, MoneyError> {
    let text = match amount {
        Amount::Number(n) => {
            return match Money::from_json_number(n, currency) {
                Err(MoneyError::TooPrecise { .. }) => {
                    Money::parse_decimal_rounded(&n.to_string(), currency)
                }
                other => other,
            }
        }
        Amount::Text(t) => t.as_str(),
    };
    match Money::parse_decimal(text, currency) {
        Err(MoneyError::TooPrecise { .. }) => Money::parse_decimal_rounded(text, currency),
        other => other,
    }
}

/// Translation of one message.
struct Ctx<'a> {
    source: &'a SegmentSource,
    req: &'a InboundRequest,
    msg: &'a Message,
    /// The message's `properties` as sent (`Null` when absent).
    raw: &'a Value,
    /// `batch[3]` or `message`, for error reasons.
    at: &'a str,
    envelope_sent_at: Option<&'a str>,
}

impl Ctx<'_> {
    fn schema(&self, topic: &str, reason: impl std::fmt::Display) -> TranslateError {
        schema(topic, format!("{}: {reason}", self.at))
    }

    fn message_id(&self, topic: &str) -> Result<String, TranslateError> {
        non_empty(self.msg.message_id.as_deref())
            .map(str::to_string)
            .ok_or_else(|| self.schema(topic, "messageId is missing"))
    }

    /// `timestamp`, else `receivedAt`, else `sentAt` (the message's, then the batch's), else
    /// when the hub received the request.
    fn occurred_at(&self) -> DateTime<Utc> {
        let m = self.msg;
        [
            m.timestamp.as_deref(),
            m.received_at.as_deref(),
            m.sent_at.as_deref(),
            self.envelope_sent_at,
        ]
        .into_iter()
        .flatten()
        .find_map(parse_time)
        .unwrap_or(self.req.received_at)
    }

    fn event(&self, event_id: String, topic: &str, kind: EventKind) -> Event {
        Event {
            source_id: self.req.source_id.clone(),
            event_id,
            topic: topic.to_string(),
            occurred_at: self.occurred_at(),
            kind,
        }
    }

    /// `userId`, else `anon:<anonymousId>`.
    fn external_id(&self) -> Option<String> {
        non_empty(self.msg.user_id.as_deref())
            .map(str::to_string)
            .or_else(|| self.anon_id())
    }

    fn anon_id(&self) -> Option<String> {
        non_empty(self.msg.anonymous_id.as_deref()).map(|a| format!("anon:{a}"))
    }

    fn context_traits(&self) -> Option<&Traits> {
        self.msg.context.as_ref().and_then(|c| c.traits.as_ref())
    }

    /// A contact from `traits` (first) and `context.traits`, plus context locale and time zone.
    fn contact(&self, primary: Option<&Traits>, extra_email: Option<&str>) -> ContactInfo {
        let ctx = self.context_traits();
        let pick = |f: fn(&Traits) -> Option<&str>| {
            primary
                .and_then(|t| non_empty(f(t)))
                .or(ctx.and_then(|t| non_empty(f(t))))
        };
        let context = self.msg.context.as_ref();
        ContactInfo {
            email: pick(|t| t.email.as_deref())
                .or(non_empty(extra_email))
                .and_then(clean_email),
            phone: pick(|t| t.phone.as_deref()).and_then(|p| normalize_phone(p, None).ok()),
            first_name: pick(|t| t.first_name.as_deref()).map(str::to_string),
            last_name: pick(|t| t.last_name.as_deref()).map(str::to_string),
            locale: context
                .and_then(|c| non_empty(c.locale.as_deref()))
                .map(str::to_string),
            time_zone: context
                .and_then(|c| non_empty(c.timezone.as_deref()))
                .map(str::to_string),
            external_id: self.external_id(),
            ..ContactInfo::default()
        }
    }

    fn identify(&self) -> Result<Vec<Event>, TranslateError> {
        let topic = "identify";
        let contact = self.contact(self.msg.traits.as_ref(), None);
        let has_details = contact.email.is_some()
            || contact.phone.is_some()
            || contact.first_name.is_some()
            || contact.last_name.is_some();
        if !has_details || contact.external_id.is_none() && !contact.is_identified() {
            return Ok(Vec::new());
        }
        let id = self.message_id(topic)?;
        let user = non_empty(self.msg.user_id.as_deref());
        match (self.anon_id(), user) {
            (Some(anon), Some(user)) => {
                // The anonymous contact (carts viewed before login) gains the details first,
                // then the known user.
                let anon_contact = ContactInfo {
                    external_id: Some(anon),
                    ..contact.clone()
                };
                let user_contact = ContactInfo {
                    external_id: Some(user.to_string()),
                    ..contact
                };
                Ok(vec![
                    self.event(id.clone(), topic, EventKind::ContactUpdated(anon_contact)),
                    self.event(
                        format!("{id}:user"),
                        topic,
                        EventKind::ContactUpdated(user_contact),
                    ),
                ])
            }
            _ => Ok(vec![self.event(
                id,
                topic,
                EventKind::ContactUpdated(contact),
            )]),
        }
    }

    fn track(&self) -> Result<Vec<Event>, TranslateError> {
        let Some(name) = non_empty(self.msg.event.as_deref()) else {
            return Ok(Vec::new());
        };
        let Some(route) = Track::route(name) else {
            // Any other named event: for `event:<name>` flows (the engine keeps only those).
            return Ok(vec![self.event(
                self.message_id(name)?,
                name,
                EventKind::Tracked(self.tracked(name)),
            )]);
        };
        let empty = Properties::default();
        let props = self.msg.properties.as_ref().unwrap_or(&empty);
        let kind = match route {
            // One product added or removed: a change to the cart (`shopping.rs`).
            Track::ProductAdded | Track::ProductRemoved if props.products.is_none() => {
                let op = if route == Track::ProductAdded {
                    LineOp::Add
                } else {
                    LineOp::Remove
                };
                EventKind::CartChanged(self.change(name, props, op)?)
            }
            Track::CartViewed | Track::ProductAdded | Track::ProductRemoved => {
                if props.products.is_none() {
                    return Ok(Vec::new());
                }
                EventKind::CartUpdated(self.snapshot(name, props, false)?)
            }
            Track::CheckoutStarted => EventKind::CheckoutStarted(self.snapshot(name, props, true)?),
            Track::OrderCompleted => EventKind::OrderPlaced(self.order(name, props)?),
        };
        Ok(vec![self.event(self.message_id(name)?, name, kind)])
    }

    fn currency(&self, topic: &str, props: &Properties) -> Result<Currency, TranslateError> {
        match non_empty(props.currency.as_deref()) {
            Some(code) => Currency::parse(code).map_err(|e| self.schema(topic, e)),
            None => Ok(self.source.currency),
        }
    }

    fn amount(
        &self,
        topic: &str,
        field: &str,
        amount: &Amount,
        currency: Currency,
    ) -> Result<Money, TranslateError> {
        money(amount, currency).map_err(|e| self.schema(topic, format!("{field}: {e}")))
    }

    fn items(
        &self,
        topic: &str,
        props: &Properties,
        currency: Currency,
    ) -> Result<Vec<LineItem>, TranslateError> {
        let mut items = Vec::new();
        for (i, raw) in props.products.iter().flatten().enumerate() {
            let at = format!("properties.products[{i}]");
            let p: Product = match raw {
                Value::Object(_) => serde_json::from_value(raw.clone())
                    .map_err(|e| self.schema(topic, format!("{at}.: {e}"))),
                _ => Err(self.schema(topic, format!("{at} is not an object"))),
            }?;
            if let Some(line) = self.line(topic, &at, &p, currency, 1)? {
                items.push(line);
            }
        }
        Ok(items)
    }

    /// One product as a cart line (`at`: its path, for reasons); `None` for a quantity of 0.
    /// Without a quantity, `default_quantity`.
    fn line(
        &self,
        topic: &str,
        at: &str,
        p: &Product,
        currency: Currency,
        default_quantity: u32,
    ) -> Result<Option<LineItem>, TranslateError> {
        let field = |f: &str| format!("{at}.{f}");
        let quantity = match &p.quantity {
            None => default_quantity,
            Some(q) => quantity(q).ok_or_else(|| {
                self.schema(topic, format!("{} is not a count", field("quantity")))
            })?,
        };
        if quantity == 0 && default_quantity > 0 {
            return Ok(None);
        }
        let unit = match &p.price {
            Some(a) => self.amount(topic, &field("price"), a, currency)?,
            None => Money::zero(currency),
        };
        let line = unit
            .checked_mul(i64::from(quantity))
            .ok_or_else(|| self.schema(topic, format!("{} is out of range", field("price"))))?;
        let title = non_empty(p.name.as_deref())
            .or(non_empty(p.sku.as_deref()))
            .or(non_empty(p.product_id.as_deref()))
            .unwrap_or("Product");
        Ok(Some(LineItem {
            product_id: p.product_id.clone(),
            variant_id: None,
            sku: p.sku.clone(),
            title: title.to_string(),
            variant_title: p.variant.clone(),
            quantity,
            unit_price: unit,
            line_price: line,
            url: p.url.clone(),
            image_url: p.image_url.clone(),
        }))
    }

    fn sum(
        &self,
        topic: &str,
        items: &[LineItem],
        currency: Currency,
    ) -> Result<Money, TranslateError> {
        let mut total = Money::zero(currency);
        for i in items {
            total = total
                .checked_add(&i.line_price)
                .ok_or_else(|| self.schema(topic, "cart total is out of range"))?;
        }
        Ok(total)
    }

    /// The first of `fields` present, read in `currency`.
    fn first_amount(
        &self,
        topic: &str,
        fields: &[(&str, Option<&Amount>)],
        currency: Currency,
    ) -> Result<Option<Money>, TranslateError> {
        for (name, amount) in fields {
            if let Some(a) = amount {
                return self
                    .amount(topic, &format!("properties.{name}"), a, currency)
                    .map(Some);
            }
        }
        Ok(None)
    }

    /// A cart's key: `cart_id`, else `anon:<anonymousId>`, else `user:<userId>`.
    fn cart_key(&self, props: &Properties) -> Option<String> {
        non_empty(props.cart_id.as_deref())
            .map(str::to_string)
            .or_else(|| self.anon_id())
            .or_else(|| non_empty(self.msg.user_id.as_deref()).map(|u| format!("user:{u}")))
    }

    /// A cart from `products[]`. Key: `cart_id`, else `anon:<anonymousId>`, else
    /// `user:<userId>`, else (checkouts) `order_id` / `checkout_id`.
    fn snapshot(
        &self,
        topic: &str,
        props: &Properties,
        checkout: bool,
    ) -> Result<CartSnapshot, TranslateError> {
        let currency = self.currency(topic, props)?;
        let items = self.items(topic, props, currency)?;
        let lines = self.sum(topic, &items, currency)?;
        let cart_id = non_empty(props.cart_id.as_deref()).map(str::to_string);
        let checkout_token = if checkout {
            non_empty(props.checkout_id.as_deref())
                .or(non_empty(props.order_id.as_deref()))
                .map(str::to_string)
        } else {
            None
        };
        let key = self
            .cart_key(props)
            .or_else(|| checkout_token.clone())
            .ok_or_else(|| {
                self.schema(
                    topic,
                    "no cart_id, anonymousId, userId or order_id to key the cart",
                )
            })?;
        // A Checkout Started without a checkout or order id still marks the cart as one that
        // reached checkout (`checkout_abandoned` flows).
        let checkout_token = match checkout_token {
            None if checkout => Some(key.clone()),
            other => other,
        };
        let (subtotal, total) = if checkout {
            let subtotal = self
                .first_amount(topic, &[("subtotal", props.subtotal.as_ref())], currency)?
                .unwrap_or(lines);
            let total = self
                .first_amount(
                    topic,
                    &[
                        ("total", props.total.as_ref()),
                        ("value", props.value.as_ref()),
                        ("revenue", props.revenue.as_ref()),
                    ],
                    currency,
                )?
                .unwrap_or(lines);
            (subtotal, total)
        } else {
            (lines, lines)
        };
        let contact = self.contact(None, props.email.as_deref());
        Ok(CartSnapshot {
            key,
            cart_token: cart_id,
            checkout_token,
            platform_id: None,
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            items,
            currency,
            subtotal: Some(subtotal),
            total,
            recovery_url: non_empty(props.checkout_url.as_deref()).map(str::to_string),
            updated_at: self.occurred_at(),
            completed_at: None,
        })
    }

    /// `order_id` required; `checkout_id` (else `order_id`, which a `Checkout Started` records as
    /// its checkout token) links the checkout; total = `total`, else `revenue`, else `value`,
    /// else the sum of `products[]`.
    fn order(&self, topic: &str, props: &Properties) -> Result<Order, TranslateError> {
        let order_id = non_empty(props.order_id.as_deref())
            .ok_or_else(|| self.schema(topic, "properties.order_id is missing"))?;
        let currency = self.currency(topic, props)?;
        let items = self.items(topic, props, currency)?;
        let total = match self.first_amount(
            topic,
            &[
                ("total", props.total.as_ref()),
                ("revenue", props.revenue.as_ref()),
                ("value", props.value.as_ref()),
            ],
            currency,
        )? {
            Some(t) => t,
            None if !items.is_empty() => self.sum(topic, &items, currency)?,
            None => {
                return Err(self.schema(
                    topic,
                    "no properties.total, revenue, value or products to total the order",
                ))
            }
        };
        let contact = self.contact(None, props.email.as_deref());
        Ok(Order {
            order_id: order_id.to_string(),
            name: None,
            checkout_token: non_empty(props.checkout_id.as_deref())
                .unwrap_or(order_id)
                .to_string()
                .into(),
            cart_token: non_empty(props.cart_id.as_deref()).map(str::to_string),
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            total,
            items,
            placed_at: self.occurred_at(),
            test: false,
        })
    }
}

/// A whole, non-negative count: `2` or `"2"` (`2.0` too); not `1.5`, `-1` or text.
fn quantity(v: &Value) -> Option<u32> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    let whole = match text.split_once('.') {
        Some((w, f)) if f.bytes().all(|b| b == b'0') => w.to_string(),
        Some(_) => return None,
        None => text,
    };
    whole.parse::<u32>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").expect("valid")
    }

    #[test]
    fn rounds_float_artefacts_on_text() {
        let n: serde_json::Number = serde_json::from_str("59.970000000000006").expect("number");
        assert_eq!(money(&Amount::Number(n), usd()).map(|m| m.minor), Ok(5997));
        let n: serde_json::Number = serde_json::from_str("0.125").expect("number");
        assert_eq!(money(&Amount::Number(n), usd()).map(|m| m.minor), Ok(13));
        assert_eq!(
            money(&Amount::Text("-1.005".into()), usd()).map(|m| m.minor),
            Ok(-101)
        );
        assert!(money(&Amount::Text("abc".into()), usd()).is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(&serde_json::json!(2)), Some(2));
        assert_eq!(quantity(&serde_json::json!("3")), Some(3));
        assert_eq!(quantity(&serde_json::json!(2.0)), Some(2));
        assert_eq!(quantity(&serde_json::json!(1.5)), None);
        assert_eq!(quantity(&serde_json::json!(-1)), None);
    }
}
