//! Shopify's wire types, as the Admin REST resources serialize them in webhooks
//! (`abandoned_checkout`, `cart`, `order`, `customer`, and the privacy topics).
//!
//! Only the fields the hub reads are declared; unknown fields are ignored (Shopify adds fields).
//! Fields the hub needs are typed strictly, so a payload that does not fit is a clear error;
//! fields that are only nice to have (`url`, `image`, the `*_set` money bags) are read leniently:
//! a shape we do not expect there makes the field absent, never the delivery fail.

use serde::Deserialize;

use cartback_kit::wire::{lenient, lenient_image, lenient_string};
pub use cartback_kit::wire::{Amount, Id};

/// `email_marketing_consent` / `sms_marketing_consent`: only `state` is read.
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

/// The `customer` resource (`customers/*` bodies, and nested in checkouts and orders).
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
    /// Deprecated by Shopify in favour of `email_marketing_consent`; still sent.
    #[serde(default)]
    pub accepts_marketing: Option<bool>,
    #[serde(default)]
    pub email_marketing_consent: Option<MarketingConsent>,
    #[serde(default)]
    pub sms_marketing_consent: Option<MarketingConsent>,
    #[serde(default)]
    pub default_address: Option<Address>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// `{"amount": "19.99", "currency_code": "USD"}` inside a `*_set`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct MoneyBag {
    #[serde(default)]
    pub amount: Option<Amount>,
    #[serde(default)]
    pub currency_code: Option<String>,
}

/// `price_set`: the amount in the shop's and in the shopper's (presentment) currency.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct MoneySet {
    #[serde(default)]
    pub shop_money: Option<MoneyBag>,
    #[serde(default)]
    pub presentment_money: Option<MoneyBag>,
}

/// Which bag of a [`MoneySet`] to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Shop,
    Presentment,
}

impl MoneySet {
    /// The bag for `side`, when it has both an amount and a currency code.
    pub fn side(&self, side: Side) -> Option<(&Amount, &str)> {
        let bag = match side {
            Side::Shop => self.shop_money.as_ref(),
            Side::Presentment => self.presentment_money.as_ref(),
        }?;
        let code = bag.currency_code.as_deref().map(str::trim)?;
        Some((bag.amount.as_ref()?, code)).filter(|(_, c)| !c.is_empty())
    }
}

/// A line of a checkout, cart or order.
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
    /// Cart lines carry the currency only here (the cart body has no `currency`).
    #[serde(default, deserialize_with = "lenient")]
    pub price_set: Option<MoneySet>,
    #[serde(default, deserialize_with = "lenient")]
    pub line_price_set: Option<MoneySet>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub url: Option<String>,
    #[serde(default, alias = "image_url", deserialize_with = "lenient_image")]
    pub image: Option<String>,
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
    pub email_marketing_consent: Option<MarketingConsent>,
    #[serde(default)]
    pub sms_marketing_consent: Option<MarketingConsent>,
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

/// `carts/create`, `carts/update`. A cart carries no email: it joins a shopper through a
/// checkout's `cart_token`.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyCart {
    #[serde(default)]
    pub id: Option<Id>,
    #[serde(default)]
    pub token: Option<String>,
    pub updated_at: String,
    /// Not in Shopify's documented cart body; read when a version or proxy adds it.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub presentment_currency: Option<String>,
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
    pub checkout_id: Option<Id>,
    #[serde(default)]
    pub checkout_token: Option<String>,
    #[serde(default)]
    pub cart_token: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub presentment_currency: Option<String>,
    /// In the shop's currency (`currency`); `total_price_set` has the shopper's.
    pub total_price: Amount,
    #[serde(default, deserialize_with = "lenient")]
    pub total_price_set: Option<MoneySet>,
    #[serde(default)]
    pub buyer_accepts_marketing: Option<bool>,
    #[serde(default)]
    pub customer_locale: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub processed_at: Option<String>,
    #[serde(default)]
    pub test: Option<bool>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub customer: Option<Customer>,
    #[serde(default)]
    pub billing_address: Option<Address>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
}

/// The shopper named in `customers/redact` and `customers/data_request`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RedactCustomer {
    #[serde(default)]
    pub id: Option<Id>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

// The privacy topics are read strictly: Shopify signs the body, not the `X-Shopify-Topic`
// header, so the body itself must say what it is. Every documented field is required and no
// other field is allowed, so a checkout, order or customer body (or another privacy topic's
// body) sent under a privacy topic is refused rather than read as an erasure. Shapes from
// shopify.dev/docs/apps/build/privacy-law-compliance.

/// `customers/redact`: `{"shop_id", "shop_domain", "customer": {"id", "email", "phone"},
/// "orders_to_redact": [...]}`, and nothing else.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerRedact {
    pub shop_id: Id,
    pub shop_domain: String,
    pub customer: RedactCustomer,
    pub orders_to_redact: Vec<Id>,
}

/// `shop/redact`: `{"shop_id", "shop_domain"}`, and nothing else (every other privacy body has
/// these two as well: only the absence of the rest tells a shop-wide erasure apart).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopRedact {
    pub shop_id: Id,
    pub shop_domain: String,
}

/// `customers/data_request`: `{"shop_id", "shop_domain", "customer", "orders_requested": [...],
/// "data_request": {"id"}}`, and nothing else. Only acknowledged; read so that it is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataRequest {
    pub shop_id: Id,
    pub shop_domain: String,
    pub customer: RedactCustomer,
    pub orders_requested: Vec<Id>,
    #[serde(default)]
    pub data_request: Option<serde::de::IgnoredAny>,
}
