//! The MIME message for one [`OutboundMessage`]. Pure: no I/O, so it can be checked in isolation.

use cartback_core::{DeliveryError, OutboundMessage};
use cartback_kit::http::permanent;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

/// Headers the sink writes itself; a message header with one of these names is refused rather
/// than allowed to change the envelope or the MIME structure.
pub const RESERVED_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "sender",
    "reply-to",
    "subject",
    "message-id",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "return-path",
];

/// `<{id}@cartback>`: the `Message-ID` for the hub's message `id`. Characters a msg-id cannot
/// carry are replaced by `_`, so the same hub id always gives the same header.
pub fn message_id(id: &str) -> String {
    let local: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let local = local.trim_matches('.');
    let local = if local.is_empty() { "message" } else { local };
    format!("<{local}@cartback>")
}

/// Builds the message; [`DeliveryError::Permanent`] when it can never be sent (no valid recipient,
/// neither a text nor an HTML body, a malformed extra header).
pub fn build(
    message: &OutboundMessage,
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
) -> Result<Message, DeliveryError> {
    let email = message
        .to
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| permanent("the recipient has no email address"))?;
    let address: Address = email
        .parse()
        .map_err(|_| permanent("the recipient's email address is not valid"))?;
    let name = message
        .to
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains(['\r', '\n']))
        .map(str::to_string);
    let mut builder = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(name, address))
        .message_id(Some(message_id(&message.id)));
    if let Some(r) = reply_to {
        builder = builder.reply_to(r.clone());
    }
    if let Some(subject) = &message.subject {
        if subject.contains(['\r', '\n']) {
            return Err(permanent("the subject contains a line break"));
        }
        builder = builder.subject(subject.clone());
    }
    for (k, v) in &message.headers {
        let key = k.trim();
        if RESERVED_HEADERS.contains(&key.to_ascii_lowercase().as_str()) {
            return Err(permanent(format!(
                "header {key:?} is set by the sink and cannot be overridden"
            )));
        }
        if v.contains(['\r', '\n']) {
            return Err(permanent(format!("header {key:?} contains a line break")));
        }
        let name = HeaderName::new_from_ascii(key.to_string())
            .map_err(|_| permanent(format!("header {key:?} is not a valid header name")))?;
        builder = builder.raw_header(HeaderValue::new(name, v.clone()));
    }
    let text = message.text.as_deref().filter(|t| !t.is_empty());
    let html = message.html.as_deref().filter(|h| !h.is_empty());
    let built = match (text, html) {
        (Some(t), Some(h)) => builder.multipart(MultiPart::alternative_plain_html(
            t.to_string(),
            h.to_string(),
        )),
        (Some(t), None) => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(t.to_string()),
        ),
        (None, Some(h)) => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(h.to_string()),
        ),
        (None, None) => return Err(permanent("the message has neither a text nor an HTML body")),
    };
    built.map_err(|e| permanent(format!("cannot build the message: {e}")))
}
