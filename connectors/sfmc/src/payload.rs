//! Marketing Cloud's wire types: the client-credentials token request and answer
//! (`POST {auth host}/v2/token`), the Journey Builder entry event (`POST {rest host}
//! interaction/v1/events`) with its flat `Data`, and the error bodies of both hosts.
//!
//! `Data` is written into the event's data extension, one field per key, so it is flat: the
//! cart's items become `Item1Name`, `Item1Qty`… up to `max_items`, with `ItemCount` saying how
//! many there were. Field names follow platforms-out.md's example (`Email`, `CartId`,
//! `CartUrl`, `CartTotal`, `Currency`, `Item1Name`, `Item1Image`, `Item1Qty`).

use cartback_core::{Cart, ContactInfo, Money};
use cartback_kit::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The token request. No `Debug`: it holds the client secret.
#[derive(Serialize)]
pub struct TokenRequest<'a> {
    pub grant_type: &'static str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a str>,
}

/// The token answer (`access_token`, `token_type`, `expires_in`, `rest_instance_url`, …).
/// `Debug` shows the token as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    pub access_token: Secret,
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds the token lives (about 1080; a token lives 20 minutes).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The tenant's REST host, with a trailing slash.
    #[serde(default)]
    pub rest_instance_url: Option<String>,
}

/// The error of the auth host: `{"error": "invalid_client", "error_description": "…"}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenError {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl TokenError {
    pub fn describe(&self) -> Option<String> {
        match (self.error.as_deref(), self.error_description.as_deref()) {
            (Some(e), Some(d)) => Some(format!("{e}: {d}")),
            (Some(e), None) => Some(e.to_string()),
            (None, Some(d)) => Some(d.to_string()),
            (None, None) => None,
        }
    }
}

/// The error of the REST host: `{"message": "…", "errorcode": 30000, "documentation": "…"}`;
/// a throttled request adds `retryAfter` (seconds).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RestError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errorcode: Option<i64>,
    #[serde(default, rename = "retryAfter")]
    pub retry_after: Option<Value>,
}

impl RestError {
    pub fn describe(&self) -> Option<String> {
        let message = self
            .message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty());
        match (message, self.errorcode) {
            (Some(m), Some(c)) => Some(format!("{m} (errorcode {c})")),
            (Some(m), None) => Some(m.to_string()),
            (None, Some(c)) => Some(format!("errorcode {c}")),
            (None, None) => None,
        }
    }

    /// `retryAfter` as seconds (a number or a numeric string).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self.retry_after.as_ref()? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// The entry event: `{"ContactKey", "EventDefinitionKey", "Data": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryEvent {
    #[serde(rename = "ContactKey")]
    pub contact_key: String,
    #[serde(rename = "EventDefinitionKey")]
    pub event_definition_key: String,
    #[serde(rename = "Data")]
    pub data: Map<String, Value>,
}

/// The answer to an entry event: `201 {"eventInstanceId": "…"}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventAnswer {
    #[serde(default, rename = "eventInstanceId")]
    pub event_instance_id: Option<String>,
}

/// The hub's own fields, in both events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HubFields {
    pub message_id: String,
    pub test: bool,
    pub flow_id: Option<String>,
    pub step: Option<String>,
    pub variant: Option<String>,
    pub contact_id: Option<String>,
}

/// `Data` under construction: absent values are left out (the field stays empty).
#[derive(Debug, Default)]
pub struct Data(Map<String, Value>);

impl Data {
    pub fn text(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.0.insert(key.to_string(), Value::String(v.to_string()));
        }
        self
    }

    pub fn value(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.0.insert(key.to_string(), value.into());
        self
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The contact: `Email`, `FirstName`, `LastName`, `Phone`, `EmailConsent`, `SmsConsent`
    /// (`subscribed`, `not_subscribed`, `unsubscribed` or `unknown`), `ExternalId`.
    pub fn contact(&mut self, email: Option<&str>, info: &ContactInfo) -> &mut Self {
        self.text("Email", email)
            .text("FirstName", info.first_name.as_deref())
            .text("LastName", info.last_name.as_deref())
            .text("Phone", info.phone.as_deref())
            .value("EmailConsent", info.email_consent.as_str())
            .value("SmsConsent", info.sms_consent.as_str())
            .text("ExternalId", info.external_id.as_deref())
    }

    /// The cart's items: `ItemCount`, then for the first `max` items `Item{n}Name`,
    /// `Item{n}Variant`, `Item{n}Qty`, `Item{n}Price`, `Item{n}Url` (the hub's tracked link),
    /// `Item{n}Image`.
    pub fn items(&mut self, cart: &Cart, max: usize) -> &mut Self {
        self.value("ItemCount", cart.items.len() as u64);
        for (i, item) in cart.items.iter().take(max).enumerate() {
            let n = i + 1;
            self.text(&format!("Item{n}Name"), Some(&item.title))
                .text(&format!("Item{n}Variant"), item.variant_title.as_deref())
                .value(&format!("Item{n}Qty"), item.quantity)
                .value(&format!("Item{n}Price"), decimal(item.unit_price))
                .text(&format!("Item{n}Url"), item.url.as_deref())
                .text(&format!("Item{n}Image"), item.image_url.as_deref());
        }
        self
    }

    /// `MessageId`, `Test`, `ContactId`, `FlowId`, `Step`, `Variant`.
    pub fn hub(&mut self, hub: &HubFields) -> &mut Self {
        self.value("MessageId", hub.message_id.as_str())
            .value("Test", hub.test)
            .text("ContactId", hub.contact_id.as_deref())
            .text("FlowId", hub.flow_id.as_deref())
            .text("Step", hub.step.as_deref())
            .text("Variant", hub.variant.as_deref())
    }
}

/// An amount as a JSON number in major units (`59.98`).
pub fn decimal(m: Money) -> serde_json::Number {
    serde_json::from_str::<serde_json::Number>(&m.to_decimal_string()).unwrap_or_else(|_| {
        let scale = 10f64.powi(m.currency.exponent() as i32);
        serde_json::Number::from_f64(m.minor as f64 / scale).unwrap_or_else(|| 0.into())
    })
}
