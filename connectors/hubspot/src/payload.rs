//! HubSpot's webhook wire type: a delivery body is a JSON array of events
//! (developers.hubspot.com/docs/api/webhooks: `eventId, subscriptionId, portalId, appId,
//! occurredAt, subscriptionType, attemptNumber, objectId, changeSource, propertyName,
//! propertyValue`). Unknown fields are ignored.

use serde::Deserialize;

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
