//! [`TwilioSink`]: sends a rendered reminder as an SMS through `POST .../Messages.json` and
//! classifies Twilio's answer as success, retryable or permanent.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*.

use crate::config::TwilioSettings;
use crate::payload::{codes, describe, ErrorBody, MessageResource};
use cartback_core::{DeliveryError, OutboundMessage, Receipt, Sink, SinkContext};
use cartback_kit::http::{permanent, retry_after, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::Utc;

/// The Twilio SMS sink.
#[derive(Debug)]
pub struct TwilioSink {
    settings: TwilioSettings,
    client: reqwest::Client,
    endpoint: String,
    callback_url: Option<String>,
}

impl TwilioSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: TwilioSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        let endpoint = settings.messages_url();
        let callback_url = settings.status_callback.then(|| ctx.callback_url());
        Ok(TwilioSink {
            settings,
            client,
            endpoint,
            callback_url,
        })
    }

    /// The form fields of the create-message request for `message`.
    pub fn form_fields(
        &self,
        message: &OutboundMessage,
    ) -> Result<Vec<(&'static str, String)>, DeliveryError> {
        let to = message
            .to
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| permanent("the recipient has no phone number"))?;
        let body = message
            .text
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| permanent("the message has no text body for SMS"))?;
        let mut fields = vec![("To", to.to_string())];
        match (&self.settings.from, &self.settings.messaging_service_sid) {
            (_, Some(mg)) => fields.push(("MessagingServiceSid", mg.trim().to_string())),
            (Some(from), None) => fields.push(("From", from.trim().to_string())),
            (None, None) => return Err(permanent("no sender configured")),
        }
        fields.push(("Body", body.to_string()));
        if let Some(cb) = &self.callback_url {
            fields.push(("StatusCallback", cb.clone()));
        }
        Ok(fields)
    }
}

/// Classifies a non-2xx answer. Twilio's error code refines the general status table: 20429
/// (too many concurrent requests) is always safe to retry, whatever the HTTP status.
pub fn classify_failure(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> DeliveryError {
    let now = Utc::now();
    let Some(err) = ErrorBody::parse(body) else {
        return status_error(status, headers, body, now);
    };
    let code = err.code();
    let mut reason = match code {
        Some(c) => format!("Twilio error {c}"),
        None => "Twilio error".to_string(),
    };
    if let Some(d) = code.and_then(describe) {
        reason.push_str(&format!(" ({d})"));
    }
    if let Some(m) = err.message.as_deref().filter(|m| !m.trim().is_empty()) {
        reason.push_str(": ");
        reason.push_str(m.trim());
    }
    if let Some(more) = err.more_info.as_deref().filter(|m| !m.trim().is_empty()) {
        reason.push_str(&format!(" [{}]", more.trim()));
    }
    if code == Some(codes::TOO_MANY_CONCURRENT_REQUESTS) {
        return DeliveryError::Retryable {
            reason: format!("HTTP {status}: {reason}"),
            retry_after: retry_after(headers, now),
        };
    }
    status_error(status, headers, &reason, now)
}

#[async_trait::async_trait]
impl Sink for TwilioSink {
    fn kind(&self) -> &'static str {
        "twilio"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let fields = self.form_fields(message)?;
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let response = self
            .client
            .post(&self.endpoint)
            .basic_auth(
                self.settings.account_sid.trim(),
                Some(self.settings.auth_token.expose()),
            )
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|e| transport_error(&e))?;
        if !(200..300).contains(&status) {
            let err = classify_failure(status, &headers, &body);
            tracing::warn!(message_id = %message.id, status, "Twilio refused the message.");
            return Err(err);
        }
        match serde_json::from_str::<MessageResource>(&body) {
            Ok(resource) => {
                tracing::debug!(message_id = %message.id, sid = %resource.sid, "Twilio accepted the message.");
                Ok(Receipt {
                    provider_message_id: Some(resource.sid),
                })
            }
            Err(_) => {
                // Accepted (2xx) but unreadable: do not resend, keep no provider id.
                tracing::warn!(message_id = %message.id, status, "Twilio accepted the message without a readable sid.");
                Ok(Receipt::default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    #[test]
    fn code_overrides_the_status_table() {
        let h = HeaderMap::new();
        assert!(matches!(
            classify_failure(400, &h, r#"{"code":20429,"message":"Too many"}"#),
            DeliveryError::Retryable { .. }
        ));
        match classify_failure(400, &h, r#"{"code":21614,"message":"not SMS"}"#) {
            DeliveryError::Permanent { reason } => {
                assert!(reason.contains("21614") && reason.contains("not SMS-capable"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify_failure(503, &h, "<html>down</html>"),
            DeliveryError::Retryable { .. }
        ));
    }
}
