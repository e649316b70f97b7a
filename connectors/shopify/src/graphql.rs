//! The import's wire types: Shopify's Admin GraphQL answers (`abandonedCheckouts`, `orders`, the
//! counts, and `extensions.cost`), the queries, and the conversion of a GraphQL record into the
//! REST shape the webhooks carry ([`crate::payload`]), so one translation serves both and an
//! imported record lands on the same cart and order as its webhook.
//!
//! Facts relied on (shopify.dev, Admin GraphQL 2026-10): `AbandonedCheckout { id, abandonedCheckoutUrl,
//! completedAt, updatedAt, customer, billingAddress, shippingAddress, subtotalPriceSet,
//! totalPriceSet, lineItems }` (no checkout or cart token: the checkout token is the path segment
//! after `/checkouts/` (or `/checkouts/ac/`) of `abandonedCheckoutUrl`); `AbandonedCheckoutLineItem
//! { title, quantity, sku, variantTitle, variant, product, originalUnitPriceSet,
//! discountedTotalPriceSet }`; `Order { checkoutToken, cartToken }` from 2026-07; `Customer {
//! defaultEmailAddress { emailAddress marketingState }, defaultPhoneNumber { phoneNumber
//! marketingState } }` from 2025-04; ids are gids (`gid://shopify/Order/123`) whose last segment
//! is the REST id; the query filter `updated_at:>='<RFC 3339>'` works on both connections.

use crate::payload::{
    Address, Amount, Checkout, Customer, Id, LineItem, MarketingConsent, MoneyBag, MoneySet,
    ShopifyOrder,
};
use serde::Deserialize;

/// Records per page and lines per record: with the customer and the money bags a page's
/// requested cost stays under Shopify's 1,000-point ceiling for one query.
pub const PAGE_SIZE: u32 = 25;
pub const LINES: u32 = 25;

const LINE_FIELDS: &str = "title quantity sku variantTitle variant { id } product { id } \
     image { url }";
const CUSTOMER: &str = "customer { id firstName lastName locale \
     defaultEmailAddress { emailAddress marketingState } \
     defaultPhoneNumber { phoneNumber marketingState } }";
const ADDRESS: &str = "{ firstName lastName phone countryCodeV2 }";
const MONEY: &str =
    "{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }";

/// The query of a page of abandoned checkouts (`$query`, `$after`; the counts when `$counts`).
pub fn checkouts_query() -> String {
    format!(
        "query Checkouts($first: Int!, $after: String, $query: String, $counts: Boolean!) {{
  abandonedCheckoutsCount(query: $query, limit: null) @include(if: $counts) {{ count }}
  ordersCount(query: $query, limit: null) @include(if: $counts) {{ count }}
  abandonedCheckouts(first: $first, after: $after, query: $query, sortKey: ID) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id abandonedCheckoutUrl createdAt updatedAt completedAt
      {CUSTOMER}
      billingAddress {ADDRESS} shippingAddress {ADDRESS}
      subtotalPriceSet {MONEY} totalPriceSet {MONEY}
      lineItems(first: {LINES}) {{ nodes {{ {LINE_FIELDS}
        originalUnitPriceSet {MONEY} discountedTotalPriceSet {MONEY} }} }}
    }}
  }}
}}"
    )
}

/// The query of a page of orders (`$query`, `$after`).
pub fn orders_query() -> String {
    format!(
        "query Orders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: ID) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id name email phone checkoutToken cartToken currencyCode presentmentCurrencyCode
      createdAt updatedAt processedAt test customerLocale
      {CUSTOMER}
      billingAddress {ADDRESS} shippingAddress {ADDRESS}
      totalPriceSet {MONEY}
      lineItems(first: {LINES}) {{ nodes {{ {LINE_FIELDS}
        originalUnitPriceSet {MONEY} discountedTotalSet {MONEY} }} }}
    }}
  }}
}}"
    )
}

/// A GraphQL answer: `data`, `errors`, `extensions.cost`.
#[derive(Debug, Deserialize)]
pub struct Response<T> {
    #[serde(default = "none")]
    pub data: Option<T>,
    #[serde(default)]
    pub errors: Vec<GqlError>,
    #[serde(default)]
    pub extensions: Option<Extensions>,
}

fn none<T>() -> Option<T> {
    None
}

#[derive(Debug, Deserialize)]
pub struct GqlError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub extensions: Option<ErrorExtensions>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorExtensions {
    #[serde(default)]
    pub code: Option<String>,
}

impl GqlError {
    pub fn code(&self) -> Option<&str> {
        self.extensions.as_ref()?.code.as_deref()
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct Extensions {
    #[serde(default)]
    pub cost: Option<Cost>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    #[serde(default)]
    pub requested_query_cost: Option<f64>,
    #[serde(default)]
    pub actual_query_cost: Option<f64>,
    #[serde(default)]
    pub throttle_status: Option<ThrottleStatus>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

#[derive(Debug, Deserialize)]
pub struct Count {
    pub count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    pub page_info: PageInfo,
    pub nodes: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutsData {
    #[serde(default)]
    pub abandoned_checkouts_count: Option<Count>,
    #[serde(default)]
    pub orders_count: Option<Count>,
    pub abandoned_checkouts: Connection<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct OrdersData {
    pub orders: Connection<serde_json::Value>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Bag {
    #[serde(default)]
    pub amount: Option<Amount>,
    #[serde(default, rename = "currencyCode")]
    pub currency_code: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GqlMoneySet {
    #[serde(default)]
    pub shop_money: Option<Bag>,
    #[serde(default)]
    pub presentment_money: Option<Bag>,
}

impl GqlMoneySet {
    fn rest(&self) -> MoneySet {
        let bag = |b: &Option<Bag>| {
            b.as_ref().map(|b| MoneyBag {
                amount: b.amount.clone(),
                currency_code: b.currency_code.clone(),
            })
        };
        MoneySet {
            shop_money: bag(&self.shop_money),
            presentment_money: bag(&self.presentment_money),
        }
    }

    fn presentment(&self) -> Option<&Bag> {
        self.presentment_money.as_ref().or(self.shop_money.as_ref())
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct Node {
    pub id: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct Image {
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlLine {
    #[serde(default)]
    pub title: Option<String>,
    pub quantity: u32,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub variant_title: Option<String>,
    #[serde(default)]
    pub variant: Option<Node>,
    #[serde(default)]
    pub product: Option<Node>,
    #[serde(default)]
    pub image: Option<Image>,
    #[serde(default)]
    pub original_unit_price_set: Option<GqlMoneySet>,
    /// Checkouts: `discountedTotalPriceSet`; orders: `discountedTotalSet`.
    #[serde(default, alias = "discountedTotalSet")]
    pub discounted_total_price_set: Option<GqlMoneySet>,
}

#[derive(Debug, Deserialize)]
pub struct Lines {
    pub nodes: Vec<GqlLine>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailAddress {
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub marketing_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumber {
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub marketing_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlCustomer {
    pub id: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub default_email_address: Option<EmailAddress>,
    #[serde(default)]
    pub default_phone_number: Option<PhoneNumber>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GqlAddress {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub country_code_v2: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlCheckout {
    pub id: String,
    #[serde(default)]
    pub abandoned_checkout_url: Option<String>,
    pub updated_at: String,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub customer: Option<GqlCustomer>,
    #[serde(default)]
    pub billing_address: Option<GqlAddress>,
    #[serde(default)]
    pub shipping_address: Option<GqlAddress>,
    #[serde(default)]
    pub subtotal_price_set: Option<GqlMoneySet>,
    pub total_price_set: GqlMoneySet,
    pub line_items: Lines,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlOrder {
    pub id: String,
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
    pub currency_code: Option<String>,
    #[serde(default)]
    pub presentment_currency_code: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    pub updated_at: String,
    #[serde(default)]
    pub processed_at: Option<String>,
    #[serde(default)]
    pub test: Option<bool>,
    #[serde(default)]
    pub customer_locale: Option<String>,
    #[serde(default)]
    pub customer: Option<GqlCustomer>,
    #[serde(default)]
    pub billing_address: Option<GqlAddress>,
    #[serde(default)]
    pub shipping_address: Option<GqlAddress>,
    pub total_price_set: GqlMoneySet,
    pub line_items: Lines,
}

/// The REST id of a gid (`gid://shopify/Order/123` → `123`); any other text as it is.
pub fn rest_id(gid: &str) -> String {
    let tail = gid.rsplit('/').next().unwrap_or(gid);
    tail.split('?').next().unwrap_or(tail).to_string()
}

/// The checkout token in a recovery URL: the segment after `/checkouts/` (skipping `ac/`).
pub fn checkout_token(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let mut parts = path.split('/').skip_while(|p| *p != "checkouts").skip(1);
    let mut token = parts.next()?;
    if token == "ac" {
        token = parts.next()?;
    }
    Some(token.to_string()).filter(|t| !t.is_empty())
}

fn consent(state: Option<&String>) -> Option<MarketingConsent> {
    state.map(|s| MarketingConsent {
        state: Some(s.to_ascii_lowercase()),
    })
}

fn customer(c: &GqlCustomer) -> Customer {
    let email = c.default_email_address.as_ref();
    let phone = c.default_phone_number.as_ref();
    Customer {
        id: Some(Id(rest_id(&c.id))),
        email: email.and_then(|e| e.email_address.clone()),
        phone: phone.and_then(|p| p.phone_number.clone()),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        locale: c.locale.clone(),
        email_marketing_consent: consent(email.and_then(|e| e.marketing_state.as_ref())),
        sms_marketing_consent: consent(phone.and_then(|p| p.marketing_state.as_ref())),
        ..Customer::default()
    }
}

fn address(a: &GqlAddress) -> Address {
    Address {
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        phone: a.phone.clone(),
        country_code: a.country_code_v2.clone(),
    }
}

fn line(l: &GqlLine) -> LineItem {
    let unit = l.original_unit_price_set.as_ref();
    LineItem {
        product_id: l.product.as_ref().map(|n| Id(rest_id(&n.id))),
        variant_id: l.variant.as_ref().map(|n| Id(rest_id(&n.id))),
        sku: l.sku.clone(),
        title: l.title.clone().unwrap_or_default(),
        variant_title: l.variant_title.clone(),
        quantity: l.quantity,
        price: unit
            .and_then(GqlMoneySet::presentment)
            .and_then(|b| b.amount.clone())
            .unwrap_or_else(|| Amount("0".into())),
        line_price: None,
        price_set: unit.map(GqlMoneySet::rest),
        line_price_set: l.discounted_total_price_set.as_ref().map(GqlMoneySet::rest),
        url: None,
        image: l.image.as_ref().and_then(|i| i.url.clone()),
    }
}

/// A GraphQL abandoned checkout as the REST `checkouts/*` body.
pub fn rest_checkout(c: &GqlCheckout) -> Checkout {
    let id = rest_id(&c.id);
    let total = c.total_price_set.presentment();
    Checkout {
        token: c
            .abandoned_checkout_url
            .as_deref()
            .and_then(checkout_token)
            .unwrap_or_else(|| id.clone()),
        id: Some(Id(id)),
        cart_token: None,
        email: None,
        phone: None,
        sms_marketing_phone: None,
        buyer_accepts_marketing: None,
        buyer_accepts_sms_marketing: None,
        email_marketing_consent: None,
        sms_marketing_consent: None,
        customer_locale: None,
        currency: c
            .total_price_set
            .shop_money
            .as_ref()
            .and_then(|b| b.currency_code.clone()),
        presentment_currency: total.and_then(|b| b.currency_code.clone()),
        subtotal_price: c
            .subtotal_price_set
            .as_ref()
            .and_then(GqlMoneySet::presentment)
            .and_then(|b| b.amount.clone()),
        total_price: total
            .and_then(|b| b.amount.clone())
            .unwrap_or_else(|| Amount("0".into())),
        abandoned_checkout_url: c.abandoned_checkout_url.clone(),
        updated_at: c.updated_at.clone(),
        completed_at: c.completed_at.clone(),
        line_items: c.line_items.nodes.iter().map(line).collect(),
        customer: c.customer.as_ref().map(customer),
        billing_address: c.billing_address.as_ref().map(address),
        shipping_address: c.shipping_address.as_ref().map(address),
    }
}

/// A GraphQL order as the REST `orders/*` body.
pub fn rest_order(o: &GqlOrder) -> ShopifyOrder {
    let shop = o.total_price_set.shop_money.as_ref();
    ShopifyOrder {
        id: Id(rest_id(&o.id)),
        name: o.name.clone(),
        email: o.email.clone(),
        phone: o.phone.clone(),
        checkout_id: None,
        checkout_token: o.checkout_token.clone(),
        cart_token: o.cart_token.clone(),
        currency: o
            .currency_code
            .clone()
            .or_else(|| shop.and_then(|b| b.currency_code.clone())),
        presentment_currency: o.presentment_currency_code.clone(),
        total_price: shop
            .and_then(|b| b.amount.clone())
            .unwrap_or_else(|| Amount("0".into())),
        total_price_set: Some(o.total_price_set.rest()),
        buyer_accepts_marketing: None,
        customer_locale: o.customer_locale.clone(),
        created_at: o.created_at.clone(),
        updated_at: Some(o.updated_at.clone()),
        processed_at: o.processed_at.clone(),
        test: o.test,
        line_items: o.line_items.nodes.iter().map(line).collect(),
        customer: o.customer.as_ref().map(customer),
        billing_address: o.billing_address.as_ref().map(address),
        shipping_address: o.shipping_address.as_ref().map(address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gids_and_recovery_urls_give_the_rest_identity() {
        assert_eq!(rest_id("gid://shopify/AbandonedCheckout/123"), "123");
        assert_eq!(rest_id("gid://shopify/Order/9?x=1"), "9");
        assert_eq!(
            checkout_token("https://shop.example/548380009/checkouts/abc123/recover?key=k")
                .as_deref(),
            Some("abc123")
        );
        assert_eq!(
            checkout_token("https://shop.example/checkouts/ac/tok9/recover").as_deref(),
            Some("tok9")
        );
        assert_eq!(checkout_token("https://shop.example/cart"), None);
    }
}
