//! Mailchimp Marketing API 3.0 e-commerce wire types, as the official SDKs (mailchimp-marketing-node
//! `src/api/EcommerceApi.js`, `ListsApi.js`) and the reference (developer.mailchimp.com, ecommerce
//! stores › carts, orders, products) give them. Money is a JSON number in decimal units, written
//! from the hub's exact decimal text (never through a float).

use serde::{Deserialize, Serialize, Serializer};

pub use cartback_kit::wire::Id;

/// A decimal amount written as a JSON number exactly as given (`59.98`, `1000`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(pub String);

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.0.clone())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl From<cartback_core::Money> for Decimal {
    fn from(m: cartback_core::Money) -> Self {
        Decimal(m.to_decimal_string())
    }
}

/// The store's customer, embedded in carts and orders (created or updated with them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: String,
    pub email_address: String,
    /// `true` ⇒ subscribed to the audience, `false` ⇒ transactional; never overrides an existing
    /// member's status.
    pub opt_in_status: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// A cart or order line: the product and variant must exist in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub id: String,
    pub product_id: String,
    pub product_variant_id: String,
    pub quantity: u32,
    /// The unit price.
    pub price: Decimal,
}

/// `POST /3.0/ecommerce/stores/{store_id}/carts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CartBody {
    /// The hub's cart id (also the path id for later changes and the deletion).
    pub id: String,
    pub customer: Customer,
    /// What Mailchimp's cart emails link to: the hub's tracked recovery link.
    pub checkout_url: String,
    pub currency_code: String,
    pub order_total: Decimal,
    pub lines: Vec<Line>,
}

/// `POST /3.0/ecommerce/stores/{store_id}/orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderBody {
    pub id: String,
    pub customer: Customer,
    pub currency_code: String,
    pub order_total: Decimal,
    /// When the shop took the order (RFC 3339).
    pub processed_at_foreign: String,
    pub lines: Vec<Line>,
}

/// `POST /3.0/ecommerce/stores/{store_id}/products`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    pub variants: Vec<Variant>,
}

/// A product variant; also the body of `PUT .../products/{product_id}/variants/{variant_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub price: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// `PUT /3.0/lists/{list_id}/members/{email}`: adds the contact when new, leaves a member as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub email_address: String,
    /// `"subscribed"` with email consent, else `"transactional"`.
    pub status_if_new: &'static str,
}

/// The `id` of a created or updated resource.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Created {
    #[serde(default)]
    pub id: Option<Id>,
}

/// Mailchimp's error body (`application/problem+json`): `{type,title,status,detail,instance}`,
/// with `errors[{field,message}]` on a validation failure ("Invalid Resource").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProblemBody {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FieldError {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl ProblemBody {
    pub fn parse(body: &str) -> Option<ProblemBody> {
        serde_json::from_str(body).ok()
    }

    /// `field "lines[0].price": <message>` when a field is named, else `title: detail`.
    pub fn summary(&self) -> Option<String> {
        if let Some(e) = self
            .errors
            .iter()
            .find(|e| e.field.is_some() || e.message.is_some())
        {
            let message = e.message.clone().unwrap_or_default();
            return Some(match e.field.as_deref().filter(|f| !f.is_empty()) {
                Some(f) => format!("field {f:?}: {message}"),
                None => message,
            });
        }
        match (&self.title, &self.detail) {
            (Some(t), Some(d)) => Some(format!("{t}: {d}")),
            (Some(t), None) => Some(t.clone()),
            (None, Some(d)) => Some(d.clone()),
            (None, None) => None,
        }
    }

    /// Mailchimp's answer to creating a resource whose id is taken ("A cart with the provided ID
    /// already exists in the account.").
    pub fn already_exists(&self) -> bool {
        self.detail
            .as_deref()
            .is_some_and(|d| d.to_ascii_lowercase().contains("already exists"))
    }
}
