//! [`SendGridEvents`]: the Event Webhook as a source. Verification (with the configured key;
//! without one, requests are refused unless `allow_unsigned_events` is set), then translation of
//! the event array into message statuses and opt-outs.
//!
//! Every failure is a [`TranslateError`], never a panic. The request has no delivery id of its
//! own: each event carries `sg_event_id`, which becomes the event id the store dedupes on.

use crate::config::SendGridSettings;
use crate::payload::WebhookEvent;
use cartback_core::contact::clean_email;
use cartback_core::{
    Event, EventKind, InboundRequest, MessageStatus, MessageStatusUpdate, OptOut, OptOutChannel,
    Source, TranslateError, Translation, Verified, VerifyError,
};
use chrono::{DateTime, Utc};
use p256::ecdsa::VerifyingKey;

/// The topic of a whole webhook request.
pub const TOPIC: &str = "event";

/// What the configured verification key turned into.
#[derive(Debug, Clone)]
enum KeyState {
    /// No key configured: every request is refused (fail closed).
    NoKey,
    /// No key and `allow_unsigned_events = true`: every request is accepted unsigned (insecure;
    /// [`SendGridSettings::warnings`] says so).
    Unsigned,
    Key(Box<VerifyingKey>),
    /// A key was configured but does not parse: every request is refused (fail closed).
    Invalid,
}

/// The SendGrid Event Webhook source.
#[derive(Debug)]
pub struct SendGridEvents {
    key: KeyState,
}

impl SendGridEvents {
    /// Reads the verification key from `settings`. A key that does not parse makes every
    /// request fail verification ([`SendGridSettings::validate`] reports it), and so does no key
    /// at all unless `allow_unsigned_events` is set. A key always wins over
    /// `allow_unsigned_events` (the two together fail validation).
    pub fn new(settings: SendGridSettings) -> Self {
        let key = match settings.event_webhook_public_key.as_deref() {
            None if settings.allow_unsigned_events => KeyState::Unsigned,
            None => KeyState::NoKey,
            Some(k) => match crate::verify::parse_public_key(k) {
                Ok(key) => KeyState::Key(Box::new(key)),
                Err(_) => KeyState::Invalid,
            },
        };
        SendGridEvents { key }
    }

    /// True when requests must be signed (false only with `allow_unsigned_events` and no key).
    pub fn requires_signature(&self) -> bool {
        !matches!(self.key, KeyState::Unsigned)
    }
}

fn schema(reason: impl Into<String>) -> TranslateError {
    TranslateError::Schema {
        topic: TOPIC.to_string(),
        reason: reason.into(),
    }
}

/// What an event name becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Status(MessageStatus),
    /// `spamreport`: a complaint and an opt-out.
    Complaint,
    OptOut {
        resubscribe: bool,
    },
}

fn route(event: &str) -> Option<Route> {
    Some(match event {
        "delivered" => Route::Status(MessageStatus::Delivered),
        "open" => Route::Status(MessageStatus::Opened),
        "click" => Route::Status(MessageStatus::Clicked),
        "bounce" | "dropped" => Route::Status(MessageStatus::Bounced),
        "spamreport" => Route::Complaint,
        "unsubscribe" | "group_unsubscribe" => Route::OptOut { resubscribe: false },
        "group_resubscribe" => Route::OptOut { resubscribe: true },
        // processed, deferred and anything newer: nothing the hub uses.
        _ => return None,
    })
}

/// `sg_message_id` up to its first `.`: the `X-Message-Id` the sink recorded.
pub fn provider_message_id(sg_message_id: &str) -> Option<String> {
    let id = sg_message_id.split('.').next().unwrap_or_default().trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn translate_one(
    source_id: &str,
    index: usize,
    raw: serde_json::Value,
    out: &mut Vec<Event>,
) -> Result<(), TranslateError> {
    if !raw.is_object() {
        return Err(schema(format!("event {index} is not an object")));
    }
    let ev: WebhookEvent =
        serde_json::from_value(raw).map_err(|e| schema(format!("event {index}: {e}")))?;
    let name = ev
        .event
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| schema(format!("event {index} has no `event` name")))?;
    let Some(route) = route(name) else {
        return Ok(());
    };
    let event_id = ev
        .sg_event_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| schema(format!("event {index} ({name}) has no sg_event_id")))?;
    let occurred_at: DateTime<Utc> = ev
        .timestamp
        .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .ok_or_else(|| schema(format!("event {index} ({name}) has no valid timestamp")))?;
    let base = |event_id: String, kind: EventKind| Event {
        source_id: source_id.to_string(),
        event_id,
        topic: name.to_string(),
        occurred_at,
        kind,
    };
    let status = |status: MessageStatus, url: Option<String>| {
        EventKind::MessageStatus(MessageStatusUpdate {
            message_id: ev
                .message_id
                .clone()
                .map(|m| m.into_string())
                .filter(|m| !m.trim().is_empty()),
            provider_message_id: ev.sg_message_id.as_deref().and_then(provider_message_id),
            status,
            url,
        })
    };
    let opt_out = |resubscribe: bool| -> Result<EventKind, TranslateError> {
        let address = ev
            .email
            .as_deref()
            .and_then(clean_email)
            .ok_or_else(|| schema(format!("event {index} ({name}) has no valid email")))?;
        Ok(EventKind::OptOut(OptOut {
            channel: OptOutChannel::Email,
            address,
            resubscribe,
        }))
    };
    match route {
        Route::Status(s) => {
            let url = (s == MessageStatus::Clicked)
                .then(|| ev.url.clone())
                .flatten()
                .filter(|u| !u.trim().is_empty());
            out.push(base(event_id.to_string(), status(s, url)));
        }
        Route::Complaint => {
            let opt = opt_out(false)?;
            out.push(base(
                event_id.to_string(),
                status(MessageStatus::Complained, None),
            ));
            out.push(base(format!("{event_id}:optout"), opt));
        }
        Route::OptOut { resubscribe } => {
            out.push(base(event_id.to_string(), opt_out(resubscribe)?));
        }
    }
    Ok(())
}

/// Translates an Event Webhook body (a JSON array of events) for `source_id`.
pub fn translate_body(source_id: &str, body: &[u8]) -> Result<Translation, TranslateError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| TranslateError::Json(e.to_string()))?;
    let serde_json::Value::Array(items) = value else {
        return Err(schema("the body is not a JSON array of events"));
    };
    let mut events = Vec::new();
    for (index, raw) in items.into_iter().enumerate() {
        translate_one(source_id, index, raw, &mut events)?;
    }
    if events.is_empty() {
        return Ok(Translation::ignored(TOPIC, "no event the hub uses"));
    }
    Ok(Translation {
        delivery_ids: Vec::new(),
        topic: TOPIC.to_string(),
        events,
        ignored: None,
    })
}

impl Source for SendGridEvents {
    fn scheme(&self, _url: &str) -> String {
        "X-Twilio-Email-Event-Webhook-Signature: base64 DER ECDSA P-256 SHA-256 signature of \
         X-Twilio-Email-Event-Webhook-Timestamp (unix seconds, within 10 minutes) followed by the raw body, \
         checked with the channel's `event_webhook_public_key` (without one, events are refused \
         unless `allow_unsigned_events = true`)"
            .into()
    }

    fn kind(&self) -> &'static str {
        "sendgrid"
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        match &self.key {
            KeyState::Unsigned => Ok(()),
            KeyState::Key(key) => crate::verify::verify(key, request),
            KeyState::NoKey | KeyState::Invalid => Err(VerifyError::MissingCredentials),
        }
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let req = request.request();
        let t = translate_body(&req.source_id, &req.body)?;
        tracing::debug!(
            source_id = %req.source_id,
            events = t.events.len(),
            "Translated SendGrid events."
        );
        Ok(t)
    }
}
