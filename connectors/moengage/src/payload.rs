//! MoEngage's wire types: the Data API's customer body (`POST /v1/customer/{workspace_id}`),
//! event body (`POST /v1/event/{workspace_id}`) and error body. Field names are MoEngage's, as
//! its Track User and Track Event pages give them.

use cartback_core::{Cart, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A user created or updated (`"type": "customer"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerBody {
    /// Always `"customer"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub customer_id: String,
    /// Standard attributes (`email`, `mobile`, `first_name`, `last_name`, `name`) and the
    /// hub's own (`cartback_contact_id`).
    pub attributes: Map<String, Value>,
}

/// Events of one user (`"type": "event"`); the hub sends one action per call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventBody {
    /// Always `"event"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub customer_id: String,
    pub actions: Vec<Action>,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// The event name.
    pub action: String,
    pub attributes: Map<String, Value>,
    /// When it happened, Unix seconds (MoEngage refuses future-dated events).
    pub current_time: i64,
}

/// The cart as flat event attributes (MoEngage segments on flat attributes; arrays of strings
/// and numbers are kept): `cart_id`, `cart_url`, `value`, `currency`, `product_names`,
/// `image_url` as in MoEngage's documented example, plus one array per item field, index for
/// index.
pub fn cart_attributes(cart: &Cart, out: &mut Map<String, Value>) {
    let items = &cart.items;
    let strings = |f: &dyn Fn(&cartback_core::LineItem) -> Option<String>| -> Value {
        Value::Array(
            items
                .iter()
                .map(|i| Value::String(f(i).unwrap_or_default()))
                .collect(),
        )
    };
    out.insert("product_names".into(), strings(&|i| Some(i.title.clone())));
    out.insert("product_ids".into(), strings(&|i| i.product_id.clone()));
    out.insert("variant_ids".into(), strings(&|i| i.variant_id.clone()));
    out.insert(
        "variant_titles".into(),
        strings(&|i| i.variant_title.clone()),
    );
    out.insert("skus".into(), strings(&|i| i.sku.clone()));
    out.insert(
        "quantities".into(),
        Value::Array(items.iter().map(|i| i.quantity.into()).collect()),
    );
    out.insert(
        "unit_prices".into(),
        Value::Array(
            items
                .iter()
                .map(|i| Value::Number(decimal(i.unit_price)))
                .collect(),
        ),
    );
    out.insert("product_urls".into(), strings(&|i| i.url.clone()));
    out.insert("image_urls".into(), strings(&|i| i.image_url.clone()));
    if let Some(image) = items.iter().find_map(|i| i.image_url.clone()) {
        out.insert("image_url".into(), image.into());
    }
    let count: u64 = items.iter().map(|i| u64::from(i.quantity)).sum();
    out.insert("item_count".into(), count.into());
}

/// An amount as a JSON number with the currency's decimals (`59.98`, `1500`).
pub fn decimal(m: Money) -> serde_json::Number {
    serde_json::from_str::<serde_json::Number>(&m.to_decimal_string()).unwrap_or_else(|_| {
        let scale = 10f64.powi(m.currency.exponent() as i32);
        serde_json::Number::from_f64(m.minor as f64 / scale).unwrap_or_else(|| 0.into())
    })
}

/// MoEngage's error answer: `{"status": "fail", "error": {"message", "type", ...}}` (some
/// answers carry a plain `message` or `error` text).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
}

impl ErrorBody {
    /// What MoEngage said: the error's type and message (`"Bad Request: customer_id is
    /// missing"`), else its plain message.
    pub fn describe(&self) -> Option<String> {
        let from_error = match &self.error {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => {
                let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
                let kind = text("type");
                let attr = text("attribute").or_else(|| text("field"));
                let message = text("message").or_else(|| text("details"));
                let parts: Vec<String> = [kind, attr, message].into_iter().flatten().collect();
                (!parts.is_empty()).then(|| parts.join(": "))
            }
            _ => None,
        };
        from_error
            .or_else(|| self.message.clone())
            .filter(|s| !s.trim().is_empty())
    }
}
