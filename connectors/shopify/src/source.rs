//! [`ShopifySource`]: topic routing and translation of Shopify payloads into normalized events.
//!
//! Routing reads headers only; the body is parsed for the topics the hub uses (and for
//! `customers/data_request`, which is only acknowledged). Shopify signs the body but not the
//! `X-Shopify-Topic` header, so each topic accepts only its own shape: the privacy topics are read
//! strictly (see [`crate::payload`]) and must name the configured shop, and `shop/redact` needs a
//! configured `shop_domain` at all. Every failure is a [`TranslateError`], never a panic.

use crate::config::ShopifySettings;
use crate::payload::{
    Address, Amount, Checkout, Customer, CustomerRedact, DataRequest, LineItem as WireItem,
    MarketingConsent, ShopRedact, ShopifyCart, ShopifyOrder, Side,
};
use crate::verify::{header, parse_time, TRIGGERED_AT_HEADERS};
use cartback_core::contact::clean_email;
use cartback_core::{
    CartSnapshot, Consent, ContactInfo, Currency, Erasure, Event, EventKind, InboundRequest,
    LineItem, Money, Order, Source, TranslateError, Translation, Verified, VerifyError,
};
use cartback_kit::wire::JsonError;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

const TOPIC_HEADERS: [&str; 2] = ["x-shopify-topic", "shopify-topic"];
const WEBHOOK_ID_HEADERS: [&str; 2] = ["x-shopify-webhook-id", "shopify-webhook-id"];
const EVENT_ID_HEADERS: [&str; 2] = ["x-shopify-event-id", "shopify-event-id"];

/// The Shopify source: verifies deliveries and translates the topics the hub uses.
#[derive(Debug)]
pub struct ShopifySource {
    settings: ShopifySettings,
}

impl ShopifySource {
    pub fn new(settings: ShopifySettings) -> Self {
        ShopifySource { settings }
    }
}

/// The topics the hub reads, by what they translate into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topic {
    Checkout,
    Cart,
    Order,
    Customer,
    CustomerRedact,
    ShopRedact,
    DataRequest,
}

impl Topic {
    fn route(topic: &str) -> Option<Topic> {
        Some(match topic {
            "checkouts/create" | "checkouts/update" => Topic::Checkout,
            "carts/create" | "carts/update" => Topic::Cart,
            "orders/create" | "orders/paid" => Topic::Order,
            "customers/create" | "customers/update" => Topic::Customer,
            "customers/redact" => Topic::CustomerRedact,
            "shop/redact" => Topic::ShopRedact,
            "customers/data_request" => Topic::DataRequest,
            _ => return None,
        })
    }
}

impl Source for ShopifySource {
    fn scheme(&self, _url: &str) -> String {
        "X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body keyed with the source's `secret`, \
         and X-Shopify-Triggered-At (RFC 3339) within `replay_window` \
         (and X-Shopify-Shop-Domain equal to `shop_domain` when it is set)"
            .into()
    }

    fn kind(&self) -> &'static str {
        "shopify"
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        crate::verify::verify(&self.settings, request)
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let req = request.request();
        let topic = header(req, &TOPIC_HEADERS)
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| TranslateError::MissingHeader("X-Shopify-Topic".into()))?;
        let Some(route) = Topic::route(&topic) else {
            return Ok(Translation::ignored(topic, "topic not used"));
        };
        let webhook_id = header(req, &WEBHOOK_ID_HEADERS);
        let event_id = header(req, &EVENT_ID_HEADERS);
        // The event id is shared by every delivery of one event; the webhook id may change on a
        // retry. Prefer the event id so redeliveries collapse onto one normalized event.
        let stable_id = event_id.or(webhook_id).ok_or_else(|| {
            TranslateError::MissingHeader("X-Shopify-Webhook-Id or X-Shopify-Event-Id".into())
        })?;
        let delivery_ids: Vec<String> = webhook_id
            .map(|w| format!("webhook:{w}"))
            .into_iter()
            .chain(event_id.map(|e| format!("event:{e}")))
            .collect();
        let triggered_at = header(req, &TRIGGERED_AT_HEADERS).and_then(parse_time);
        let ctx = Ctx {
            settings: &self.settings,
            topic: &topic,
        };
        let event = |kind: EventKind, payload_time: Option<DateTime<Utc>>| Event {
            source_id: req.source_id.clone(),
            event_id: format!("{topic}:{stable_id}"),
            topic: topic.clone(),
            occurred_at: triggered_at.or(payload_time).unwrap_or(req.received_at),
            kind,
        };
        let body = &req.body;
        let kind_and_time = match route {
            Topic::Checkout => {
                let c: Checkout = ctx.parse(body)?;
                let snap = ctx.checkout(&c)?;
                let at = snap.updated_at;
                (EventKind::CheckoutStarted(snap), Some(at))
            }
            Topic::Cart => {
                let c: ShopifyCart = ctx.parse(body)?;
                let Some(snap) = ctx.cart(&c)? else {
                    return Ok(Translation {
                        delivery_ids,
                        ..Translation::ignored(topic, "empty cart without a currency")
                    });
                };
                let at = snap.updated_at;
                (EventKind::CartUpdated(snap), Some(at))
            }
            Topic::Order => {
                let o: ShopifyOrder = ctx.parse(body)?;
                let order = ctx.order(&o)?;
                let at = first_time(&[o.updated_at.as_deref(), o.created_at.as_deref()])
                    .unwrap_or(order.placed_at);
                (EventKind::OrderPlaced(order), Some(at))
            }
            Topic::Customer => {
                let c: Customer = ctx.parse(body)?;
                if c.id.is_none() {
                    return Err(ctx.schema("customer has no id"));
                }
                let at = first_time(&[c.updated_at.as_deref(), c.created_at.as_deref()]);
                let info = ctx.contact(&ContactParts {
                    customer: Some(&c),
                    ..ContactParts::default()
                });
                (EventKind::ContactUpdated(info), at)
            }
            Topic::CustomerRedact => {
                let r: CustomerRedact = ctx.parse(body)?;
                ctx.own_shop(&r.shop_domain)?;
                (EventKind::Erasure(ctx.redact(r)?), None)
            }
            Topic::ShopRedact => {
                let r: ShopRedact = ctx.parse(body)?;
                ctx.shop_wide(&r.shop_domain)?;
                (EventKind::Erasure(Erasure::Source), None)
            }
            Topic::DataRequest => {
                let r: DataRequest = ctx.parse(body)?;
                ctx.own_shop(&r.shop_domain)?;
                return Ok(Translation {
                    delivery_ids,
                    ..Translation::ignored(topic, "data request acknowledged")
                });
            }
        };
        let (kind, at) = kind_and_time;
        let events = vec![event(kind, at)];
        Ok(Translation {
            delivery_ids,
            topic,
            events,
            ignored: None,
        })
    }
}

/// The first of `times` that is present and parses.
fn first_time(times: &[Option<&str>]) -> Option<DateTime<Utc>> {
    times.iter().flatten().find_map(|t| parse_time(t))
}

/// Shopify's consent states (REST lower-case, GraphQL upper-case), else the older booleans.
fn consent(object: Option<&MarketingConsent>, accepts: Option<bool>) -> Consent {
    let state = object
        .and_then(|s| s.state.as_deref())
        .map(|s| s.trim().to_ascii_lowercase());
    match state.as_deref() {
        Some("subscribed") => Consent::Subscribed,
        Some("not_subscribed" | "pending") => Consent::NotSubscribed,
        Some("unsubscribed" | "redacted" | "invalid") => Consent::Unsubscribed,
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

/// Where a checkout's or order's contact details come from.
#[derive(Default)]
struct ContactParts<'a> {
    customer: Option<&'a Customer>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    sms_phone: Option<&'a str>,
    billing: Option<&'a Address>,
    shipping: Option<&'a Address>,
    locale: Option<&'a str>,
    email_consent: Option<&'a MarketingConsent>,
    sms_consent: Option<&'a MarketingConsent>,
    accepts_email: Option<bool>,
    accepts_sms: Option<bool>,
}

/// Which amounts of a document to read, and in which currency.
#[derive(Debug, Clone, Copy)]
struct Pricing {
    currency: Currency,
    /// The `*_set` bag to prefer when a line has one in `currency`.
    side: Side,
    /// Whether the plain fields (`price`, `line_price`) are in `currency`.
    plain: bool,
}

/// Translation of the wire types (webhook bodies, and the import's GraphQL records turned into
/// them), with the source's settings and the topic for error messages.
pub(crate) struct Ctx<'a> {
    pub(crate) settings: &'a ShopifySettings,
    pub(crate) topic: &'a str,
}

impl Ctx<'_> {
    fn schema(&self, reason: impl Into<String>) -> TranslateError {
        TranslateError::Schema {
            topic: self.topic.to_string(),
            reason: reason.into(),
        }
    }

    /// Not JSON => `Json`; JSON of the wrong shape => `Schema`.
    fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, TranslateError> {
        cartback_kit::wire::from_json(body).map_err(|e| match e {
            JsonError::Syntax(m) => TranslateError::Json(m),
            JsonError::Schema(m) => self.schema(m),
        })
    }

    /// A privacy body's `shop_domain` (signed, unlike the `X-Shopify-Shop-Domain` header) must
    /// not be blank, and must name the configured shop when one is configured.
    fn own_shop(&self, body_domain: &str) -> Result<(), TranslateError> {
        if body_domain.trim().is_empty() {
            return Err(self.schema("shop_domain is empty"));
        }
        match self.settings.shop_domain() {
            Some(own) if !self.settings.is_own_shop(body_domain) => Err(self.schema(format!(
                "shop_domain {body_domain:?} is not this source's shop {own:?}"
            ))),
            _ => Ok(()),
        }
    }

    /// `shop/redact` erases every shopper of the source: refused unless `shop_domain` is
    /// configured and the body names that shop.
    fn shop_wide(&self, body_domain: &str) -> Result<(), TranslateError> {
        if self.settings.shop_domain().is_none() {
            return Err(self.schema(
                "refused: a shop-wide erasure needs shop_domain set in this source's settings",
            ));
        }
        self.own_shop(body_domain)
    }

    fn time(&self, field: &str, s: &str) -> Result<DateTime<Utc>, TranslateError> {
        parse_time(s).ok_or_else(|| self.schema(format!("{field} is not an ISO-8601 time")))
    }

    fn currency(&self, field: &str, code: &str) -> Result<Currency, TranslateError> {
        Currency::parse(code.trim()).map_err(|e| self.schema(format!("{field}: {e}")))
    }

    fn money(&self, field: &str, a: &Amount, c: Currency) -> Result<Money, TranslateError> {
        Money::parse_decimal(&a.0, c).map_err(|e| self.schema(format!("{field}: {e}")))
    }

    /// A bag's amount, when the bag is in `currency`.
    fn bag_money(
        &self,
        field: &str,
        bag: Option<(&Amount, &str)>,
        currency: Currency,
    ) -> Result<Option<Money>, TranslateError> {
        match bag {
            Some((amount, code)) if code.eq_ignore_ascii_case(currency.code()) => {
                self.money(field, amount, currency).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn phone(&self, raw: &str, country: Option<&str>) -> Option<String> {
        let region = non_empty(self.settings.default_phone_region.as_deref()).or(country);
        cartback_kit::wire::phone(raw, region, "shopify")
    }

    fn items(&self, items: &[WireItem], p: Pricing) -> Result<Vec<LineItem>, TranslateError> {
        items
            .iter()
            .enumerate()
            .map(|(i, it)| self.item(i, it, p))
            .collect()
    }

    fn item(&self, i: usize, it: &WireItem, p: Pricing) -> Result<LineItem, TranslateError> {
        let title = it.title.trim();
        if title.is_empty() {
            return Err(self.schema(format!("line_items[{i}].title is empty")));
        }
        let field = |name: &str| format!("line_items[{i}].{name}");
        let set_unit = self.bag_money(
            &field("price_set"),
            it.price_set.as_ref().and_then(|s| s.side(p.side)),
            p.currency,
        )?;
        let unit = match set_unit {
            Some(m) => m,
            None if p.plain => self.money(&field("price"), &it.price, p.currency)?,
            None => {
                return Err(self.schema(format!(
                    "line_items[{i}] has no price in {}",
                    p.currency.code()
                )))
            }
        };
        let set_line = self.bag_money(
            &field("line_price_set"),
            it.line_price_set.as_ref().and_then(|s| s.side(p.side)),
            p.currency,
        )?;
        let line = match (set_line, &it.line_price) {
            (Some(m), _) => m,
            (None, Some(lp)) if p.plain => self.money(&field("line_price"), lp, p.currency)?,
            _ => unit
                .checked_mul(i64::from(it.quantity))
                .ok_or_else(|| self.schema(format!("line_items[{i}] total is out of range")))?,
        };
        Ok(LineItem {
            product_id: it.product_id.as_ref().map(|i| i.0.clone()),
            variant_id: it.variant_id.as_ref().map(|i| i.0.clone()),
            sku: non_empty(it.sku.as_deref()).map(str::to_string),
            title: title.to_string(),
            variant_title: non_empty(it.variant_title.as_deref()).map(str::to_string),
            quantity: it.quantity,
            unit_price: unit,
            line_price: line,
            url: it.url.clone(),
            image_url: it.image.clone(),
        })
    }

    fn contact(&self, p: &ContactParts<'_>) -> ContactInfo {
        let customer = p.customer;
        let country = p
            .billing
            .and_then(|a| non_empty(a.country_code.as_deref()))
            .or(p
                .shipping
                .and_then(|a| non_empty(a.country_code.as_deref())))
            .or(customer
                .and_then(|c| c.default_address.as_ref())
                .and_then(|a| non_empty(a.country_code.as_deref())));
        let raw_phone = non_empty(p.phone)
            .or(non_empty(p.sms_phone))
            .or(customer.and_then(|c| non_empty(c.phone.as_deref())))
            .or(p.billing.and_then(|a| non_empty(a.phone.as_deref())));
        let email = non_empty(p.email).or(customer.and_then(|c| non_empty(c.email.as_deref())));
        let first = customer
            .and_then(|c| non_empty(c.first_name.as_deref()))
            .or(p.billing.and_then(|a| non_empty(a.first_name.as_deref())));
        let last = customer
            .and_then(|c| non_empty(c.last_name.as_deref()))
            .or(p.billing.and_then(|a| non_empty(a.last_name.as_deref())));
        ContactInfo {
            email: email.and_then(clean_email),
            phone: raw_phone.and_then(|raw| self.phone(raw, country)),
            first_name: first.map(str::to_string),
            last_name: last.map(str::to_string),
            locale: non_empty(p.locale)
                .or(customer.and_then(|c| non_empty(c.locale.as_deref())))
                .map(str::to_string),
            time_zone: None,
            email_consent: consent(
                p.email_consent
                    .or(customer.and_then(|c| c.email_marketing_consent.as_ref())),
                p.accepts_email
                    .or(customer.and_then(|c| c.accepts_marketing)),
            ),
            sms_consent: consent(
                p.sms_consent
                    .or(customer.and_then(|c| c.sms_marketing_consent.as_ref())),
                p.accepts_sms,
            ),
            external_id: customer.and_then(|c| c.id.as_ref()).map(|i| i.0.clone()),
        }
    }

    pub(crate) fn checkout(&self, c: &Checkout) -> Result<CartSnapshot, TranslateError> {
        let token = c.token.trim();
        if token.is_empty() {
            return Err(self.schema("token is empty"));
        }
        // A checkout's amounts are in the shopper's (presentment) currency.
        let code = non_empty(c.presentment_currency.as_deref())
            .or(non_empty(c.currency.as_deref()))
            .ok_or_else(|| self.schema("currency is missing"))?;
        let pricing = Pricing {
            currency: self.currency("presentment_currency", code)?,
            side: Side::Presentment,
            plain: true,
        };
        let currency = pricing.currency;
        let contact = self.contact(&ContactParts {
            customer: c.customer.as_ref(),
            email: c.email.as_deref(),
            phone: c.phone.as_deref(),
            sms_phone: c.sms_marketing_phone.as_deref(),
            billing: c.billing_address.as_ref(),
            shipping: c.shipping_address.as_ref(),
            locale: c.customer_locale.as_deref(),
            email_consent: c.email_marketing_consent.as_ref(),
            sms_consent: c.sms_marketing_consent.as_ref(),
            accepts_email: c.buyer_accepts_marketing,
            accepts_sms: c.buyer_accepts_sms_marketing,
        });
        let cart_token = non_empty(c.cart_token.as_deref()).map(str::to_string);
        Ok(CartSnapshot {
            key: cart_token.clone().unwrap_or_else(|| token.to_string()),
            cart_token,
            checkout_token: Some(token.to_string()),
            platform_id: c.id.as_ref().map(|i| i.0.clone()),
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            items: self.items(&c.line_items, pricing)?,
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

    /// A cart's currency: the body's own `presentment_currency`/`currency` when a version sends
    /// one, else the lines' `price_set` bags (Shopify's documented cart body has no currency).
    fn cart_pricing(&self, c: &ShopifyCart) -> Result<Option<Pricing>, TranslateError> {
        if let Some(code) =
            non_empty(c.presentment_currency.as_deref()).or(non_empty(c.currency.as_deref()))
        {
            return Ok(Some(Pricing {
                currency: self.currency("currency", code)?,
                side: Side::Presentment,
                plain: true,
            }));
        }
        for side in [Side::Presentment, Side::Shop] {
            let code = c
                .line_items
                .iter()
                .find_map(|it| it.price_set.as_ref().and_then(|s| s.side(side)))
                .map(|(_, code)| code);
            if let Some(code) = code {
                return Ok(Some(Pricing {
                    currency: self.currency("line_items[].price_set", code)?,
                    side,
                    plain: false,
                }));
            }
        }
        Ok(None)
    }

    /// `None` for an emptied cart with no currency anywhere: nothing to record.
    fn cart(&self, c: &ShopifyCart) -> Result<Option<CartSnapshot>, TranslateError> {
        let token = non_empty(c.token.as_deref())
            .map(str::to_string)
            .or(c.id.as_ref().map(|i| i.0.clone()))
            .ok_or_else(|| self.schema("cart has no token or id"))?;
        let updated_at = self.time("updated_at", &c.updated_at)?;
        let Some(pricing) = self.cart_pricing(c)? else {
            if c.line_items.is_empty() {
                return Ok(None);
            }
            return Err(self.schema("currency is missing (no currency and no price_set)"));
        };
        let currency = pricing.currency;
        let items = self.items(&c.line_items, pricing)?;
        let mut total = Money::zero(currency);
        for i in &items {
            total = total
                .checked_add(&i.line_price)
                .ok_or_else(|| self.schema("cart total is out of range"))?;
        }
        Ok(Some(CartSnapshot {
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
            updated_at,
            completed_at: None,
        }))
    }

    /// An order's plain amounts are in the shop's `currency`; the shopper's currency is in the
    /// `*_set` bags. Use the shopper's when the total and every line have it (so the order
    /// matches the checkout it converts), else the shop's.
    fn order_pricing(&self, o: &ShopifyOrder) -> Result<(Pricing, Money), TranslateError> {
        let presentment = o
            .total_price_set
            .as_ref()
            .and_then(|s| s.side(Side::Presentment));
        if let Some((amount, code)) = presentment {
            let currency = self.currency("total_price_set.presentment_money", code)?;
            let shop_same = match non_empty(o.currency.as_deref()) {
                Some(shop) => shop.eq_ignore_ascii_case(currency.code()),
                None => true,
            };
            let lines_have_it = o.line_items.iter().all(|it| {
                it.price_set
                    .as_ref()
                    .and_then(|s| s.side(Side::Presentment))
                    .is_some_and(|(_, c)| c.eq_ignore_ascii_case(currency.code()))
            });
            if shop_same || lines_have_it {
                let total =
                    self.money("total_price_set.presentment_money.amount", amount, currency)?;
                let pricing = Pricing {
                    currency,
                    side: Side::Presentment,
                    plain: shop_same,
                };
                return Ok((pricing, total));
            }
        }
        let code = non_empty(o.currency.as_deref())
            .or(non_empty(o.presentment_currency.as_deref()))
            .ok_or_else(|| self.schema("currency is missing"))?;
        let currency = self.currency("currency", code)?;
        let total = self.money("total_price", &o.total_price, currency)?;
        let pricing = Pricing {
            currency,
            side: Side::Shop,
            plain: true,
        };
        Ok((pricing, total))
    }

    pub(crate) fn order(&self, o: &ShopifyOrder) -> Result<Order, TranslateError> {
        let placed = non_empty(o.processed_at.as_deref())
            .map(|t| self.time("processed_at", t))
            .or_else(|| non_empty(o.created_at.as_deref()).map(|t| self.time("created_at", t)))
            .ok_or_else(|| self.schema("order has neither processed_at nor created_at"))??;
        let (pricing, total) = self.order_pricing(o)?;
        let contact = self.contact(&ContactParts {
            customer: o.customer.as_ref(),
            email: o.email.as_deref(),
            phone: o.phone.as_deref(),
            billing: o.billing_address.as_ref(),
            shipping: o.shipping_address.as_ref(),
            locale: o.customer_locale.as_deref(),
            accepts_email: o.buyer_accepts_marketing,
            ..ContactParts::default()
        });
        Ok(Order {
            order_id: o.id.0.clone(),
            name: non_empty(o.name.as_deref()).map(str::to_string),
            checkout_token: non_empty(o.checkout_token.as_deref()).map(str::to_string),
            cart_token: non_empty(o.cart_token.as_deref()).map(str::to_string),
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            total,
            items: self.items(&o.line_items, pricing)?,
            placed_at: placed,
            test: o.test.unwrap_or(false),
        })
    }

    fn redact(&self, r: CustomerRedact) -> Result<Erasure, TranslateError> {
        let c = r.customer;
        let email = non_empty(c.email.as_deref()).and_then(clean_email);
        // No address travels with a redaction: only `default_phone_region` can read a national number.
        let phone = non_empty(c.phone.as_deref()).and_then(|p| self.phone(p, None));
        let external_id = c.id.map(|i| i.0);
        if email.is_none() && phone.is_none() && external_id.is_none() {
            return Err(self.schema("customer has no id, email or phone"));
        }
        Ok(Erasure::Contact {
            email,
            phone,
            external_id,
            order_ids: r.orders_to_redact.into_iter().map(|i| i.0).collect(),
        })
    }
}
