//! A `Sink` that records every message, for engine and outbox tests.

use async_trait::async_trait;
use cartback_core::{DeliveryError, OutboundMessage, Receipt, Sink};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct RecordingSink {
    sent: Arc<Mutex<Vec<OutboundMessage>>>,
    /// Outcomes to return before succeeding, in order.
    script: Arc<Mutex<VecDeque<DeliveryError>>>,
}

impl RecordingSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next deliveries fail with these errors, in order.
    pub fn fail_next(&self, errors: Vec<DeliveryError>) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(errors);
    }

    pub fn sent(&self) -> Vec<OutboundMessage> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Sink for RecordingSink {
    fn kind(&self) -> &'static str {
        "recording"
    }

    async fn deliver(&self, m: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        if let Some(err) = self
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
        {
            return Err(err);
        }
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(m.clone());
        Ok(Receipt {
            provider_message_id: Some(format!("rec-{}", m.id)),
        })
    }
}
