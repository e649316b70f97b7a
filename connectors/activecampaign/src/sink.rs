//! [`ActiveCampaignSink`]: the requests of one hand-off (API v3, `Api-Token`), and the
//! classification of ActiveCampaign's answers.
//!
//! A reminder, an abandoned cart in Deep Data terms:
//! 1. `POST /contact/sync`: the contact (email, names, phone; the configured custom fields:
//!    discount code, recovery link, flow, step, variant).
//! 2. The e-commerce customer of this connection: `GET /ecomCustomers?filters[email]=…&
//!    filters[connectionid]=…`, else `POST /ecomCustomers` (`acceptsMarketing` as the hub
//!    knows the email consent).
//! 3. The order: `POST /ecomOrders` with `externalcheckoutid` = the hub's cart id,
//!    `abandoned_date` = now and `source: 1` (only real-time carts start the "Abandons cart"
//!    automation); when that cart was handed off before (`GET /ecomOrders?filters[email]=…`
//!    finds it), `PUT /ecomOrders/{id}` updates it instead of making a second one.
//!
//! A purchase: the same order found again and `PUT` with `externalid` = the shop's order id,
//! which marks the abandoned cart recovered (the automation's exit).
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Every step
//! before the order is an upsert or a read, so a retry repeats them safely. Errors never carry
//! the token.

use crate::config::ActiveCampaignSettings;
use crate::payload::{
    ContactSync, CustomerAnswer, CustomerCreate, CustomerList, Errors, FieldValue, NewCustomer,
    Order, OrderAnswer, OrderList, OrderProduct, OrderWrite, SyncedContact,
};
use cartback_core::{
    Cart, Consent, ContactInfo, DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext,
};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde::Serialize;

/// The header carrying the API token.
pub const TOKEN_HEADER: &str = "api-token";

/// The ActiveCampaign hand-off sink.
#[derive(Debug)]
pub struct ActiveCampaignSink {
    settings: ActiveCampaignSettings,
    root: String,
    /// The token as a header value marked sensitive (its `Debug` never shows it).
    token: HeaderValue,
    client: reqwest::Client,
}

/// What every request of a hand-off needs from the message.
struct HandOff<'a> {
    cart: &'a Cart,
    info: ContactInfo,
    email: String,
    cart_id: String,
}

impl ActiveCampaignSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: ActiveCampaignSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let mut token =
            HeaderValue::try_from(settings.api_token.expose().trim()).map_err(|_| {
                BuildError::Settings("api_token cannot be sent as a header value".into())
            })?;
        token.set_sensitive(true);
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(ActiveCampaignSink {
            root: settings.api_root(),
            settings,
            token,
            client,
        })
    }

    fn hand_off<'a>(&self, message: &'a OutboundMessage) -> Result<HandOff<'a>, DeliveryError> {
        let cart = message
            .cart
            .as_ref()
            .ok_or_else(|| permanent("the hand-off has no cart"))?;
        let info = message.contact.clone().unwrap_or_default();
        let email = info
            .email
            .clone()
            .or_else(|| message.to.email.clone())
            .ok_or_else(|| {
                permanent(
                    "the contact has no email: ActiveCampaign's e-commerce data is keyed by email",
                )
            })?;
        let cart_id = message
            .metadata
            .get("cart_id")
            .cloned()
            .unwrap_or_else(|| cart.id.clone());
        Ok(HandOff {
            cart,
            info,
            email,
            cart_id,
        })
    }

    /// The contact custom fields to fill, from the message.
    fn field_values(&self, message: &OutboundMessage, h: &HandOff<'_>) -> Vec<FieldValue> {
        let meta = |k: &str| message.metadata.get(k).cloned();
        self.settings
            .contact_fields
            .configured()
            .into_iter()
            .filter_map(|(key, field)| {
                let value = match key {
                    "discount_code" => message.discount_code.clone(),
                    "recovery_url" => h.cart.recovery_url.clone(),
                    "cart_id" => Some(h.cart_id.clone()),
                    other => meta(other),
                }?;
                Some(FieldValue {
                    field: field.to_string(),
                    value,
                })
            })
            .collect()
    }

    async fn call<T: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&T>,
        what: &str,
    ) -> Result<Vec<u8>, DeliveryError> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.root))
            .header(TOKEN_HEADER, self.token.clone())
            .header(ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body)
                .map_err(|e| permanent(format!("cannot encode the {what}: {e}")))?;
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let response = request.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let ok = response.status().is_success();
        let bytes = response.bytes().await.unwrap_or_default().to_vec();
        if ok {
            Ok(bytes)
        } else {
            Err(refused(status, &headers, &bytes, what))
        }
    }

    /// This connection's e-commerce customer with this email, if any.
    async fn find_customer(&self, email: &str) -> Result<Option<String>, DeliveryError> {
        let connection = self.settings.connection_id();
        let body = self
            .call::<()>(
                Method::GET,
                "/ecomCustomers",
                &[
                    ("filters[email]", email),
                    ("filters[connectionid]", connection),
                ],
                None,
                "customer lookup",
            )
            .await?;
        let list: CustomerList = read(&body, "customer lookup")?;
        Ok(list
            .customers
            .into_iter()
            .find(|c| {
                c.email
                    .as_deref()
                    .is_none_or(|e| e.trim().eq_ignore_ascii_case(email.trim()))
                    && c.connectionid.as_ref().is_none_or(|id| id.0 == connection)
            })
            .map(|c| c.id.0))
    }

    /// The order this cart became when it was handed off, if any (found among the email's).
    async fn find_order(
        &self,
        email: &str,
        cart_id: &str,
    ) -> Result<Option<String>, DeliveryError> {
        let connection = self.settings.connection_id();
        let body = self
            .call::<()>(
                Method::GET,
                "/ecomOrders",
                &[("filters[email]", email), ("limit", "100")],
                None,
                "order lookup",
            )
            .await?;
        let list: OrderList = read(&body, "order lookup")?;
        Ok(list
            .orders
            .into_iter()
            .find(|o| {
                o.externalcheckoutid
                    .as_ref()
                    .is_some_and(|c| c.0 == cart_id)
                    && o.connectionid.as_ref().is_none_or(|id| id.0 == connection)
            })
            .map(|o| o.id.0))
    }

    async fn reminder(
        &self,
        message: &OutboundMessage,
        h: &HandOff<'_>,
        now: DateTime<Utc>,
    ) -> Result<Receipt, DeliveryError> {
        let contact = ContactSync {
            contact: SyncedContact::from_info(
                h.email.clone(),
                &h.info,
                self.field_values(message, h),
            ),
        };
        self.call(
            Method::POST,
            "/contact/sync",
            &[],
            Some(&contact),
            "contact",
        )
        .await?;

        let connection = self.settings.connection_id().to_string();
        let (customer, existing) = match self.find_customer(&h.email).await? {
            Some(id) => (id, true),
            None => {
                let hub_id = message
                    .metadata
                    .get("contact_id")
                    .or(h.cart.contact_id.as_ref())
                    .cloned();
                let create = CustomerCreate {
                    customer: NewCustomer {
                        connectionid: connection.clone(),
                        externalid: hub_id.unwrap_or_else(|| h.email.clone()),
                        email: h.email.clone(),
                        accepts_marketing: if h.info.email_consent == Consent::Subscribed {
                            "1"
                        } else {
                            "0"
                        },
                    },
                };
                let body = self
                    .call(
                        Method::POST,
                        "/ecomCustomers",
                        &[],
                        Some(&create),
                        "customer",
                    )
                    .await?;
                let answer: CustomerAnswer = read(&body, "customer")?;
                (answer.customer.id.0, false)
            }
        };

        let cart = h.cart;
        let order = OrderWrite {
            order: Order {
                externalcheckoutid: Some(h.cart_id.clone()),
                abandoned_date: Some(rfc3339(now)),
                source: Some(1),
                email: Some(h.email.clone()),
                connectionid: Some(connection),
                customerid: Some(customer),
                currency: Some(cart.currency.code().to_string()),
                total_price: Some(cart.total.minor),
                order_url: cart.recovery_url.clone(),
                external_created_date: Some(rfc3339(cart.created_at)),
                external_updated_date: Some(rfc3339(cart.updated_at)),
                order_products: Some(OrderProduct::from_cart(cart)),
                ..Order::default()
            },
        };
        let previous = if existing {
            self.find_order(&h.email, &h.cart_id).await?
        } else {
            None
        };
        let body = match &previous {
            Some(id) => {
                self.call(
                    Method::PUT,
                    &format!("/ecomOrders/{id}"),
                    &[],
                    Some(&order),
                    "abandoned cart update",
                )
                .await?
            }
            None => {
                self.call(
                    Method::POST,
                    "/ecomOrders",
                    &[],
                    Some(&order),
                    "abandoned cart",
                )
                .await?
            }
        };
        Ok(Receipt {
            provider_message_id: read::<OrderAnswer>(&body, "abandoned cart")
                .ok()
                .map(|a| a.order.id.0)
                .or(previous),
        })
    }

    async fn converted(
        &self,
        h: &HandOff<'_>,
        order_id: &str,
        total: Option<cartback_core::Money>,
        placed_at: DateTime<Utc>,
    ) -> Result<Receipt, DeliveryError> {
        let id = self.find_order(&h.email, &h.cart_id).await?.ok_or_else(|| {
            permanent(format!(
                "no abandoned cart {:?} of this email under connection {} in ActiveCampaign to mark recovered",
                h.cart_id,
                self.settings.connection_id()
            ))
        })?;
        let total = total.unwrap_or(h.cart.total);
        let recovered = OrderWrite {
            order: Order {
                externalid: Some(order_id.to_string()),
                email: Some(h.email.clone()),
                currency: Some(total.currency.code().to_string()),
                total_price: Some(total.minor),
                external_updated_date: Some(rfc3339(placed_at)),
                ..Order::default()
            },
        };
        self.call(
            Method::PUT,
            &format!("/ecomOrders/{id}"),
            &[],
            Some(&recovered),
            "recovered order",
        )
        .await?;
        Ok(Receipt {
            provider_message_id: Some(id),
        })
    }
}

#[async_trait::async_trait]
impl Sink for ActiveCampaignSink {
    fn kind(&self) -> &'static str {
        "activecampaign"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let h = self.hand_off(message)?;
        match &message.purpose {
            Purpose::Reminder => self.reminder(message, &h, Utc::now()).await,
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => self.converted(&h, order_id, *total, *placed_at).await,
        }
    }
}

fn read<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, DeliveryError> {
    // A 2xx whose body says nothing usable: nothing but upserts and reads went out before.
    serde_json::from_slice(body).map_err(|e| DeliveryError::Retryable {
        reason: format!("the {what} answer could not be read: {e}"),
        retry_after: None,
    })
}

/// What a non-2xx answer means: 401/403 the token was refused; 400/404/422 the named fields
/// were refused; the rest (429 and 5xx retryable after `Retry-After`) by the kit's table.
pub fn refused(status: u16, headers: &HeaderMap, body: &[u8], what: &str) -> DeliveryError {
    let said = serde_json::from_slice::<Errors>(body)
        .ok()
        .and_then(|e| e.describe())
        .unwrap_or_else(|| String::from_utf8_lossy(body).to_string());
    match status {
        401 | 403 => permanent(format!(
            "credential refused: HTTP {status} on the {what}: ActiveCampaign did not accept the API token for this account URL: {}",
            excerpt(&said)
        )),
        400 | 404 | 422 => permanent(format!("HTTP {status} on the {what}: {}", excerpt(&said))),
        _ => match status_error(status, headers, &said, Utc::now()) {
            DeliveryError::Retryable {
                reason,
                retry_after,
            } => DeliveryError::Retryable {
                reason: format!("{reason} (the {what})"),
                retry_after,
            },
            DeliveryError::Permanent { reason } => permanent(format!("{reason} (the {what})")),
            other => other,
        },
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
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
    fn refusals_name_the_field_and_the_credential() {
        let h = HeaderMap::new();
        let body = br#"{"errors":[{"title":"The email address is invalid","detail":"","code":"field_invalid","source":{"pointer":"/data/attributes/email"}}]}"#;
        match refused(422, &h, body, "abandoned cart") {
            DeliveryError::Permanent { reason } => assert_eq!(
                reason,
                "HTTP 422 on the abandoned cart: email: The email address is invalid"
            ),
            other => panic!("{other:?}"),
        }
        match refused(
            403,
            &h,
            br#"{"message":"You are not authorized to access this resource"}"#,
            "contact",
        ) {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}");
                assert!(
                    reason.ends_with("You are not authorized to access this resource"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
