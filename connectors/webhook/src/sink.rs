//! [`WebhookSink`]: posts each message as signed JSON and classifies the receiver's answer.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Errors never
//! carry the secret or the body.

use crate::config::WebhookSettings;
use crate::payload::WebhookPayload;
use crate::signature::sign;
use cartback_core::{DeliveryError, OutboundMessage, Receipt, Sink, SinkContext};
use cartback_kit::http::{status_error, transport_error};
use cartback_kit::plugin::BuildError;
use cartback_kit::Secret;
use chrono::Utc;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The signed webhook sink.
#[derive(Debug)]
pub struct WebhookSink {
    url: reqwest::Url,
    secret: Secret,
    static_headers: HeaderMap,
    client: reqwest::Client,
}

impl WebhookSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: WebhookSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let url = settings.parsed_url()?;
        let mut static_headers = HeaderMap::new();
        for (k, v) in &settings.headers {
            let name = HeaderName::try_from(k.as_str()).map_err(|_| {
                BuildError::Settings(format!("headers: {k:?} is not a valid header name"))
            })?;
            let mut value = HeaderValue::try_from(v.as_str()).map_err(|_| {
                BuildError::Settings(format!(
                    "headers: the value of {k:?} is not a valid header value"
                ))
            })?;
            // Usually an API key: `Debug` of the map prints `Sensitive`, never the value.
            value.set_sensitive(true);
            static_headers.insert(name, value);
        }
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(WebhookSink {
            url,
            secret: settings.secret,
            static_headers,
            client,
        })
    }

    /// The exact body bytes sent for `message` (what the signature covers).
    pub fn body(message: &OutboundMessage) -> Result<Vec<u8>, DeliveryError> {
        serde_json::to_vec(&WebhookPayload::from_message(message)).map_err(|e| {
            DeliveryError::Permanent {
                reason: format!("cannot encode the webhook body: {e}"),
            }
        })
    }
}

#[async_trait::async_trait]
impl Sink for WebhookSink {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let body = Self::body(message)?;
        let id =
            HeaderValue::try_from(message.id.as_str()).map_err(|_| DeliveryError::Permanent {
                reason: "the message id cannot be sent as a header".into(),
            })?;
        let timestamp = Utc::now().timestamp();
        let signature = sign(&self.secret, &message.id, timestamp, &body);

        let response = self
            .client
            .post(self.url.clone())
            .headers(self.static_headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(HEADER_ID, id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;

        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response.status().is_success() {
            // The receiver accepted the message; an unreadable body does not change that.
            let bytes = response.bytes().await.unwrap_or_default();
            return Ok(Receipt {
                provider_message_id: response_id(&bytes),
            });
        }
        let text = response.text().await.unwrap_or_default();
        if status == 410 {
            return Err(DeliveryError::Permanent {
                reason: "HTTP 410: the receiver says this endpoint is gone".into(),
            });
        }
        Err(status_error(status, &headers, &text, Utc::now()))
    }
}

/// The `id` of a JSON object response (a string, or a number kept as text), if any.
fn response_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.get("id")? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
