//! SendGrid's wire types: the v3 `mail/send` request body and the Event Webhook's events.
//!
//! Shapes from twilio.com/docs/sendgrid/api-reference/mail-send (request body) and
//! twilio.com/docs/sendgrid/for-developers/tracking-events/event (event webhook). Only the fields
//! the hub writes or reads are modelled; unknown event fields are ignored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `POST /v3/mail/send` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailSend {
    pub personalizations: Vec<Personalization>,
    pub from: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `text/plain` first, then `text/html` (SendGrid requires this order).
    pub content: Vec<Content>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_settings: Option<MailSettings>,
    pub tracking_settings: TrackingSettings,
}

/// One envelope: its recipients and the custom args echoed back in every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Personalization {
    pub to: Vec<Address>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_args: BTreeMap<String, String>,
}

/// `{email, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `{type, value}`: `type` is a MIME type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Content {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enable {
    pub enable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailSettings {
    pub sandbox_mode: Enable,
}

/// The hub rewrites links and adds its own open pixel, so SendGrid's tracking stays off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackingSettings {
    pub click_tracking: ClickTracking,
    pub open_tracking: Enable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClickTracking {
    pub enable: bool,
    pub enable_text: bool,
}

impl TrackingSettings {
    pub fn disabled() -> Self {
        TrackingSettings {
            click_tracking: ClickTracking {
                enable: false,
                enable_text: false,
            },
            open_tracking: Enable { enable: false },
        }
    }
}

/// `{"errors":[{"field","message"}]}`, SendGrid's error body.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl ErrorBody {
    /// `"field: message; ..."`, or `None` when the body is not SendGrid's error shape.
    pub fn summary(body: &str) -> Option<String> {
        let parsed: ErrorBody = serde_json::from_str(body).ok()?;
        let parts: Vec<String> = parsed
            .errors
            .iter()
            .filter_map(|e| {
                let msg = e.message.as_deref()?.trim();
                Some(match e.field.as_deref().map(str::trim) {
                    Some(f) if !f.is_empty() => format!("{f}: {msg}"),
                    _ => msg.to_string(),
                })
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Custom args travel as strings; SendGrid echoes them as given, but a hand-made or older event
/// may carry a number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum StringOrNumber {
    String(String),
    Number(serde_json::Number),
}

impl StringOrNumber {
    pub fn into_string(self) -> String {
        match self {
            StringOrNumber::String(s) => s,
            StringOrNumber::Number(n) => n.to_string(),
        }
    }
}

/// One element of the Event Webhook's JSON array. Custom args arrive flattened at the top level;
/// the hub reads its own `message_id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebhookEvent {
    #[serde(default)]
    pub email: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub event: Option<String>,
    /// Unique per event (≤ 100 chars): the dedupe key.
    #[serde(default)]
    pub sg_event_id: Option<String>,
    /// `X-Message-Id` + `.` + a per-recipient suffix.
    #[serde(default)]
    pub sg_message_id: Option<String>,
    /// `click` only.
    #[serde(default)]
    pub url: Option<String>,
    /// `bounce`, `dropped`, `deferred`.
    #[serde(default)]
    pub reason: Option<String>,
    /// The hub's custom arg.
    #[serde(default)]
    pub message_id: Option<StringOrNumber>,
}
