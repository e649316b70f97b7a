//! [`MailchimpSink`]: the hand-off of an abandoned cart to a Mailchimp e-commerce store, whose
//! own Abandoned Cart automation then sends the emails.
//!
//! A reminder is, in order: the contact added to the store's audience when `list_id` is set
//! (`PUT /lists/{list_id}/members/{email}` with `status_if_new`: an existing member is left as
//! is); each item's product when `sync_products` is on (`POST .../products`; when it exists, its
//! variants `PUT .../products/{id}/variants/{id}`); then the cart (`POST .../carts`, its id the
//! hub's cart id). A cart that already exists (a retry, or a second hand-off of the same cart) is
//! deleted and posted again, as Mailchimp's own WooCommerce plugin does: never a second cart.
//!
//! A purchase is the order (`POST .../orders`, the hub's order id; "already exists" counts as
//! sent) when `create_orders` is on, then the cart's deletion (`DELETE .../carts/{id}`; 404
//! counts as gone), so Mailchimp's automation stops for it.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Errors never
//! carry the API key; logs carry ids only.

use crate::config::MailchimpSettings;
use crate::payload::{
    CartBody, Created, Customer, Decimal, Line, Member, OrderBody, ProblemBody, Product, Variant,
};
use cartback_core::contact::clean_email;
use cartback_core::{
    Cart, Consent, DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext,
};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{SecondsFormat, Utc};
use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::Method;
use serde::Serialize;

/// The user name sent with the API key (Mailchimp reads only the password).
pub const BASIC_USER: &str = "cartback";

/// The Mailchimp hand-off sink.
#[derive(Debug)]
pub struct MailchimpSink {
    settings: MailchimpSettings,
    base: reqwest::Url,
    client: reqwest::Client,
}

/// An answer read whole.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn problem(&self) -> ProblemBody {
        ProblemBody::parse(&self.body).unwrap_or_default()
    }

    /// 400 "... already exists ...": the resource is there (created by an earlier attempt).
    fn already_exists(&self) -> bool {
        self.status == 400 && self.problem().already_exists()
    }

    fn created_id(&self) -> Option<String> {
        serde_json::from_str::<Created>(&self.body)
            .ok()?
            .id
            .map(|i| i.0)
    }

    /// `Ok` on 2xx, else the classified failure.
    fn into_result(self, what: &str) -> Result<Reply, DeliveryError> {
        if self.ok() {
            Ok(self)
        } else {
            Err(classify_failure(
                self.status,
                &self.headers,
                &self.body,
                what,
            ))
        }
    }
}

impl MailchimpSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: MailchimpSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let base = settings
            .base()
            .map_err(|p| cartback_kit::settings::line(&p))?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(MailchimpSink {
            settings,
            base,
            client,
        })
    }

    /// `{base}/3.0/<segments>`, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Result<reqwest::Url, DeliveryError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| permanent("base_url cannot hold a path"))?
            .pop_if_empty()
            .push("3.0")
            .extend(segments);
        Ok(url)
    }

    fn store(&self, rest: &[&str]) -> Result<reqwest::Url, DeliveryError> {
        let mut segments = vec!["ecommerce", "stores", self.settings.store_id.trim()];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// The store's customer for `message`: the hub's contact id (else the lower-cased email),
    /// the email, `opt_in_status` true only with email consent, the names.
    pub fn customer(message: &OutboundMessage) -> Result<Customer, DeliveryError> {
        let email = email(message)?;
        let contact = message.contact.as_ref();
        Ok(Customer {
            id: contact_id(message)
                .map(str::to_string)
                .unwrap_or_else(|| email.to_ascii_lowercase()),
            email_address: email,
            opt_in_status: opted_in(message),
            first_name: contact.and_then(|c| trimmed(&c.first_name)),
            last_name: contact.and_then(|c| trimmed(&c.last_name)),
        })
    }

    /// The cart for a reminder; [`DeliveryError::Permanent`] when it can never be sent (no
    /// email, no cart, no items, no recovery link).
    pub fn cart_body(message: &OutboundMessage) -> Result<CartBody, DeliveryError> {
        let cart = cart(message)?;
        let checkout_url = cart
            .recovery_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                permanent("the cart has no recovery link (Mailchimp's cart emails link to it)")
            })?;
        Ok(CartBody {
            id: cart_id(message)?.to_string(),
            customer: Self::customer(message)?,
            checkout_url,
            currency_code: cart.currency.code().to_string(),
            order_total: cart.total.into(),
            lines: lines(cart),
        })
    }

    /// The order for a purchase, from the cart as it was handed off; `None` without a cart.
    pub fn order_body(message: &OutboundMessage) -> Result<Option<OrderBody>, DeliveryError> {
        let Purpose::Converted {
            order_id,
            total,
            placed_at,
        } = &message.purpose
        else {
            return Ok(None);
        };
        let Some(cart) = message.cart.as_ref().filter(|c| !c.items.is_empty()) else {
            return Ok(None);
        };
        let total = total.unwrap_or(cart.total);
        Ok(Some(OrderBody {
            id: order_id.clone(),
            customer: Self::customer(message)?,
            currency_code: total.currency.code().to_string(),
            order_total: total.into(),
            processed_at_foreign: placed_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            lines: lines(cart),
        }))
    }

    /// The audience member upsert for `message`.
    pub fn member(message: &OutboundMessage) -> Result<Member, DeliveryError> {
        Ok(Member {
            email_address: email(message)?,
            status_if_new: if opted_in(message) {
                "subscribed"
            } else {
                "transactional"
            },
        })
    }

    /// One request, read whole; only a transport failure is an error here.
    async fn call<T: Serialize>(
        &self,
        method: Method,
        url: reqwest::Url,
        body: Option<&T>,
    ) -> Result<Reply, DeliveryError> {
        let mut request = self
            .client
            .request(method, url)
            .basic_auth(BASIC_USER, Some(self.settings.api_key.expose().trim()))
            .header(ACCEPT, "application/json");
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // A 2xx was processed: a body that cannot be read does not change that.
        let body = response.text().await.unwrap_or_default();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    async fn upsert_member(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let Some(list) = self.settings.list_id.as_deref() else {
            return Ok(());
        };
        let member = Self::member(message)?;
        let mut url = self.url(&["lists", list.trim(), "members", &member.email_address])?;
        url.set_query(Some("skip_merge_validation=true"));
        self.call(Method::PUT, url, Some(&member))
            .await?
            .into_result("audience member")?;
        Ok(())
    }

    async fn upsert_products(&self, cart: &Cart) -> Result<(), DeliveryError> {
        if !self.settings.sync_products {
            return Ok(());
        }
        for product in products(cart) {
            let reply = self
                .call(Method::POST, self.store(&["products"])?, Some(&product))
                .await?;
            if !reply.already_exists() {
                reply.into_result("product")?;
                continue;
            }
            for v in &product.variants {
                let url = self.store(&["products", &product.id, "variants", &v.id])?;
                self.call(Method::PUT, url, Some(v))
                    .await?
                    .into_result("product variant")?;
            }
        }
        Ok(())
    }

    async fn delete_cart(&self, id: &str) -> Result<(), DeliveryError> {
        let reply = self
            .call::<()>(Method::DELETE, self.store(&["carts", id])?, None)
            .await?;
        if reply.status == 404 {
            return Ok(()); // never created, or already gone
        }
        reply.into_result("cart deletion")?;
        Ok(())
    }

    async fn hand_off(&self, message: &OutboundMessage) -> Result<Option<String>, DeliveryError> {
        let body = Self::cart_body(message)?;
        self.upsert_member(message).await?;
        self.upsert_products(cart(message)?).await?;
        let carts = self.store(&["carts"])?;
        let mut reply = self.call(Method::POST, carts.clone(), Some(&body)).await?;
        if reply.already_exists() {
            // Never a second cart: the one there is replaced by this message's.
            self.delete_cart(&body.id).await?;
            reply = self.call(Method::POST, carts, Some(&body)).await?;
        }
        let reply = reply.into_result("cart")?;
        Ok(reply.created_id().or(Some(body.id)))
    }

    async fn converted(
        &self,
        message: &OutboundMessage,
        order_id: &str,
    ) -> Result<Option<String>, DeliveryError> {
        let cart_id = cart_id(message)?.to_string();
        if self.settings.create_orders {
            if let Some(order) = Self::order_body(message)? {
                self.upsert_member(message).await?;
                self.upsert_products(cart(message)?).await?;
                let reply = self
                    .call(Method::POST, self.store(&["orders"])?, Some(&order))
                    .await?;
                if !reply.already_exists() {
                    reply.into_result("order")?;
                }
            }
        }
        self.delete_cart(&cart_id).await?;
        Ok(Some(order_id.to_string()))
    }
}

/// Classifies a non-2xx answer: 401/403 "credential refused: ...", then the shared table (429
/// and 5xx retryable after `Retry-After`, other 4xx permanent), with Mailchimp's problem detail
/// and the field it names as the reason.
pub fn classify_failure(status: u16, headers: &HeaderMap, body: &str, what: &str) -> DeliveryError {
    let detail = ProblemBody::parse(body)
        .and_then(|p| p.summary())
        .unwrap_or_else(|| body.trim().to_string());
    let detail: String = detail
        .chars()
        .take(300)
        .collect::<String>()
        .replace(['\r', '\n'], " ");
    match status {
        401 | 403 => permanent(format!(
            "credential refused: Mailchimp refused the API key ({what}, HTTP {status}: {detail})"
        )),
        _ => status_error(status, headers, &format!("{what}: {detail}"), Utc::now()),
    }
}

#[async_trait::async_trait]
impl Sink for MailchimpSink {
    fn kind(&self) -> &'static str {
        "mailchimp"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let result = match &message.purpose {
            Purpose::Reminder => self.hand_off(message).await,
            Purpose::Converted { order_id, .. } => self.converted(message, order_id).await,
        };
        match &result {
            Ok(_) => tracing::debug!(message_id = %message.id, "Mailchimp took the hand-off."),
            Err(e) => {
                tracing::warn!(message_id = %message.id, retryable = matches!(e, DeliveryError::Retryable { .. }), "Mailchimp refused the hand-off.")
            }
        }
        Ok(Receipt {
            provider_message_id: result?,
        })
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
            permanent("the contact has no valid email address (Mailchimp customers need one)")
        })
}

fn trimmed(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn opted_in(message: &OutboundMessage) -> bool {
    message
        .contact
        .as_ref()
        .is_some_and(|c| c.email_consent == Consent::Subscribed)
}

fn cart(message: &OutboundMessage) -> Result<&Cart, DeliveryError> {
    let cart = message
        .cart
        .as_ref()
        .ok_or_else(|| permanent("the hand-off carries no cart"))?;
    if cart.items.is_empty() {
        return Err(permanent(
            "the cart has no items (Mailchimp carts need lines)",
        ));
    }
    Ok(cart)
}

/// The hub's cart id: `metadata["cart_id"]`, else the cart's.
fn cart_id(message: &OutboundMessage) -> Result<&str, DeliveryError> {
    message
        .metadata
        .get("cart_id")
        .map(String::as_str)
        .or(message.cart.as_ref().map(|c| c.id.as_str()))
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| permanent("the hand-off names no cart id"))
}

/// The hub's contact id: `metadata["contact_id"]`, else the cart's.
fn contact_id(message: &OutboundMessage) -> Option<&str> {
    message
        .metadata
        .get("contact_id")
        .map(String::as_str)
        .or(message.cart.as_ref().and_then(|c| c.contact_id.as_deref()))
        .filter(|s| !s.trim().is_empty())
}

/// A line item's product id: the platform's product id, else its variant id, SKU or title.
pub fn product_id(i: &cartback_core::LineItem) -> String {
    [&i.product_id, &i.variant_id, &i.sku]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .unwrap_or(i.title.trim())
        .to_string()
}

/// A line item's variant id: the platform's variant id, else the product id (Mailchimp needs
/// at least one variant per product).
pub fn variant_id(i: &cartback_core::LineItem) -> String {
    i.variant_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| product_id(i))
}

/// The cart's lines, one per item, ids unique within the cart (the variant id, `#2`… after it
/// when a variant comes twice).
pub fn lines(cart: &Cart) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::with_capacity(cart.items.len());
    for i in &cart.items {
        let variant = variant_id(i);
        let mut id = variant.clone();
        let mut n = 1;
        while out.iter().any(|l| l.id == id) {
            n += 1;
            id = format!("{variant}#{n}");
        }
        out.push(Line {
            id,
            product_id: product_id(i),
            product_variant_id: variant,
            quantity: i.quantity,
            price: i.unit_price.into(),
        });
    }
    out
}

/// The products the cart's lines name, each with the variants of this cart. No product or
/// variant URL: the hub's item links are tracked per message and a product is shared by every
/// cart, so Mailchimp's emails link to the cart's `checkout_url` instead.
pub fn products(cart: &Cart) -> Vec<Product> {
    let mut out: Vec<Product> = Vec::new();
    for i in &cart.items {
        let pid = product_id(i);
        let variant = Variant {
            id: variant_id(i),
            title: i
                .variant_title
                .clone()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| i.title.clone()),
            sku: i.sku.clone().filter(|s| !s.trim().is_empty()),
            price: Decimal::from(i.unit_price),
            image_url: i.image_url.clone(),
        };
        match out.iter_mut().find(|p| p.id == pid) {
            Some(p) => {
                if !p.variants.iter().any(|v| v.id == variant.id) {
                    p.variants.push(variant);
                }
            }
            None => out.push(Product {
                id: pid,
                title: i.title.clone(),
                image_url: i.image_url.clone(),
                variants: vec![variant],
            }),
        }
    }
    out
}
