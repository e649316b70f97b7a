//! Shopify's wire types, as the Admin REST resources serialize them in webhooks
//! (`abandoned_checkout`, `cart`, `order`, `customer`, and the privacy topics).
//! Only the fields the hub reads are declared; unknown fields are ignored (Shopify adds fields).

use serde::{Deserialize, Deserializer};

/// An id that Shopify sends as a JSON integer (often above 2^53) or a string. Kept as text, exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            U(u64),
            I(i64),
            S(String),
        }
        Ok(Id(match Raw::deserialize(d)? {
            Raw::U(u) => u.to_string(),
            Raw::I(i) => i.to_string(),
            Raw::S(s) => s,
        }))
    }
}

/// A money amount: Shopify sends decimal strings; some API versions send numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount(pub String);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(serde_json::Number),
        }
        Ok(Amount(match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::N(n) => n.to_string(),
        }))
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct MarketingConsent {
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Address {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Customer {
    #[serde(default)]
    pub id: Option<Id>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub accepts_marketing: Option<bool>,
    #[serde(default)]
    pub email_marketing_consent: Option<MarketingConsent>,
    #[serde(default)]
    pub sms_marketing_consent: Option<MarketingConsent>,
    #[serde(default)]
    pub default_address: Option<Address>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineItem {
    #[serde(default)]
    pub product_id: Option<Id>,
    #[serde(default)]
    pub variant_id: Option<Id>,
    #[serde(default)]
    pub sku: Option<String>,
    pub title: String,
    #[serde(default)]
    pub variant_title: Option<String>,
    pub quantity: u32,
    pub price: Amount,
    #[serde(default)]
    pub line_price: Option<Amount>,
}

/// `checkouts/create`, `checkouts/update` (the abandoned-checkout resource).
#[derive(Debug, Clone, Deserialize)]
pub struct Checkout {
    #[serde(default)]
    pub id: Option<Id>,
    pub token: String,
    #[serde(default)]
    pub cart_token: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub sms_marketing_phone: Option<String>,
    #[serde(default)]
    pub buyer_accepts_marketing: Option<bool>,
    #[serde(default)]
    pub buyer_accepts_sms_marketing: Option<bool>,
    #[serde(default)]
    pub customer_locale: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub presentment_currency: Option<String>,
    #[serde(default)]
    pub subtotal_price: Option<Amount>,
    pub total_price: Amount,
    #[serde(default)]
    pub abandoned_checkout_url: Option<String>,
    pub updated_at: String,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub customer: Option<Customer>,
    #[serde(default)]
    pub billing_address: Option<Address>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
}

/// `carts/create`, `carts/update`. A cart carries no email: it joins a shopper through a checkout's `cart_token`.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyCart {
    #[serde(default)]
    pub id: Option<Id>,
    #[serde(default)]
    pub token: Option<String>,
    pub updated_at: String,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
}

/// `orders/create`, `orders/paid`.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyOrder {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub checkout_token: Option<String>,
    #[serde(default)]
    pub cart_token: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub presentment_currency: Option<String>,
    pub total_price: Amount,
    #[serde(default)]
    pub buyer_accepts_marketing: Option<bool>,
    #[serde(default)]
    pub customer_locale: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub processed_at: Option<String>,
    #[serde(default)]
    pub test: bool,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub customer: Option<Customer>,
    #[serde(default)]
    pub billing_address: Option<Address>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct RedactCustomer {
    #[serde(default)]
    pub id: Option<Id>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// `customers/redact`.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomerRedact {
    #[serde(default)]
    pub shop_domain: Option<String>,
    pub customer: RedactCustomer,
    #[serde(default)]
    pub orders_to_redact: Vec<Id>,
}
