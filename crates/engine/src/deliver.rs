//! The outbox: claiming due messages per channel, delivering them through the sink, and what a
//! failure means (retry with backoff, permanent, unknown).

use crate::front::*;
use cartback_core::{Consent, DeliveryError};
use cartback_store::{DeliveryOutcome, OutboxRow, StoreResult};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::time::Duration;

impl Engine {
    // ---- outbox ----

    /// Delivers one batch of a channel's due messages; returns how many were attempted and, when
    /// the provider throttled, how long the channel should rest.
    pub async fn deliver_round(&self, channel_id: &str) -> StoreResult<(usize, Option<Duration>)> {
        let Some(channel) = self.channels.get(channel_id) else {
            return Ok((0, None));
        };
        let now = self.clock.now();
        let rows = self
            .store
            .claim_outbox(
                &channel.id,
                now,
                channel.lease,
                channel.batch(),
                channel.resend_unknown,
            )
            .await?;
        let n = rows.len();
        let throttled: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);
        let results = futures::stream::iter(rows)
            .map(|row| {
                let throttled = &throttled;
                async move {
                    let pause = *throttled.lock().unwrap_or_else(|p| p.into_inner());
                    let outcome = match pause {
                        // The provider asked us to slow down: the rest of the batch waits, unsent.
                        Some(d) => DeliveryOutcome::Retry { at: self.clock.now() + chrono_dur(d), error: "channel throttled".into() },
                        None => {
                            if let Some(l) = &channel.limiter {
                                l.until_ready().await;
                            }
                            let (outcome, throttle) = self.deliver_one(channel, &row).await?;
                            if let Some(d) = throttle {
                                let mut t = throttled.lock().unwrap_or_else(|p| p.into_inner());
                                *t = Some(t.map_or(d, |x| x.max(d)));
                            }
                            outcome
                        }
                    };
                    let label = outcome_label(&outcome);
                    metrics::counter!("cartback_sends_total", "channel" => channel.id.clone(), "outcome" => label).increment(1);
                    if !self.store.finish_outbox(&row, outcome, self.clock.now()).await? {
                        tracing::warn!(message_id = %row.id, "Outbox lease lost before the outcome was recorded.");
                    }
                    Ok::<(), cartback_store::StoreError>(())
                }
            })
            .buffer_unordered(channel.concurrency)
            .collect::<Vec<_>>()
            .await;
        for r in results {
            r?;
        }
        let pause = *throttled.lock().unwrap_or_else(|p| p.into_inner());
        Ok((n, pause))
    }

    /// Delivers one batch of a channel's due messages; returns how many were attempted.
    pub async fn deliver_batch(&self, channel_id: &str) -> StoreResult<usize> {
        Ok(self.deliver_round(channel_id).await?.0)
    }

    /// Delivers every channel's due messages until none is left.
    pub async fn deliver_due(&self) -> StoreResult<usize> {
        let mut total = 0;
        loop {
            let mut round = 0;
            for id in self.channels.keys() {
                round += self.deliver_batch(id).await?;
            }
            total += round;
            if round == 0 {
                return Ok(total);
            }
        }
    }

    pub(crate) async fn deliver_one(
        &self,
        channel: &Channel,
        row: &OutboxRow,
    ) -> StoreResult<(DeliveryOutcome, Option<Duration>)> {
        // Consent is checked again at the last moment: an opt-out may have arrived since queuing.
        if let Some(contact_id) = &row.contact_id {
            if let Some(c) = self.store.contact(contact_id).await? {
                let opted_out = match channel.address {
                    AddressKind::Email => c.info.email_consent == Consent::Unsubscribed,
                    AddressKind::Phone => c.info.sms_consent == Consent::Unsubscribed,
                    AddressKind::Web | AddressKind::HandOff => false,
                };
                if opted_out {
                    return Ok((
                        DeliveryOutcome::Cancelled {
                            reason: "opted out before sending".into(),
                        },
                        None,
                    ));
                }
            } else if !row.test {
                return Ok((
                    DeliveryOutcome::Cancelled {
                        reason: "contact erased".into(),
                    },
                    None,
                ));
            }
        }
        if !self.store.mark_sending(row).await? {
            // The lease ran out before we started: another worker owns it now.
            return Ok((
                DeliveryOutcome::Cancelled {
                    reason: "lease lost before sending".into(),
                },
                None,
            ));
        }
        let started = std::time::Instant::now();
        let result =
            tokio::time::timeout(channel.send_timeout, channel.sink.deliver(&row.message)).await;
        metrics::histogram!("cartback_provider_latency_seconds", "channel" => channel.id.clone())
            .record(started.elapsed().as_secs_f64());
        let now = self.clock.now();
        let mut throttle = None;
        let outcome = match result {
            Err(_) => unknown_or_retry(
                channel,
                row,
                now,
                format!("no answer within {:?}", channel.send_timeout),
            ),
            Ok(Ok(receipt)) => DeliveryOutcome::Sent {
                provider_message_id: receipt.provider_message_id,
            },
            Ok(Err(DeliveryError::Permanent { reason })) => {
                DeliveryOutcome::Failed { error: reason }
            }
            Ok(Err(DeliveryError::Unknown { reason })) => {
                unknown_or_retry(channel, row, now, reason)
            }
            Ok(Err(DeliveryError::Retryable {
                reason,
                retry_after,
            })) => {
                throttle = retry_after;
                if row.attempts >= channel.max_attempts {
                    DeliveryOutcome::Failed {
                        error: format!("{reason} (after {} attempts)", row.attempts),
                    }
                } else {
                    // Retry-After is honoured as given (plus up to 20% jitter, never less).
                    let at = match retry_after {
                        Some(d) => now + chrono_dur(d + jitter(d).saturating_sub(d)),
                        None => now + chrono_dur(jitter(channel.backoff(row.attempts))),
                    };
                    DeliveryOutcome::Retry { at, error: reason }
                }
            }
        };
        Ok((outcome, throttle))
    }
}

pub(crate) fn unknown_or_retry(
    channel: &Channel,
    row: &OutboxRow,
    now: DateTime<Utc>,
    error: String,
) -> DeliveryOutcome {
    if channel.resend_unknown && row.attempts < channel.max_attempts {
        DeliveryOutcome::Retry {
            at: now + chrono_dur(jitter(channel.backoff(row.attempts))),
            error,
        }
    } else {
        DeliveryOutcome::Unknown { error }
    }
}

pub(crate) fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let factor: f64 = rand::thread_rng().gen_range(0.8..1.2);
    d.mul_f64(factor)
}

pub(crate) fn outcome_label(o: &DeliveryOutcome) -> &'static str {
    match o {
        DeliveryOutcome::Sent { .. } => "sent",
        DeliveryOutcome::Retry { .. } => "retry",
        DeliveryOutcome::Failed { .. } => "failed",
        DeliveryOutcome::Unknown { .. } => "unknown",
        DeliveryOutcome::Cancelled { .. } => "cancelled",
    }
}
