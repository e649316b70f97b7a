//! ActiveCampaign's wire types (API v3), as its reference gives them: the contact
//! (`contact/sync`), the Deep Data e-commerce customer (`ecomCustomers`) and order
//! (`ecomOrders`, an abandoned cart when it has `externalcheckoutid` + `abandoned_date`), the
//! lists read back, and the error bodies. Amounts are in cents (the currency's minor unit).

use cartback_core::{Cart, ContactInfo};
use cartback_kit::wire::Id;
use serde::{Deserialize, Serialize};

/// `POST /contact/sync`: create the contact, or update the one with this email.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactSync {
    pub contact: SyncedContact,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SyncedContact {
    pub email: String,
    #[serde(rename = "firstName", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(rename = "lastName", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The configured contact custom fields (discount code, recovery link, flow, ...).
    #[serde(rename = "fieldValues", skip_serializing_if = "Vec::is_empty")]
    pub field_values: Vec<FieldValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldValue {
    /// The custom field's id.
    pub field: String,
    pub value: String,
}

impl SyncedContact {
    pub fn from_info(email: String, info: &ContactInfo, field_values: Vec<FieldValue>) -> Self {
        SyncedContact {
            email,
            first_name: info.first_name.clone(),
            last_name: info.last_name.clone(),
            phone: info.phone.clone(),
            field_values,
        }
    }
}

/// `POST /ecomCustomers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerCreate {
    #[serde(rename = "ecomCustomer")]
    pub customer: NewCustomer,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewCustomer {
    pub connectionid: String,
    /// The hub's contact id (the email when it has none).
    pub externalid: String,
    pub email: String,
    /// `"1"` when the hub knows the shopper opted in to email marketing, else `"0"`.
    #[serde(rename = "acceptsMarketing")]
    pub accepts_marketing: &'static str,
}

/// `POST /ecomOrders` (an abandoned cart) or `PUT /ecomOrders/{id}` (the same cart again, or
/// recovered).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderWrite {
    #[serde(rename = "ecomOrder")]
    pub order: Order,
}

/// An order as the hub writes it; absent fields are left out (an update changes only those
/// it carries).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Order {
    /// The shop's order id: set only once the cart was bought (it marks the cart recovered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub externalid: Option<String>,
    /// The hub's cart id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub externalcheckoutid: Option<String>,
    /// When the hub handed the cart off (RFC 3339, in the past).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandoned_date: Option<String>,
    /// `1`: real time (only real-time carts start the "Abandons cart" automation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectionid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customerid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Cents.
    #[serde(rename = "totalPrice", skip_serializing_if = "Option::is_none")]
    pub total_price: Option<i64>,
    /// The hub's tracked recovery link.
    #[serde(rename = "orderUrl", skip_serializing_if = "Option::is_none")]
    pub order_url: Option<String>,
    #[serde(
        rename = "externalCreatedDate",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_created_date: Option<String>,
    #[serde(
        rename = "externalUpdatedDate",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_updated_date: Option<String>,
    #[serde(rename = "orderProducts", skip_serializing_if = "Option::is_none")]
    pub order_products: Option<Vec<OrderProduct>>,
}

/// One `orderProducts` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderProduct {
    pub externalid: String,
    /// The title, and the variant's after a dash.
    pub name: String,
    /// Unit price, cents.
    pub price: i64,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(rename = "imageUrl", skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// The hub's tracked product link.
    #[serde(rename = "productUrl", skip_serializing_if = "Option::is_none")]
    pub product_url: Option<String>,
}

impl OrderProduct {
    pub fn from_cart(cart: &Cart) -> Vec<OrderProduct> {
        cart.items
            .iter()
            .map(|i| OrderProduct {
                externalid: i
                    .variant_id
                    .clone()
                    .or_else(|| i.product_id.clone())
                    .or_else(|| i.sku.clone())
                    .unwrap_or_else(|| i.title.clone()),
                name: match i.variant_title.as_deref().filter(|v| !v.is_empty()) {
                    Some(v) => format!("{} - {v}", i.title),
                    None => i.title.clone(),
                },
                price: i.unit_price.minor,
                quantity: i.quantity,
                sku: i.sku.clone(),
                image_url: i.image_url.clone(),
                product_url: i.url.clone(),
            })
            .collect()
    }
}

/// A record with an id, as every answer carries (`{"contact": {"id": "12", ...}}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub id: Id,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContactAnswer {
    pub contact: Record,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomerAnswer {
    #[serde(rename = "ecomCustomer")]
    pub customer: Record,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderAnswer {
    #[serde(rename = "ecomOrder")]
    pub order: Record,
}

/// `GET /ecomCustomers?filters[...]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CustomerList {
    #[serde(rename = "ecomCustomers", default)]
    pub customers: Vec<ListedCustomer>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListedCustomer {
    pub id: Id,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub connectionid: Option<Id>,
}

/// `GET /ecomOrders?filters[...]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderList {
    #[serde(rename = "ecomOrders", default)]
    pub orders: Vec<ListedOrder>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListedOrder {
    pub id: Id,
    #[serde(default)]
    pub externalcheckoutid: Option<Id>,
    #[serde(default)]
    pub connectionid: Option<Id>,
    #[serde(default)]
    pub customerid: Option<Id>,
}

/// ActiveCampaign's error bodies: `{"errors": [{"title", "detail", "code", "source":
/// {"pointer": "/data/attributes/email"}}]}` (validation) or `{"message": "..."}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Errors {
    #[serde(default)]
    pub errors: Vec<ErrorEntry>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorEntry {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub source: Option<ErrorSource>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorSource {
    #[serde(default)]
    pub pointer: Option<String>,
}

impl Errors {
    /// `"email: Email address is invalid"`-style text naming each refused field (the last
    /// segment of its pointer), else the message.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| {
                let field = e
                    .source
                    .as_ref()
                    .and_then(|s| s.pointer.as_deref())
                    .and_then(|p| p.rsplit('/').next())
                    .filter(|f| !f.is_empty());
                let what = e
                    .title
                    .as_deref()
                    .or(e.detail.as_deref())
                    .or(e.code.as_deref());
                [field, what]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ")
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            return Some(parts.join("; "));
        }
        self.message.clone().filter(|m| !m.trim().is_empty())
    }
}
