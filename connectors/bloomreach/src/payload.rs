//! Bloomreach Engagement's wire types: the Tracking API's customer body (`POST
//! /track/v2/projects/{token}/customers`), event body (`…/customers/events`) and answer.
//! Field names are Bloomreach's, as its Tracking API reference and e-commerce tracking spec
//! (`cart_update`, `purchase`) give them.

use cartback_core::{Cart, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The customer's ids: `{"registered": "<id>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerIds {
    pub registered: String,
}

/// A customer's properties updated (the customer is created when new).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerBody {
    pub customer_ids: CustomerIds,
    pub properties: Map<String, Value>,
}

/// One event of a customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventBody {
    pub customer_ids: CustomerIds,
    pub event_type: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub properties: Map<String, Value>,
}

/// The cart in Bloomreach's e-commerce properties: `product_list` (one object per item),
/// `product_ids`, `total_quantity`, `local_currency`.
pub fn cart_properties(cart: &Cart, out: &mut Map<String, Value>) {
    let list: Vec<Value> = cart
        .items
        .iter()
        .map(|i| {
            let mut o = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    o.insert(k.to_string(), v);
                }
            };
            put("product_id", i.product_id.clone().map(Value::from));
            put("variant_id", i.variant_id.clone().map(Value::from));
            put("sku", i.sku.clone().map(Value::from));
            put("title", Some(i.title.clone().into()));
            put("variant_title", i.variant_title.clone().map(Value::from));
            put("quantity", Some(i.quantity.into()));
            put("price", Some(Value::Number(decimal(i.unit_price))));
            put("url", i.url.clone().map(Value::from));
            put("image_url", i.image_url.clone().map(Value::from));
            Value::Object(o)
        })
        .collect();
    out.insert("product_list".into(), Value::Array(list));
    out.insert(
        "product_ids".into(),
        Value::Array(
            cart.items
                .iter()
                .filter_map(|i| i.product_id.clone().map(Value::from))
                .collect(),
        ),
    );
    let count: u64 = cart.items.iter().map(|i| u64::from(i.quantity)).sum();
    out.insert("total_quantity".into(), count.into());
    if let Some(image) = cart.items.iter().find_map(|i| i.image_url.clone()) {
        out.insert("image_url".into(), image.into());
    }
}

/// An amount as a JSON number with the currency's decimals (`59.98`, `1500`).
pub fn decimal(m: Money) -> serde_json::Number {
    serde_json::from_str::<serde_json::Number>(&m.to_decimal_string()).unwrap_or_else(|_| {
        let scale = 10f64.powi(m.currency.exponent() as i32);
        serde_json::Number::from_f64(m.minor as f64 / scale).unwrap_or_else(|| 0.into())
    })
}

/// Bloomreach's answer: `{"success": true}`, or `{"success": false, "errors": …}`; some errors
/// carry `error` / `message`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Answer {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub errors: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
}

impl Answer {
    /// What Bloomreach said: its errors (`"properties.timestamp: invalid"`), else its message.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        for v in [&self.errors, &self.error].into_iter().flatten() {
            flatten("", v, &mut parts);
        }
        if parts.is_empty() {
            return self.message.clone().filter(|s| !s.trim().is_empty());
        }
        Some(parts.join("; "))
    }
}

fn flatten(at: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if at.is_empty() => out.push(s.clone()),
        Value::String(s) => out.push(format!("{at}: {s}")),
        Value::Array(a) => a.iter().for_each(|x| flatten(at, x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            let key = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            flatten(&key, x, out)
        }),
        Value::Null => {}
        other => out.push(format!("{at}: {other}")),
    }
}
