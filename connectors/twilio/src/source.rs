//! [`TwilioEvents`]: Twilio's status callbacks and inbound messages, verified and translated into
//! message-status and SMS opt-out events.
//!
//! - A status callback (has `MessageStatus`): `delivered` → Delivered; `undelivered` / `failed` →
//!   Failed, plus an SMS opt-out of `To` when `ErrorCode` is 21610 (the recipient had replied
//!   STOP). Intermediate statuses (`queued`, `sent`, ...) are ignored.
//! - An inbound message (has `Body` and `From`): a first word among Twilio's default opt-out
//!   keywords opts `From` out of SMS, an opt-in keyword opts it back in; anything else is ignored.

use crate::config::TwilioSettings;
use crate::payload::{codes, form_pairs, Callback};
use crate::verify::{has_body_hash, is_form};
use cartback_core::{
    normalize_phone, Event, EventKind, InboundRequest, MessageStatus, MessageStatusUpdate, OptOut,
    OptOutChannel, Source, TranslateError, Translation, Verified, VerifyError,
};

/// Twilio's default opt-out keywords (long codes and toll-free numbers).
pub const OPT_OUT_KEYWORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];

/// Twilio's default opt-in keywords.
pub const OPT_IN_KEYWORDS: [&str; 3] = ["START", "UNSTOP", "YES"];

pub const TOPIC_STATUS: &str = "status_callback";
pub const TOPIC_INBOUND: &str = "inbound_message";

/// The Twilio source: the hub's own status-callback URL and the number's inbound webhook.
#[derive(Debug)]
pub struct TwilioEvents {
    settings: TwilioSettings,
}

impl TwilioEvents {
    pub fn new(settings: TwilioSettings) -> Self {
        TwilioEvents { settings }
    }
}

/// What an inbound message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
}

/// Classifies an inbound SMS body: trimmed, upper-cased, first word (trailing punctuation
/// dropped) against the default keyword lists.
pub fn keyword(body: &str) -> Option<Keyword> {
    let upper = body.trim().to_uppercase();
    let first = upper
        .split_whitespace()
        .next()?
        .trim_end_matches(|c: char| c.is_ascii_punctuation());
    if OPT_OUT_KEYWORDS.contains(&first) {
        Some(Keyword::OptOut)
    } else if OPT_IN_KEYWORDS.contains(&first) {
        Some(Keyword::OptIn)
    } else {
        None
    }
}

fn schema(topic: &str, reason: impl Into<String>) -> TranslateError {
    TranslateError::Schema {
        topic: topic.to_string(),
        reason: reason.into(),
    }
}

/// An E.164 phone from a callback field, or a schema error naming the field.
fn phone(topic: &str, field: &str, value: Option<&str>) -> Result<String, TranslateError> {
    let raw = value.ok_or_else(|| schema(topic, format!("{field} is missing")))?;
    normalize_phone(raw, None)
        .map_err(|e| schema(topic, format!("{field} is not an E.164 phone number: {e}")))
}

fn event(req: &InboundRequest, event_id: String, topic: &str, kind: EventKind) -> Event {
    Event {
        source_id: req.source_id.clone(),
        event_id,
        topic: topic.to_string(),
        occurred_at: req.received_at,
        kind,
    }
}

fn translate_status(
    req: &InboundRequest,
    cb: &Callback,
    sid: &str,
    status: &str,
) -> Result<Translation, TranslateError> {
    let topic = TOPIC_STATUS;
    let mapped = match status {
        "delivered" => MessageStatus::Delivered,
        "undelivered" | "failed" => MessageStatus::Failed,
        other => {
            return Ok(Translation::ignored(
                topic,
                format!("status {other:?} is not used"),
            ))
        }
    };
    let id = format!("{sid}:{status}");
    let mut events = vec![event(
        req,
        id.clone(),
        topic,
        EventKind::MessageStatus(MessageStatusUpdate {
            message_id: None,
            provider_message_id: Some(sid.to_string()),
            status: mapped,
            url: None,
        }),
    )];
    if mapped == MessageStatus::Failed && cb.error_code() == Some(codes::UNSUBSCRIBED_RECIPIENT) {
        let address = phone(topic, "To", cb.to.as_deref())?;
        events.push(event(
            req,
            format!("{id}:opt_out"),
            topic,
            EventKind::OptOut(OptOut {
                channel: OptOutChannel::Sms,
                address,
                resubscribe: false,
            }),
        ));
    }
    Ok(Translation {
        delivery_ids: vec![id],
        topic: topic.to_string(),
        events,
        ignored: None,
    })
}

fn translate_inbound(
    req: &InboundRequest,
    cb: &Callback,
    sid: &str,
    from: &str,
    body: &str,
) -> Result<Translation, TranslateError> {
    let topic = TOPIC_INBOUND;
    // A Messaging Service with Advanced Opt-Out names the keyword class itself.
    let kw = match cb
        .opt_out_type
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("STOP") => Some(Keyword::OptOut),
        Some("START") => Some(Keyword::OptIn),
        _ => keyword(body),
    };
    let Some(kw) = kw else {
        return Ok(Translation::ignored(
            topic,
            "not an opt-out or opt-in keyword",
        ));
    };
    if from.contains(':') {
        // `whatsapp:+1...`, `messenger:...`: not an SMS address.
        return Ok(Translation::ignored(topic, "sender is not an SMS address"));
    }
    let address = phone(topic, "From", Some(from))?;
    Ok(Translation {
        delivery_ids: vec![sid.to_string()],
        topic: topic.to_string(),
        events: vec![event(
            req,
            sid.to_string(),
            topic,
            EventKind::OptOut(OptOut {
                channel: OptOutChannel::Sms,
                address,
                resubscribe: kw == Keyword::OptIn,
            }),
        )],
        ignored: None,
    })
}

impl Source for TwilioEvents {
    fn scheme(&self, url: &str) -> String {
        format!(
            "X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by every form parameter's name and \
             value, sorted by name, keyed with the channel's `auth_token`; the URL signed must be {url}"
        )
    }

    fn kind(&self) -> &'static str {
        "twilio"
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        crate::verify::verify(&self.settings, request)
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let req = request.request();
        if has_body_hash(req) || !is_form(req) {
            return Ok(Translation::ignored(
                "json",
                "JSON webhooks are not messaging callbacks",
            ));
        }
        let cb = Callback::from_params(&form_pairs(&req.body));
        if let Some(account) = cb.account_sid.as_deref() {
            if account.trim() != self.settings.account_sid.trim() {
                // Signed with our token yet for another account: nothing for this channel.
                return Ok(Translation::ignored(
                    "account",
                    "AccountSid does not match the configured account",
                ));
            }
        }
        let status = cb
            .message_status
            .as_deref()
            .map(|s| s.trim().to_ascii_lowercase());
        let inbound = match (&cb.body, &cb.from) {
            (Some(body), Some(from)) if matches!(status.as_deref(), None | Some("received")) => {
                Some((body.as_str(), from.trim()))
            }
            _ => None,
        };
        let topic = if inbound.is_some() || status.is_none() {
            TOPIC_INBOUND
        } else {
            TOPIC_STATUS
        };
        let sid = cb
            .sid()
            .ok_or_else(|| schema(topic, "MessageSid is missing"))?
            .to_string();
        if let Some((body, from)) = inbound {
            return translate_inbound(req, &cb, &sid, from, body);
        }
        match status {
            Some(status) => translate_status(req, &cb, &sid, &status),
            None => Ok(Translation::ignored(
                topic,
                "neither a status callback nor an inbound message",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        assert_eq!(keyword("stop please"), Some(Keyword::OptOut));
        assert_eq!(keyword("  Stop. "), Some(Keyword::OptOut));
        assert_eq!(keyword("OPTOUT"), Some(Keyword::OptOut));
        assert_eq!(keyword("unstop"), Some(Keyword::OptIn));
        assert_eq!(keyword("yes!"), Some(Keyword::OptIn));
        assert_eq!(keyword("please stop"), None);
        assert_eq!(keyword("stopping by later"), None);
        assert_eq!(keyword(""), None);
    }
}
