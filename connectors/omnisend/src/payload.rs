//! Omnisend's wire types: the `POST /v5/events` body (a customer event with the contact it
//! creates or updates) and the error bodies. Field names are Omnisend's, as its "How to: send
//! events rest api", "started checkout" and "placed order" pages give them.

use cartback_core::{Cart, ContactInfo, Money};
use serde::{Deserialize, Serialize};

/// One customer event. The `contact` object creates or updates the contact (no separate
/// contact call is needed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventBody {
    #[serde(rename = "eventName")]
    pub event_name: String,
    /// A UUID; Omnisend generates one when absent.
    #[serde(rename = "eventID", skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// RFC 3339.
    #[serde(rename = "eventTime")]
    pub event_time: String,
    /// `""` for `started checkout`, `"v2"` for `placed order`; left out for custom events.
    #[serde(rename = "eventVersion", skip_serializing_if = "Option::is_none")]
    pub event_version: Option<&'static str>,
    pub origin: String,
    pub contact: Contact,
    pub properties: Properties,
}

/// The contact the event is about.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Contact {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(rename = "firstName", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(rename = "lastName", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Channels the shopper opted in to, as the hub knows it.
    #[serde(rename = "optIns", skip_serializing_if = "Vec::is_empty")]
    pub opt_ins: Vec<ConsentRecord>,
    /// Channels the shopper opted out of, as the hub knows it.
    #[serde(rename = "optOuts", skip_serializing_if = "Vec::is_empty")]
    pub opt_outs: Vec<ConsentRecord>,
    /// `cartbackContactID`: the hub's id for the contact.
    #[serde(rename = "customProperties", skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An `optIns` / `optOuts` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentRecord {
    /// `"email"` or `"sms"`.
    pub channel: &'static str,
    pub source: &'static str,
}

/// The event's properties: the cart (both events) and, for `placed order`, the order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Properties {
    #[serde(rename = "cartID")]
    pub cart_id: String,
    /// The hub's tracked recovery link.
    #[serde(
        rename = "abandonedCheckoutURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub abandoned_checkout_url: Option<String>,
    /// The cart total (started checkout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Number>,
    pub currency: String,
    #[serde(rename = "lineItems")]
    pub line_items: Vec<LineItem>,
    /// The order (placed order).
    #[serde(rename = "orderID", skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// The order total (placed order; Omnisend's reports need it).
    #[serde(rename = "totalPrice", skip_serializing_if = "Option::is_none")]
    pub total_price: Option<serde_json::Number>,
    /// When the order was placed (placed order), RFC 3339.
    #[serde(rename = "createdAt", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The discount code the step allotted.
    #[serde(rename = "discountCode", skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
    #[serde(rename = "cartbackFlowID", skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    #[serde(rename = "cartbackStep", skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(rename = "cartbackVariant", skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The hub's message id.
    #[serde(rename = "cartbackMessageID")]
    pub message_id: String,
    /// Present (and `true`) only on a test-mode hand-off.
    #[serde(rename = "cartbackTest", skip_serializing_if = "Option::is_none")]
    pub test: Option<bool>,
}

/// One `lineItems` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineItem {
    #[serde(rename = "productID", skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(rename = "productVariantID", skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    #[serde(rename = "productSKU", skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(rename = "productTitle")]
    pub title: String,
    #[serde(
        rename = "productVariantTitle",
        skip_serializing_if = "Option::is_none"
    )]
    pub variant_title: Option<String>,
    #[serde(rename = "productQuantity")]
    pub quantity: u32,
    /// Unit price, a decimal number in the cart's currency.
    #[serde(rename = "productPrice")]
    pub price: serde_json::Number,
    #[serde(rename = "productImageURL", skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// The hub's tracked product link.
    #[serde(rename = "productURL", skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl LineItem {
    pub fn from_cart(cart: &Cart) -> Vec<LineItem> {
        cart.items
            .iter()
            .map(|i| LineItem {
                product_id: i.product_id.clone(),
                variant_id: i.variant_id.clone(),
                sku: i.sku.clone(),
                title: i.title.clone(),
                variant_title: i.variant_title.clone(),
                quantity: i.quantity,
                price: decimal(i.unit_price),
                image_url: i.image_url.clone(),
                url: i.url.clone(),
            })
            .collect()
    }
}

impl Contact {
    /// The contact as the hub knows it; `hub_id` goes into `customProperties.cartbackContactID`.
    pub fn from_info(info: &ContactInfo, hub_id: Option<&str>) -> Contact {
        use cartback_core::Consent;
        let mut opt_ins = Vec::new();
        let mut opt_outs = Vec::new();
        for (channel, consent, address) in [
            ("email", info.email_consent, info.email.is_some()),
            ("sms", info.sms_consent, info.phone.is_some()),
        ] {
            let record = ConsentRecord {
                channel,
                source: "cartback",
            };
            match consent {
                Consent::Subscribed if address => opt_ins.push(record),
                Consent::Unsubscribed if address => opt_outs.push(record),
                _ => {}
            }
        }
        let custom_properties = hub_id.map(|id| {
            let mut m = serde_json::Map::new();
            m.insert("cartbackContactID".into(), id.into());
            m
        });
        Contact {
            email: info.email.clone(),
            phone: info.phone.clone(),
            first_name: info.first_name.clone(),
            last_name: info.last_name.clone(),
            opt_ins,
            opt_outs,
            custom_properties,
        }
    }
}

/// An amount as a JSON number with the currency's decimals (`59.98`, `1500`).
pub fn decimal(m: Money) -> serde_json::Number {
    serde_json::from_str::<serde_json::Number>(&m.to_decimal_string()).unwrap_or_else(|_| {
        let scale = 10f64.powi(m.currency.exponent() as i32);
        serde_json::Number::from_f64(m.minor as f64 / scale).unwrap_or_else(|| 0.into())
    })
}

/// Omnisend's error body (`application/problem+json`); validation errors list their fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub errors: Vec<FieldError>,
    /// Some answers (and the older API generations) carry a plain `error` text.
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FieldError {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl Problem {
    /// `"contact.email: Must be a valid email address"`-style text naming each failed field,
    /// else the problem's detail or title.
    pub fn describe(&self) -> Option<String> {
        let fields: Vec<String> = self
            .errors
            .iter()
            .filter_map(|e| match (&e.field, &e.message) {
                (Some(f), Some(m)) => Some(format!("{f}: {m}")),
                (Some(f), None) => Some(f.clone()),
                (None, Some(m)) => Some(m.clone()),
                (None, None) => None,
            })
            .collect();
        if !fields.is_empty() {
            return Some(fields.join("; "));
        }
        self.detail
            .clone()
            .or_else(|| self.error.clone())
            .or_else(|| self.title.clone())
            .filter(|s| !s.trim().is_empty())
    }
}
