//! Drip's wire types, as `DripEmail/api-docs` gives them: the person (`POST /v2/:account_id/
//! subscribers`), the Shopper Activity cart and order events (`POST /v3/:account_id/
//! shopper_activity/{cart,order}`), and the error body.

use cartback_core::{Cart, Consent, ContactInfo, Money};
use serde::{Deserialize, Serialize};

/// `{"subscribers": [one person]}`: creates the person or updates the one with that email.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscribersBody {
    pub subscribers: Vec<Subscriber>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Subscriber {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E.164, only with SMS consent (Drip texts this number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_number: Option<String>,
    /// `true` / `false` when the hub knows; left out when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_consent: Option<bool>,
    /// The hub's contact id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `"unsubscribed"` when the hub knows the shopper opted out of email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    /// The status of a person Drip creates now: `"active"` only with email consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_status: Option<&'static str>,
}

impl Subscriber {
    pub fn from_info(email: String, info: &ContactInfo, hub_id: Option<&str>) -> Subscriber {
        let (status, initial_status) = match info.email_consent {
            Consent::Subscribed => (None, Some("active")),
            Consent::Unsubscribed => (Some("unsubscribed"), None),
            Consent::Unknown | Consent::NotSubscribed => (None, Some("unsubscribed")),
        };
        let (sms_number, sms_consent) = match (info.sms_consent, &info.phone) {
            (Consent::Subscribed, Some(p)) => (Some(p.clone()), Some(true)),
            (Consent::Unsubscribed | Consent::NotSubscribed, Some(_)) => (None, Some(false)),
            _ => (None, None),
        };
        Subscriber {
            email,
            first_name: info.first_name.clone(),
            last_name: info.last_name.clone(),
            phone: info.phone.clone(),
            sms_number,
            sms_consent,
            user_id: hub_id.map(str::to_string),
            status,
            initial_status,
        }
    }
}

/// The status a Shopper Activity event gives a person it creates: without it Drip subscribes
/// them, so `"active"` only with email consent.
pub fn initial_status(info: &ContactInfo) -> &'static str {
    if info.email_consent == Consent::Subscribed {
        "active"
    } else {
        "unsubscribed"
    }
}

/// The hub's own attributes, which Drip keeps as event properties.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct HubAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cartback_flow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cartback_step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cartback_variant: Option<String>,
    pub cartback_message_id: String,
    /// Present (and `true`) only on a test-mode hand-off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cartback_test: Option<bool>,
}

/// A Shopper Activity cart event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CartEvent {
    pub provider: String,
    pub email: String,
    pub initial_status: &'static str,
    /// `created` or `updated`.
    pub action: &'static str,
    pub cart_id: String,
    pub occurred_at: String,
    pub grand_total: serde_json::Number,
    pub currency: String,
    /// The hub's tracked recovery link.
    pub cart_url: String,
    pub items: Vec<Item>,
    #[serde(flatten)]
    pub hub: HubAttributes,
}

/// A Shopper Activity order event (`placed`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderEvent {
    pub provider: String,
    pub email: String,
    pub action: &'static str,
    pub order_id: String,
    pub occurred_at: String,
    pub grand_total: serde_json::Number,
    pub currency: String,
    pub items: Vec<Item>,
    /// The cart the order bought (an event property).
    pub cart_id: String,
    #[serde(flatten)]
    pub hub: HubAttributes,
}

/// One `items` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub product_id: String,
    /// The variant's id, or the product id again when it has none (as Drip asks).
    pub product_variant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub name: String,
    /// An item property of the hub's own (Drip has no field for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_title: Option<String>,
    /// Unit price, a decimal number.
    pub price: serde_json::Number,
    pub quantity: u32,
    /// The line total.
    pub total: serde_json::Number,
    /// The hub's tracked product link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

impl Item {
    pub fn from_cart(cart: &Cart) -> Vec<Item> {
        cart.items
            .iter()
            .map(|i| {
                let product_id = i
                    .product_id
                    .clone()
                    .or_else(|| i.sku.clone())
                    .unwrap_or_else(|| i.title.clone());
                Item {
                    product_variant_id: i.variant_id.clone().unwrap_or_else(|| product_id.clone()),
                    product_id,
                    sku: i.sku.clone(),
                    name: i.title.clone(),
                    variant_title: i.variant_title.clone(),
                    price: decimal(i.unit_price),
                    quantity: i.quantity,
                    total: decimal(i.line_price),
                    product_url: i.url.clone(),
                    image_url: i.image_url.clone(),
                }
            })
            .collect()
    }
}

/// An amount as a JSON number with the currency's decimals (`59.98`, `1500`).
pub fn decimal(m: Money) -> serde_json::Number {
    serde_json::from_str::<serde_json::Number>(&m.to_decimal_string()).unwrap_or_else(|_| {
        let scale = 10f64.powi(m.currency.exponent() as i32);
        serde_json::Number::from_f64(m.minor as f64 / scale).unwrap_or_else(|| 0.into())
    })
}

/// Drip's error body: `{"errors": [{"code", "attribute", "message"}]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Errors {
    #[serde(default)]
    pub errors: Vec<ErrorEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorEntry {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub attribute: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl Errors {
    /// `"cart_url: presence_error: Cart url is required"`-style text, one per error.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| {
                [&e.attribute, &e.code, &e.message]
                    .iter()
                    .filter_map(|p| p.as_deref())
                    .filter(|p| !p.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(": ")
            })
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}
