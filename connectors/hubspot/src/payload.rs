//! HubSpot's webhook wire type: a delivery body is a JSON array of events
//! (developers.hubspot.com/docs/api/webhooks: `eventId, subscriptionId, portalId, appId,
//! occurredAt, subscriptionType, attemptNumber, objectId, changeSource, propertyName,
//! propertyValue`). Unknown fields are ignored.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// A numeric id (`eventId`, `objectId`) sent as a JSON integer or a string, kept as text exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or string id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                let v = v.trim();
                if v.is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(v), &self));
                }
                Ok(Id(v.to_string()))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

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
