//! [`SendGridSink`]: sends a rendered reminder through `POST {base_url}/v3/mail/send` and
//! classifies SendGrid's answer with the shared status table.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Errors never
//! carry the API key or the message's subject or bodies.

use crate::config::{Mailbox, SendGridSettings};
use crate::payload::{
    Address, Content, Enable, ErrorBody, MailSend, MailSettings, Personalization, TrackingSettings,
};
use cartback_core::{DeliveryError, OutboundMessage, Receipt, Sink, SinkContext};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::Utc;
use std::collections::BTreeMap;

/// The response header holding SendGrid's id for an accepted message.
pub const MESSAGE_ID_HEADER: &str = "x-message-id";

/// The custom arg carrying the hub's message id (echoed top-level in every webhook event).
pub const MESSAGE_ID_ARG: &str = "message_id";

/// Event fields SendGrid writes itself: a custom arg with one of these names would clash with
/// them in the flattened webhook event, so metadata entries with these names are not sent.
pub const RESERVED_ARGS: &[&str] = &[
    "email",
    "timestamp",
    "event",
    "sg_event_id",
    "sg_message_id",
    "smtp-id",
    "category",
    "url",
    "url_offset",
    "reason",
    "status",
    "response",
    "attempt",
    "type",
    "useragent",
    "ip",
    "tls",
    "cert_err",
    "asm_group_id",
    "pool",
    "sg_machine_open",
    "bounce_classification",
    "marketing_campaign_id",
    "marketing_campaign_name",
];

/// The SendGrid email sink.
#[derive(Debug)]
pub struct SendGridSink {
    settings: SendGridSettings,
    client: reqwest::Client,
    endpoint: String,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    categories: Vec<String>,
}

impl SendGridSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: SendGridSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let from = settings.from_mailbox()?;
        let reply_to = settings.reply_to_mailbox()?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(SendGridSink {
            endpoint: settings.mail_send_url(),
            categories: settings.effective_categories(),
            settings,
            client,
            from,
            reply_to,
        })
    }

    /// The `mail/send` body for `message`; [`DeliveryError::Permanent`] when it can never be sent
    /// (no recipient email, no content, a header with a line break).
    pub fn request_body(&self, message: &OutboundMessage) -> Result<MailSend, DeliveryError> {
        let to = message
            .to
            .email
            .as_deref()
            .and_then(cartback_core::contact::clean_email)
            .ok_or_else(|| permanent("the recipient has no valid email address"))?;
        let name = message
            .to
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        let mut content = Vec::new();
        if let Some(text) = message.text.as_deref().filter(|t| !t.is_empty()) {
            content.push(Content {
                kind: "text/plain".into(),
                value: text.to_string(),
            });
        }
        if let Some(html) = message.html.as_deref().filter(|h| !h.is_empty()) {
            content.push(Content {
                kind: "text/html".into(),
                value: html.to_string(),
            });
        }
        if content.is_empty() {
            return Err(permanent("the message has neither a text nor an HTML body"));
        }
        let mut custom_args: BTreeMap<String, String> = message
            .metadata
            .iter()
            .filter(|(k, _)| !RESERVED_ARGS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        custom_args.insert(MESSAGE_ID_ARG.to_string(), message.id.clone());
        for (k, v) in &message.headers {
            if k.trim().is_empty() || k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
                return Err(permanent(format!("header {k:?} is not a valid header")));
            }
        }
        Ok(MailSend {
            personalizations: vec![Personalization {
                to: vec![Address { email: to, name }],
                custom_args,
            }],
            from: address(&self.from),
            reply_to: self.reply_to.as_ref().map(address),
            subject: message.subject.clone(),
            content,
            categories: categories(&self.categories, message.test),
            headers: message.headers.clone(),
            mail_settings: self.settings.sandbox_mode.then_some(MailSettings {
                sandbox_mode: Enable { enable: true },
            }),
            tracking_settings: TrackingSettings::disabled(),
        })
    }
}

fn address(m: &Mailbox) -> Address {
    Address {
        email: m.email.clone(),
        name: m.name.clone(),
    }
}

/// Classifies a non-2xx answer with the shared table (400 permanent, 429 retryable after
/// `Retry-After`, 5xx but 501 retryable), with SendGrid's `errors[]` as the reason when present.
pub fn classify_failure(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> DeliveryError {
    let reason = ErrorBody::summary(body).unwrap_or_else(|| body.to_string());
    status_error(status, headers, &reason, Utc::now())
}

#[async_trait::async_trait]
impl Sink for SendGridSink {
    fn kind(&self) -> &'static str {
        "sendgrid"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let body = self.request_body(message)?;
        let response = self
            .client
            .post(&self.endpoint)
            .bearer_auth(self.settings.api_key.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if (200..300).contains(&status) {
            let provider_message_id = headers
                .get(MESSAGE_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string);
            tracing::debug!(
                message_id = %message.id,
                provider_message_id = provider_message_id.as_deref().unwrap_or(""),
                status,
                "SendGrid accepted the message."
            );
            return Ok(Receipt {
                provider_message_id,
            });
        }
        let text = response.text().await.unwrap_or_default();
        let err = classify_failure(status, &headers, &text);
        tracing::warn!(message_id = %message.id, status, "SendGrid refused the message.");
        Err(err)
    }
}

/// The configured categories, and `test` for a test-mode message (within SendGrid's 10: the
/// last configured one gives way).
fn categories(configured: &[String], test: bool) -> Vec<String> {
    let mut out = configured.to_vec();
    if test {
        out.truncate(9);
        out.push("test".to_string());
    }
    out
}

#[cfg(test)]
mod category_tests {
    #[test]
    fn a_test_message_carries_the_test_category_within_ten() {
        let ten: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        assert_eq!(super::categories(&ten, false), ten);
        let with = super::categories(&ten, true);
        assert_eq!(with.len(), 10);
        assert_eq!(with.last().map(String::as_str), Some("test"));
        assert_eq!(super::categories(&[], true), vec!["test".to_string()]);
    }
}
