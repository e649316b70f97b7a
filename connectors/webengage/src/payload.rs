//! WebEngage's wire types: the REST API's user body (`POST /v1/accounts/{licence}/users`),
//! event body (`POST /v1/accounts/{licence}/events`) and answer wrapper. Field names are
//! WebEngage's, as its "Users" and "Tracking Events" REST pages give them.

use cartback_core::{Cart, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A user created or updated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// As the hub knows it; absent when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_opt_in: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_opt_in: Option<bool>,
    /// `cartbackContactId`: the hub's id for the contact.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// One custom event of a known user.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBody {
    pub user_id: String,
    pub event_name: String,
    /// `yyyy-MM-ddTHH:mm:ss+0000`.
    pub event_time: String,
    pub event_data: Map<String, Value>,
}

/// The cart as event data: `items` (a JSON array of objects, for personalisation), flat
/// values for segmentation (`cartId`, `itemCount`, `imageUrl`).
pub fn cart_data(cart: &Cart, out: &mut Map<String, Value>) {
    let items: Vec<Value> = cart
        .items
        .iter()
        .map(|i| {
            let mut o = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    o.insert(k.to_string(), v);
                }
            };
            put("productId", i.product_id.clone().map(Value::from));
            put("variantId", i.variant_id.clone().map(Value::from));
            put("sku", i.sku.clone().map(Value::from));
            put("title", Some(truncate(&i.title).into()));
            put(
                "variantTitle",
                i.variant_title.as_deref().map(|v| truncate(v).into()),
            );
            put("quantity", Some(i.quantity.into()));
            put("price", Some(Value::Number(decimal(i.unit_price))));
            put("url", i.url.clone().map(Value::from));
            put("imageUrl", i.image_url.clone().map(Value::from));
            Value::Object(o)
        })
        .collect();
    out.insert("items".into(), Value::Array(items));
    let count: u64 = cart.items.iter().map(|i| u64::from(i.quantity)).sum();
    out.insert("itemCount".into(), count.into());
    if let Some(image) = cart.items.iter().find_map(|i| i.image_url.clone()) {
        out.insert("imageUrl".into(), image.into());
    }
}

/// WebEngage keeps string values shorter than 1,000 characters.
pub fn truncate(s: &str) -> String {
    if s.chars().count() < 1000 {
        return s.to_string();
    }
    let mut out: String = s.chars().take(998).collect();
    out.push('…');
    out
}

/// An amount as a JSON number with the currency's decimals (`59.98`, `1500`).
pub fn decimal(m: Money) -> serde_json::Number {
    serde_json::from_str::<serde_json::Number>(&m.to_decimal_string()).unwrap_or_else(|_| {
        let scale = 10f64.powi(m.currency.exponent() as i32);
        serde_json::Number::from_f64(m.minor as f64 / scale).unwrap_or_else(|| 0.into())
    })
}

/// WebEngage's answer: `{"response": {"status": "queued" | "error", "message": …}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Answer {
    #[serde(default)]
    pub response: Option<AnswerBody>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnswerBody {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

impl Answer {
    /// What WebEngage said: the response's message (and status), else a plain message.
    pub fn describe(&self) -> Option<String> {
        let r = self.response.as_ref();
        let message = r
            .and_then(|r| r.message.clone())
            .or_else(|| self.message.clone());
        let status = r.and_then(|r| r.status.clone());
        match (status, message) {
            (Some(s), Some(m)) => Some(format!("{s}: {m}")),
            (None, Some(m)) | (Some(m), None) => Some(m),
            (None, None) => None,
        }
        .filter(|s| !s.trim().is_empty())
    }
}
