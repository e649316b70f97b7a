//! HubSpot's wire types, both ways.
//!
//! In: a webhook delivery body is a JSON array of events
//! (developers.hubspot.com/docs/api/webhooks: `eventId, subscriptionId, portalId, appId,
//! occurredAt, subscriptionType, attemptNumber, objectId, changeSource, propertyName,
//! propertyValue`). Unknown fields are ignored.
//!
//! Out (the hand-off channel): the contact batch upsert
//! (`POST /crm/objects/2026-03/contacts/batch/upsert`, `{"inputs":[{"id","idProperty",
//! "properties"}]}` → `{"status","results":[{"id","new",...}],"errors":[...],"numErrors"}`), the
//! custom event occurrence (`POST /events/2026-03/send`, `{"eventName","email","occurredAt",
//! "uuid","properties"}` → 2xx, no body) and HubSpot's error body (`{"status":"error","message",
//! "correlationId","category","errors":[{"message","code","context":{"propertyName":[..]}}]}`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use cartback_kit::wire::Id;

/// One event of a delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubSpotEvent {
    pub event_id: Id,
    #[serde(default)]
    pub subscription_id: Option<Id>,
    #[serde(default)]
    pub portal_id: Option<Id>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub occurred_at: Option<i64>,
    pub subscription_type: String,
    #[serde(default)]
    pub attempt_number: Option<u32>,
    #[serde(default)]
    pub object_id: Option<Id>,
    #[serde(default)]
    pub property_name: Option<String>,
    /// HubSpot sends property values as strings.
    #[serde(default)]
    pub property_value: Option<serde_json::Value>,
    #[serde(default)]
    pub change_source: Option<String>,
}

impl HubSpotEvent {
    /// `propertyValue` as text (strings as is, numbers and booleans printed), trimmed.
    pub fn value_text(&self) -> Option<String> {
        let text = match self.property_value.as_ref()? {
            serde_json::Value::String(s) => s.trim().to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        Some(text).filter(|t| !t.is_empty())
    }
}

/// `POST .../contacts/batch/upsert`: always one input here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchUpsert {
    pub inputs: Vec<UpsertInput>,
}

/// One contact, found (or created) by the value of `idProperty`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertInput {
    /// The email address.
    pub id: String,
    /// `"email"`.
    pub id_property: &'static str,
    /// Property internal name → value; HubSpot takes every value as a string (`""` clears one).
    pub properties: BTreeMap<String, String>,
}

/// The upsert's answer (200, or 207 when some inputs failed).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    #[serde(default)]
    pub results: Vec<UpsertedContact>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
    #[serde(default)]
    pub num_errors: Option<u64>,
}

/// A contact as the upsert returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct UpsertedContact {
    /// HubSpot's record id (a string of digits).
    pub id: Id,
    /// Whether the upsert created it.
    #[serde(default)]
    pub new: Option<bool>,
    /// The contact's properties as written (`email` among them): how a batch's answers are
    /// matched to its inputs, which HubSpot does not promise to keep in order.
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
}

impl UpsertedContact {
    /// The contact's email address, lower-cased, when the answer carries it.
    pub fn email(&self) -> Option<String> {
        self.properties
            .get("email")
            .and_then(|e| e.as_deref())
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
    }
}

/// `POST /events/<version>/send`: one custom event occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOccurrence {
    /// The fully qualified name, `pe<HubID>_<name>`.
    pub event_name: String,
    /// Associates the occurrence with the contact.
    pub email: String,
    /// RFC 3339.
    pub occurred_at: String,
    /// The hub's message id (a UUID): the same on every retry of the message.
    pub uuid: String,
    /// Event property → value (strings, as HubSpot's SDKs type them).
    pub properties: BTreeMap<String, String>,
}

/// HubSpot's error body (and the `errors[]` of a batch answer).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
    /// The v1-style list: `[{"isValid":false,"message","error","name"}]`.
    #[serde(default, rename = "validationResults")]
    pub validation_results: Vec<ValidationResult>,
}

/// One error: `context.propertyName` names the property at fault when HubSpot says so.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub context: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "in")]
    pub in_field: Option<String>,
    /// Batch errors nest the details again.
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ValidationResult {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

impl ErrorDetail {
    /// The property (or field) this error is about, if it says.
    pub fn field(&self) -> Option<String> {
        let from_context = ["propertyName", "properties", "property"]
            .iter()
            .filter_map(|k| self.context.get(*k))
            .find_map(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Array(a) => {
                    a.iter().find_map(|x| x.as_str().map(str::to_string))
                }
                _ => None,
            });
        from_context
            .or_else(|| self.in_field.clone())
            .or_else(|| self.errors.iter().find_map(ErrorDetail::field))
            .or_else(|| self.message.as_deref().and_then(field_in_message))
    }

    /// The most specific message: a nested one, else this one.
    pub fn text(&self) -> Option<String> {
        self.errors
            .iter()
            .find_map(ErrorDetail::text)
            .or_else(|| self.message.clone())
    }
}

impl ErrorBody {
    /// `property "x": <message>` when a property is named, else the message; `None` when the
    /// body is not HubSpot's error JSON.
    pub fn summary(body: &str) -> Option<String> {
        let e: ErrorBody = serde_json::from_str(body).ok()?;
        let field = e
            .errors
            .iter()
            .find_map(ErrorDetail::field)
            .or_else(|| e.validation_results.iter().find_map(|v| v.name.clone()))
            .or_else(|| e.message.as_deref().and_then(field_in_message));
        let text = e
            .validation_results
            .iter()
            .find_map(|v| v.message.clone())
            .or_else(|| e.errors.iter().find_map(ErrorDetail::text))
            .or(e.message)?;
        Some(match field {
            Some(f) => format!("property {f:?}: {text}"),
            None => text,
        })
    }
}

/// The property a v3 validation message embeds (`... [{"isValid":false,...,"name":"x"}]`).
fn field_in_message(message: &str) -> Option<String> {
    let start = message.find('[')?;
    let list: Vec<ValidationResult> = serde_json::from_str(&message[start..]).ok()?;
    list.into_iter().find_map(|v| v.name)
}
