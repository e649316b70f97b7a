//! MailerLite's wire types: the subscriber upsert (`POST /api/subscribers`, create-or-update by
//! email), its answer, and the error body. Field names are MailerLite's, as its Subscribers API
//! page and official SDK give them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The create-or-update body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscriberBody {
    pub email: String,
    /// Standard fields (`name`, `last_name`, `phone`) and the cart's custom fields.
    pub fields: Map<String, Value>,
    /// Group ids to add the subscriber to (existing memberships stay).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Only `"unsubscribed"`, when the hub knows the shopper opted out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

/// The answer: `{"data": {"id": "…", "email": "…", …}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubscriberAnswer {
    #[serde(default)]
    pub data: Option<SubscriberData>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubscriberData {
    #[serde(default)]
    pub id: Option<Value>,
}

impl SubscriberAnswer {
    /// The subscriber's id (a string of digits; a number is read too).
    pub fn id(&self) -> Option<String> {
        match self.data.as_ref()?.id.as_ref()? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// MailerLite's error answer: `{"message": "…", "errors": {"email": ["…"]}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Option<Map<String, Value>>,
}

impl ErrorBody {
    /// `"fields.cart_url: The fields.cart_url must be a string."`-style text naming each refused
    /// field, else the message.
    pub fn describe(&self) -> Option<String> {
        let fields: Vec<String> = self
            .errors
            .iter()
            .flatten()
            .map(|(field, v)| {
                let said: Vec<&str> = match v {
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    Value::String(s) => vec![s.as_str()],
                    _ => Vec::new(),
                };
                if said.is_empty() {
                    field.clone()
                } else {
                    format!("{field}: {}", said.join(" "))
                }
            })
            .collect();
        if !fields.is_empty() {
            return Some(fields.join("; "));
        }
        self.message.clone().filter(|s| !s.trim().is_empty())
    }
}
