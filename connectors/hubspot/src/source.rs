//! [`HubSpotSource`]: translation of a HubSpot webhook batch into normalized events.
//!
//! One normalized event per HubSpot event the hub uses, with HubSpot's `eventId` as its event id
//! (so retried batches and overlapping batches dedupe per event; `delivery_ids` stays empty):
//!
//! | `subscriptionType` | `propertyName` | event |
//! |---|---|---|
//! | `contact.creation` | | `ContactUpdated { external_id }` |
//! | `contact.propertyChange` | `email` | `ContactUpdated { email, external_id }` |
//! | | `phone`, `mobilephone` | `ContactUpdated { phone (E.164), external_id }` |
//! | | `firstname`, `lastname` | `ContactUpdated { first_name / last_name, external_id }` |
//! | | `hs_email_optout` | `"true"` → email consent `unsubscribed`, `"false"` → `subscribed` |
//! | `contact.deletion`, `contact.privacyDeletion` | | `Erasure::Contact { external_id }` |
//!
//! Other types and properties, invalid emails, unparseable phones (HubSpot phones without a
//! `+country` prefix cannot be read) and empty values are skipped; a batch with nothing used is
//! answered as ignored.

use crate::config::HubSpotSettings;
use crate::payload::HubSpotEvent;
use cartback_core::contact::clean_email;
use cartback_core::{
    Consent, ContactInfo, Erasure, Event, EventKind, InboundRequest, Source, TranslateError,
    Translation, Verified, VerifyError,
};
use chrono::{DateTime, Utc};

/// The HubSpot source: verifies deliveries and translates contact events.
#[derive(Debug)]
pub struct HubSpotSource {
    settings: HubSpotSettings,
}

impl HubSpotSource {
    pub fn new(settings: HubSpotSettings) -> Self {
        HubSpotSource { settings }
    }
}

/// The topic named in errors and in the translation of a batch with mixed types.
pub const BATCH_TOPIC: &str = "batch";

fn schema(reason: impl Into<String>) -> TranslateError {
    TranslateError::Schema {
        topic: BATCH_TOPIC.into(),
        reason: reason.into(),
    }
}

/// What one HubSpot event means to the hub, or `None` when it is skipped.
pub fn event_kind(e: &HubSpotEvent) -> Option<EventKind> {
    let external_id = e.object_id.as_ref().map(|i| i.0.clone());
    let contact = |info: ContactInfo| {
        Some(EventKind::ContactUpdated(ContactInfo {
            external_id: external_id.clone(),
            ..info
        }))
    };
    match e.subscription_type.trim() {
        "contact.creation" => {
            external_id.as_ref()?;
            contact(ContactInfo::default())
        }
        "contact.deletion" | "contact.privacyDeletion" => {
            Some(EventKind::Erasure(Erasure::Contact {
                email: None,
                phone: None,
                external_id: Some(external_id.clone()?),
                order_ids: Vec::new(),
            }))
        }
        "contact.propertyChange" => {
            let value = e.value_text()?;
            let name = e.property_name.as_deref()?.trim().to_ascii_lowercase();
            let info = match name.as_str() {
                "email" => ContactInfo {
                    email: Some(clean_email(&value)?),
                    ..ContactInfo::default()
                },
                "phone" | "mobilephone" => ContactInfo {
                    phone: Some(cartback_kit::wire::phone(&value, None, "hubspot")?),
                    ..ContactInfo::default()
                },
                "firstname" => ContactInfo {
                    first_name: Some(value),
                    ..ContactInfo::default()
                },
                "lastname" => ContactInfo {
                    last_name: Some(value),
                    ..ContactInfo::default()
                },
                "hs_email_optout" => ContactInfo {
                    email_consent: match value.to_ascii_lowercase().as_str() {
                        "true" => Consent::Unsubscribed,
                        "false" => Consent::Subscribed,
                        _ => return None,
                    },
                    ..ContactInfo::default()
                },
                _ => return None,
            };
            contact(info)
        }
        _ => None,
    }
}

impl Source for HubSpotSource {
    fn scheme(&self, url: &str) -> String {
        format!(
            "X-HubSpot-Signature-v3: base64 HMAC-SHA256 of method + URL + raw body + X-HubSpot-Request-Timestamp \
             (epoch milliseconds, within `max_age`) keyed with the source's `client_secret`, or X-HubSpot-Signature: \
             hex SHA-256 of `client_secret` + body (v1) or + method + URL + body (v2); the URL signed must be {url}"
        )
    }

    fn kind(&self) -> &'static str {
        "hubspot"
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        crate::verify::verify(&self.settings, request)
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let req = request.request();
        let value: serde_json::Value =
            serde_json::from_slice(&req.body).map_err(|e| TranslateError::Json(e.to_string()))?;
        let serde_json::Value::Array(items) = value else {
            return Err(schema("body is not a JSON array of events"));
        };
        let mut parsed = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let e: HubSpotEvent =
                serde_json::from_value(item).map_err(|err| schema(format!("[{i}]: {err}")))?;
            parsed.push(e);
        }
        let mut types: Vec<&str> = parsed.iter().map(|e| e.subscription_type.trim()).collect();
        types.sort_unstable();
        types.dedup();
        let topic = match types.as_slice() {
            [one] => (*one).to_string(),
            _ => BATCH_TOPIC.to_string(),
        };
        let events: Vec<Event> = parsed
            .iter()
            .filter_map(|e| {
                let kind = event_kind(e)?;
                let occurred_at: DateTime<Utc> = e
                    .occurred_at
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or(req.received_at);
                Some(Event {
                    source_id: req.source_id.clone(),
                    event_id: e.event_id.0.clone(),
                    topic: e.subscription_type.trim().to_string(),
                    occurred_at,
                    kind,
                })
            })
            .collect();
        if events.is_empty() {
            return Ok(Translation::ignored(topic, "no event the hub uses"));
        }
        Ok(Translation {
            delivery_ids: Vec::new(),
            topic,
            events,
            ignored: None,
        })
    }
}
