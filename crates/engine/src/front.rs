//! The engine's front: the [`Engine`] and its channels. Its stages live beside it: `enrol`
//! (timers, abandonment checks), `step` (a run's next step), `compose` (the message), `deliver`
//! (the outbox), `attribute` (orders to runs), `workers`, `test_mode`.
//!
//! The engine fires durable timers (abandonment checks, flow steps) and drives the outbox.
//!
//! Every decision is made from what the store holds and committed together with the timer's
//! completion, guarded by its lease: a crash before the commit leaves the timer to fire again after
//! its lease expires; a crash after it has nothing left to do. Nothing about pending work is held
//! in memory.

use crate::config::{Cap, ChannelCommon};
use crate::flows::Flow;
use crate::template::Templates;
use cartback_core::{Clock, ContactInfo, LinkPolicy, Recipient, Sink};
use cartback_kit::token::LinkSigner;
use cartback_store::Store;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use cartback_core::AddressKind;

/// A configured channel, ready to deliver.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub sink: Arc<dyn Sink>,
    pub address: AddressKind,
    /// Attempts before a retryable failure becomes `failed`.
    pub max_attempts: u32,
    /// Re-send a message whose outcome is unknown (timeout after sending). Off by default.
    pub resend_unknown: bool,
    /// A delivery taking longer is abandoned as `unknown`.
    pub send_timeout: Duration,
    /// How long a claimed message is held (longer than `send_timeout` plus a margin).
    pub lease: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// The wait before the first retry, doubled per attempt, and its cap.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// The channel's `rate`, for the whole deployment (`rate.rs`).
    pub(crate) limiter: Option<Arc<crate::rate::SharedLimiter>>,
    /// Why the provider last refused this channel's credential, until a send succeeds again.
    pub(crate) refused: Arc<std::sync::Mutex<Option<String>>>,
}

impl Channel {
    /// The wait before attempt `attempts + 1`, before jitter.
    pub fn backoff(&self, attempts: u32) -> Duration {
        backoff(self.backoff, self.backoff_max, attempts)
    }

    pub fn new(id: impl Into<String>, sink: Arc<dyn Sink>, address: AddressKind) -> Self {
        Self::with_settings(id, sink, address, &ChannelCommon::default())
    }

    pub fn with_settings(
        id: impl Into<String>,
        sink: Arc<dyn Sink>,
        address: AddressKind,
        common: &ChannelCommon,
    ) -> Self {
        let id = id.into();
        let limiter = common
            .cap()
            .map(|cap| Arc::new(crate::rate::SharedLimiter::new(id.clone(), cap)));
        Channel {
            id,
            sink,
            address,
            max_attempts: common.max_attempts,
            resend_unknown: common.resend_unknown,
            backoff: common.backoff.0,
            backoff_max: common.backoff_max.0,
            send_timeout: common.timeout.0,
            lease: common.lease(),
            concurrency: common.concurrency.max(1),
            limiter,
            refused: Arc::default(),
        }
    }

    /// Why the provider refused this channel's credential (a permanent failure whose reason
    /// starts with `credential refused`), until a later send succeeds; `None` when healthy.
    pub fn refused(&self) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records what a delivery says about the channel's credential: `/readyz`'s detail and the
    /// `cartback_channel_healthy` gauge.
    pub(crate) fn note(&self, outcome: &cartback_store::DeliveryOutcome) {
        use cartback_store::DeliveryOutcome as O;
        let verdict = match outcome {
            O::Sent { .. } => Some(None),
            O::Failed { error } if error.starts_with("credential refused") => {
                Some(Some(error.clone()))
            }
            _ => None,
        };
        let Some(now) = verdict else {
            return;
        };
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.is_none() && now.is_some() {
            tracing::warn!(channel = %self.id, reason = now.as_deref().unwrap_or_default(), "The provider refused the channel's credential; its messages wait for a redrive.");
        }
        *refused = now;
        metrics::gauge!("cartback_channel_healthy", "channel" => self.id.clone())
            .set(if refused.is_some() { 0.0 } else { 1.0 });
    }

    /// Messages claimed per round.
    /// How many due messages one round claims: four per concurrent send, and at least two of
    /// the sink's batches for a sink that takes several messages per request.
    pub(crate) fn batch(&self) -> u32 {
        let per_request = self.sink.batch_limit().max(1);
        u32::try_from((self.concurrency * 4).max(per_request.saturating_mul(2)))
            .unwrap_or(64)
            .clamp(4, 256)
    }
}

#[derive(Debug)]
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The flows, templates and caps in force (`live.rs`: a reload swaps them).
    pub(crate) live: std::sync::RwLock<Arc<crate::live::Live>>,
    /// The paused flows, as last read from the store (`live.rs`).
    pub(crate) paused: std::sync::RwLock<crate::live::Paused>,
    /// The ingest rules the store was opened with, updated by a reload.
    pub(crate) rules_handle: Option<Arc<crate::rules::LiveRules>>,
    pub(crate) channels: BTreeMap<String, Channel>,
    pub(crate) public_url: String,
    pub(crate) links: LinkSigner,
    /// Where links may point (`[server] link_hosts`), and the shop's recovery page.
    pub(crate) link_policy: LinkPolicy,
    /// The `[survey.*]` tables, and the survey of each channel that names one (`survey.rs`).
    pub(crate) surveys: crate::survey::Surveys,
    /// Timers claimed per round, and their lease.
    pub timer_batch: u32,
    pub timer_lease: Duration,
    /// How long an idle worker waits before looking again.
    pub idle_poll: Duration,
}

/// What a test run produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestReport {
    pub run_id: String,
    pub messages: Vec<TestMessage>,
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TestMessage {
    /// Counted from 1, as everywhere.
    pub step: u32,
    pub step_name: String,
    pub channel: String,
    pub message_id: String,
    pub to: Recipient,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("no flow {0:?}")]
    UnknownFlow(String),
    #[error("no cart {0:?}")]
    UnknownCart(String),
    #[error("the cart has no contact to send to")]
    NoContact,
    #[error(transparent)]
    Store(#[from] cartback_store::StoreError),
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        flows: BTreeMap<String, Flow>,
        templates: Templates,
        limits: BTreeMap<String, Cap>,
        channels: BTreeMap<String, Channel>,
        public_url: impl Into<String>,
    ) -> Self {
        Engine {
            store,
            clock,
            live: crate::live::new_live(flows, templates, limits),
            paused: Default::default(),
            rules_handle: None,
            channels,
            public_url: public_url.into(),
            links: LinkSigner::new(uuid::Uuid::new_v4().as_bytes().to_vec()),
            link_policy: LinkPolicy::default(),
            surveys: Default::default(),
            timer_batch: 512,
            timer_lease: Duration::from_secs(60),
            idle_poll: Duration::from_millis(200),
        }
    }

    /// Signs tracked links with `signer` (the hub's persistent key) instead of a per-process one.
    pub fn with_link_signer(mut self, signer: LinkSigner) -> Self {
        self.links = signer;
        self
    }

    pub fn link_signer(&self) -> &LinkSigner {
        &self.links
    }

    /// Only links on these hosts are stored, redirected to or rendered.
    pub fn with_link_policy(mut self, policy: LinkPolicy) -> Self {
        self.link_policy = policy;
        self
    }

    pub fn link_policy(&self) -> &LinkPolicy {
        &self.link_policy
    }

    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.get(id)
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The shortest `abandon_after` of the enabled cart flows: when a cart's check is first due.
    pub fn cart_check_after(&self) -> Option<Duration> {
        crate::rules::cart_check_after(&self.live().flows)
    }

    /// The rules ingest applies for this engine's flows (the store is opened with them).
    pub fn rules(&self) -> crate::rules::Rules {
        crate::rules::Rules::new(&self.live().flows)
    }

    /// The rules the store was opened with, kept in step with a reload.
    pub fn with_rules(mut self, rules: Arc<crate::rules::LiveRules>) -> Self {
        self.rules_handle = Some(rules);
        self
    }

    pub fn channel_ids(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

pub(crate) fn metrics_count(name: &'static str, n: usize) {
    metrics::counter!(name).increment(n as u64);
}

pub fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn contact_tz(c: &ContactInfo) -> Option<Tz> {
    c.time_zone.as_deref().and_then(|t| t.parse::<Tz>().ok())
}

/// `first`, twice that, four times … capped at `max` (defaults: 2 s … one hour).
pub fn backoff(first: Duration, max: Duration, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    first.saturating_mul(1u32 << exp).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::{DeliveryError, OutboundMessage};

    #[derive(Debug)]
    struct Nothing;

    #[async_trait::async_trait]
    impl Sink for Nothing {
        fn kind(&self) -> &'static str {
            "nothing"
        }
        async fn deliver(
            &self,
            _: &OutboundMessage,
        ) -> Result<cartback_core::Receipt, DeliveryError> {
            Ok(Default::default())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_channel_rate_allows_its_burst_then_holds() {
        let common = ChannelCommon {
            rate: Some("10/s".into()),
            ..Default::default()
        };
        let ch = Channel::with_settings("email", Arc::new(Nothing), AddressKind::Email, &common);
        let limiter = ch.limiter.as_ref().expect("a rate makes a limiter");
        let allowed = (0..50).filter(|_| limiter.pace_now()).count();
        assert_eq!(allowed, 10, "burst of one period's worth, then the rate");
        assert!(Channel::new("x", Arc::new(Nothing), AddressKind::Email)
            .limiter
            .is_none());
        // The lease always exceeds the send timeout.
        assert!(ch.lease > ch.send_timeout);
    }

    #[test]
    fn a_refused_credential_marks_the_channel_until_a_send_succeeds() {
        use cartback_store::DeliveryOutcome as O;
        let ch = Channel::new("k", Arc::new(Nothing), AddressKind::HandOff);
        assert_eq!(ch.refused(), None);
        ch.note(&O::Failed {
            error: "422 email is invalid".into(),
        });
        assert_eq!(
            ch.refused(),
            None,
            "the message's fault, not the credential's"
        );
        ch.note(&O::Failed {
            error: "credential refused: 401".into(),
        });
        assert_eq!(ch.refused().as_deref(), Some("credential refused: 401"));
        ch.note(&O::Retry {
            at: chrono::Utc::now(),
            error: "503".into(),
        });
        assert!(
            ch.refused().is_some(),
            "a retry says nothing about the credential"
        );
        ch.note(&O::Sent {
            provider_message_id: None,
        });
        assert_eq!(ch.refused(), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let (two, hour) = (Duration::from_secs(2), Duration::from_secs(3600));
        assert_eq!(backoff(two, hour, 1), Duration::from_secs(2));
        assert_eq!(backoff(two, hour, 2), Duration::from_secs(4));
        assert_eq!(backoff(two, hour, 5), Duration::from_secs(32));
        assert_eq!(backoff(two, hour, 40), Duration::from_secs(3600));
        let (half, five) = (Duration::from_millis(500), Duration::from_secs(5));
        assert_eq!(backoff(half, five, 1), Duration::from_millis(500));
        assert_eq!(backoff(half, five, 3), Duration::from_secs(2));
        assert_eq!(backoff(half, five, 9), Duration::from_secs(5));
    }
}
