//! [`WebSink`]: the web channel "sends" by being recorded as sent.

use cartback_core::{DeliveryError, OutboundMessage, Receipt, Sink};

/// The web channel's sink: nothing leaves the hub; the message being `sent` is what turns the
/// pop-up on.
#[derive(Debug, Default)]
pub struct WebSink;

#[async_trait::async_trait]
impl Sink for WebSink {
    fn kind(&self) -> &'static str {
        "web"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        Ok(Receipt {
            provider_message_id: Some(format!("web-{}", message.id)),
        })
    }
}
