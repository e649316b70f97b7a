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
    /// Messages per `deliver_many` call (1: one at a time, the default).
    per_request: usize,
    /// The size of each `deliver_many` call.
    calls: Arc<Mutex<Vec<usize>>>,
}

impl RecordingSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink that takes up to `per_request` messages per call, as a platform with a batch
    /// endpoint does; [`RecordingSink::calls`] tells how the outbox grouped them.
    pub fn batching(per_request: usize) -> Self {
        RecordingSink {
            per_request,
            ..Self::default()
        }
    }

    /// How many messages each `deliver_many` call carried.
    pub fn calls(&self) -> Vec<usize> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
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

    fn batch_limit(&self) -> usize {
        self.per_request.max(1)
    }

    async fn deliver_many(
        &self,
        messages: &[OutboundMessage],
    ) -> Vec<Result<Receipt, DeliveryError>> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(messages.len());
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            out.push(self.deliver(m).await);
        }
        out
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
