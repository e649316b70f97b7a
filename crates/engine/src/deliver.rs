//! The outbox: claiming due messages per channel, delivering them through the sink, and what a
//! failure means (retry with backoff, permanent, unknown).

use crate::front::*;
use cartback_core::{Consent, DeliveryError};
use cartback_store::{DeliveryOutcome, OutboxRow, StoreResult};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::time::Duration;
use tracing::Instrument;

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
        let per_request = channel.sink.batch_limit().max(1);
        if per_request > 1 {
            let pause = self.deliver_in_batches(channel, rows, per_request).await?;
            return Ok((n, pause));
        }
        let throttled: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);
        let results = futures::stream::iter(rows)
            .map(|row| {
                let throttled = &throttled;
                async move {
                    let pause = *throttled.lock().unwrap_or_else(|p| p.into_inner());
                    let outcome = match pause {
                        // The provider asked us to slow down: the rest of the batch waits, unsent.
                        Some(d) => throttled_retry(self.clock.now(), d),
                        None => {
                            if let Some(l) = &channel.limiter {
                                l.until_ready(&*self.store).await?;
                            }
                            let (outcome, throttle) = self.deliver_one(channel, &row).await?;
                            if let Some(d) = throttle {
                                let mut t = throttled.lock().unwrap_or_else(|p| p.into_inner());
                                *t = Some(t.map_or(d, |x| x.max(d)));
                            }
                            outcome
                        }
                    };
                    self.record(channel, &row, outcome).await
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

    /// A round for a sink that takes several messages per request ([`Sink::batch_limit`]): the
    /// last-moment checks per message, then the ready ones in requests of up to `per_request`
    /// (one token of the channel's `rate` each), one answer per message. A throttled request
    /// makes the rest of the round wait, unsent.
    ///
    /// [`Sink::batch_limit`]: cartback_core::Sink::batch_limit
    async fn deliver_in_batches(
        &self,
        channel: &Channel,
        rows: Vec<OutboxRow>,
        per_request: usize,
    ) -> StoreResult<Option<Duration>> {
        let mut ready = Vec::with_capacity(rows.len());
        for row in rows {
            match self.before_sending(channel, &row).await? {
                Some(cancelled) => self.record(channel, &row, cancelled).await?,
                None => ready.push(row),
            }
        }
        let mut pause: Option<Duration> = None;
        for chunk in ready.chunks(per_request) {
            if let Some(d) = pause {
                for row in chunk {
                    self.record(channel, row, throttled_retry(self.clock.now(), d))
                        .await?;
                }
                continue;
            }
            if let Some(l) = &channel.limiter {
                l.until_ready(&*self.store).await?;
            }
            let span =
                tracing::info_span!("delivery", channel = %channel.id, messages = chunk.len());
            let messages: Vec<_> = chunk.iter().map(|r| r.message.clone()).collect();
            let started = std::time::Instant::now();
            let answers =
                tokio::time::timeout(channel.send_timeout, channel.sink.deliver_many(&messages))
                    .instrument(span)
                    .await;
            metrics::histogram!("cartback_provider_latency_seconds", "channel" => channel.id.clone())
                .record(started.elapsed().as_secs_f64());
            let now = self.clock.now();
            let mut answers = match answers {
                Ok(list) => list.into_iter().map(Some).collect(),
                Err(_) => Vec::new(),
            }
            .into_iter();
            for row in chunk {
                // No answer for a message (a timeout, a sink that answered short): it may have
                // gone, so it is unknown, as a single send's timeout is.
                let answer = answers
                    .next()
                    .flatten()
                    .ok_or_else(|| format!("no answer within {:?}", channel.send_timeout));
                let (outcome, throttle) = classify(channel, row, now, answer);
                if let Some(d) = throttle {
                    pause = Some(pause.map_or(d, |p| p.max(d)));
                }
                self.record(channel, row, outcome).await?;
            }
        }
        Ok(pause)
    }

    /// What every attempt's outcome goes through: the channel's health, a warning for a message
    /// failed for good, the send counter, and the outbox row (guarded by its lease).
    async fn record(
        &self,
        channel: &Channel,
        row: &OutboxRow,
        outcome: DeliveryOutcome,
    ) -> StoreResult<()> {
        channel.note(&outcome);
        if let DeliveryOutcome::Failed { error } = &outcome {
            // Failed for good: it waits for a redrive; say so where operators look.
            tracing::warn!(channel = %channel.id, message_id = %row.id, %error, "Delivery failed for good; the message waits for a redrive.");
        }
        let label = outcome_label(&outcome);
        metrics::counter!("cartback_sends_total", "channel" => channel.id.clone(), "outcome" => label).increment(1);
        if !self
            .store
            .finish_outbox(row, outcome, self.clock.now())
            .await?
        {
            tracing::warn!(message_id = %row.id, "Outbox lease lost before the outcome was recorded.");
        }
        Ok(())
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

    /// The last-moment checks before a message goes: consent (an opt-out may have arrived since
    /// queuing), the contact still there, and the lease (marked sending). `Some` is the outcome of
    /// a message that must not go.
    async fn before_sending(
        &self,
        channel: &Channel,
        row: &OutboxRow,
    ) -> StoreResult<Option<DeliveryOutcome>> {
        let cancelled = |reason: &str| {
            Ok(Some(DeliveryOutcome::Cancelled {
                reason: reason.into(),
            }))
        };
        if let Some(contact_id) = &row.contact_id {
            if let Some(c) = self.store.contact(contact_id).await? {
                let closing = row.message.purpose != cartback_core::Purpose::Reminder;
                if !closing && opted_out(channel.address, &c.info) {
                    return cancelled("opted out before sending");
                }
            } else if !row.test {
                return cancelled("contact erased");
            }
        }
        if !self.store.mark_sending(row).await? {
            // The lease ran out before we started: another worker owns it now.
            return cancelled("lease lost before sending");
        }
        Ok(None)
    }

    /// One attempt, in a `delivery` span (channel and message id).
    #[tracing::instrument(name = "delivery", skip_all, fields(channel = %channel.id, message_id = %row.id))]
    pub(crate) async fn deliver_one(
        &self,
        channel: &Channel,
        row: &OutboxRow,
    ) -> StoreResult<(DeliveryOutcome, Option<Duration>)> {
        if let Some(cancelled) = self.before_sending(channel, row).await? {
            return Ok((cancelled, None));
        }
        let started = std::time::Instant::now();
        let result =
            tokio::time::timeout(channel.send_timeout, channel.sink.deliver(&row.message)).await;
        metrics::histogram!("cartback_provider_latency_seconds", "channel" => channel.id.clone())
            .record(started.elapsed().as_secs_f64());
        let now = self.clock.now();
        let answer = result.map_err(|_| format!("no answer within {:?}", channel.send_timeout));
        Ok(classify(channel, row, now, answer))
    }
}

/// A message held back because the provider throttled the channel: tried again after the pause.
fn throttled_retry(now: DateTime<Utc>, pause: Duration) -> DeliveryOutcome {
    DeliveryOutcome::Retry {
        at: now + chrono_dur(pause),
        error: "channel throttled".into(),
    }
}

/// What a delivery attempt comes to (decided without a database): sent; retried after the
/// provider's `Retry-After` (honoured as given, plus up to 20% jitter, never less) or the channel's
/// backoff, until `max_attempts`; failed for good; or unknown when the request may have reached
/// the provider (a timeout: `Err(reason)`), unless the channel re-sends those. The second value
/// is the provider's `Retry-After`, which pauses the whole channel.
pub(crate) fn classify(
    channel: &Channel,
    row: &OutboxRow,
    now: DateTime<Utc>,
    answer: Result<Result<cartback_core::Receipt, DeliveryError>, String>,
) -> (DeliveryOutcome, Option<Duration>) {
    let mut throttle = None;
    let outcome = match answer {
        Err(timeout) => unknown_or_retry(channel, row, now, timeout),
        Ok(Ok(receipt)) => DeliveryOutcome::Sent {
            provider_message_id: receipt.provider_message_id,
        },
        Ok(Err(DeliveryError::Permanent { reason })) => DeliveryOutcome::Failed { error: reason },
        Ok(Err(DeliveryError::Unknown { reason })) => unknown_or_retry(channel, row, now, reason),
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
                let at = match retry_after {
                    Some(d) => now + chrono_dur(d + jitter(d).saturating_sub(d)),
                    None => now + chrono_dur(jitter(channel.backoff(row.attempts))),
                };
                DeliveryOutcome::Retry { at, error: reason }
            }
        }
    };
    (outcome, throttle)
}

/// Whether the contact opted out of this kind of channel since the message was queued: a
/// hand-off once the shopper opted out of both email and SMS; the on-site pop-up has no opt-out.
/// (A hand-off's closing message still goes: it stops the platform's flow.)
pub(crate) fn opted_out(address: AddressKind, contact: &cartback_core::ContactInfo) -> bool {
    match address {
        AddressKind::Email => contact.email_consent == Consent::Unsubscribed,
        AddressKind::Phone => contact.sms_consent == Consent::Unsubscribed,
        AddressKind::HandOff => {
            contact.email_consent == Consent::Unsubscribed
                && contact.sms_consent == Consent::Unsubscribed
        }
        AddressKind::Web => false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use cartback_core::{OutboundMessage, Receipt};
    use cartback_store::OutboxStatus;

    fn row(attempts: u32) -> OutboxRow {
        OutboxRow {
            id: "m1".into(),
            run_id: "r1".into(),
            step: 0,
            channel_id: "email".into(),
            contact_id: None,
            cart_id: None,
            status: OutboxStatus::Queued,
            message: OutboundMessage {
                id: "m1".into(),
                channel_id: "email".into(),
                to: Default::default(),
                subject: None,
                html: None,
                text: None,
                headers: Default::default(),
                metadata: Default::default(),
                contact: None,
                cart: None,
                test: false,
                discount_code: None,
                purpose: Default::default(),
            },
            attempts,
            next_attempt_at: t(0),
            lease_until: None,
            provider_message_id: None,
            last_error: None,
            test: false,
            created_at: t(0),
            sent_at: None,
        }
    }

    fn retryable(after: Option<u64>) -> Result<Result<Receipt, DeliveryError>, String> {
        Ok(Err(DeliveryError::Retryable {
            reason: "503".into(),
            retry_after: after.map(Duration::from_secs),
        }))
    }

    #[test]
    fn each_answer_has_its_outcome() {
        let channels = channels();
        let ch = &channels["email"];
        let sent = Ok(Ok(Receipt {
            provider_message_id: Some("p1".into()),
        }));
        assert_eq!(
            classify(ch, &row(1), t(0), sent).0,
            DeliveryOutcome::Sent {
                provider_message_id: Some("p1".into())
            }
        );
        let refused = Ok(Err(DeliveryError::Permanent {
            reason: "bad address".into(),
        }));
        assert_eq!(
            classify(ch, &row(1), t(0), refused).0,
            DeliveryOutcome::Failed {
                error: "bad address".into()
            }
        );
        let (timeout, _) = classify(ch, &row(1), t(0), Err("no answer".into()));
        assert!(
            matches!(timeout, DeliveryOutcome::Unknown { .. }),
            "never re-sent by default"
        );
    }

    #[test]
    fn retry_after_is_honoured_never_shortened_and_pauses_the_channel() {
        let channels = channels();
        let ch = &channels["email"];
        for _ in 0..50 {
            let (o, pause) = classify(ch, &row(1), t(0), retryable(Some(30)));
            let DeliveryOutcome::Retry { at, .. } = o else {
                panic!("{o:?}")
            };
            assert!(at >= t(30) && at <= t(36), "{at}");
            assert_eq!(pause, Some(Duration::from_secs(30)));
        }
        // Without Retry-After: the channel's backoff, with jitter.
        let (o, pause) = classify(ch, &row(3), t(0), retryable(None));
        let DeliveryOutcome::Retry { at, .. } = o else {
            panic!("{o:?}")
        };
        let base = ch.backoff(3).as_secs_f64();
        let secs = (at - t(0)).num_milliseconds() as f64 / 1000.0;
        assert!(
            secs >= base * 0.79 && secs <= base * 1.21,
            "{secs} vs {base}"
        );
        assert_eq!(pause, None);
    }

    #[test]
    fn the_last_attempt_fails_for_good() {
        let channels = channels();
        let ch = &channels["email"];
        let (o, _) = classify(ch, &row(ch.max_attempts), t(0), retryable(None));
        assert!(
            matches!(o, DeliveryOutcome::Failed { ref error } if error.contains("after")),
            "{o:?}"
        );
    }

    #[test]
    fn opt_outs_hold_at_the_last_moment() {
        let mut c = contact().info;
        c.email_consent = Consent::Unsubscribed;
        assert!(opted_out(AddressKind::Email, &c));
        assert!(!opted_out(AddressKind::Phone, &c));
        assert!(!opted_out(AddressKind::HandOff, &c), "SMS still allowed");
        c.sms_consent = Consent::Unsubscribed;
        assert!(opted_out(AddressKind::HandOff, &c));
        assert!(!opted_out(AddressKind::Web, &c));
    }
}
