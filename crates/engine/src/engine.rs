//! The engine: fires durable timers (abandonment checks, flow steps) and drives the outbox.
//!
//! Every decision is made from what the store holds and committed together with the timer's
//! completion, guarded by its lease: a crash before the commit leaves the timer to fire again after
//! its lease expires; a crash after it has nothing left to do. Nothing about pending work is held
//! in memory.

use crate::assign::{in_holdout, pick_variant};
use crate::config::{Cap, ChannelCommon, Condition};
use crate::flows::{Flow, Step};
use crate::links::Tracker;
use crate::template::{format_money, Templates};
use cartback_core::{
    Cart, CartStatus, Clock, Consent, ContactInfo, DeliveryError, LinkPolicy, Money,
    OutboundMessage, Recipient, Sink,
};
use cartback_kit::token::{LinkKind, LinkSigner};
use cartback_store::{
    CapCheck, ContactRecord, DeliveryOutcome, NewMessage, NewRun, OutboxRow, RunRecord, RunStatus,
    RunUpdate, StepLog, Store, StoreResult, Timer, TimerCommit, TimerKind,
};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use cartback_core::AddressKind;

type Limiter = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    governor::clock::DefaultClock,
>;

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
    limiter: Option<Arc<Limiter>>,
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
        let limiter = common.cap().and_then(|cap| {
            let per_send = cap.per.checked_div(cap.max.max(1))?;
            let burst = std::num::NonZeroU32::new(cap.max.clamp(1, 1000))?;
            let quota = governor::Quota::with_period(per_send)?.allow_burst(burst);
            Some(Arc::new(governor::RateLimiter::direct(quota)))
        });
        Channel {
            id: id.into(),
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
        }
    }

    /// Messages claimed per round.
    fn batch(&self) -> u32 {
        u32::try_from(self.concurrency * 4)
            .unwrap_or(64)
            .clamp(4, 256)
    }
}

#[derive(Debug)]
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    flows: BTreeMap<String, Flow>,
    templates: Templates,
    limits: BTreeMap<String, Cap>,
    channels: BTreeMap<String, Channel>,
    public_url: String,
    links: LinkSigner,
    /// Where links may point (`[server] link_hosts`), and the shop's recovery page.
    link_policy: LinkPolicy,
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
    pub step: u32,
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
            flows,
            templates,
            limits,
            channels,
            public_url: public_url.into(),
            links: LinkSigner::new(uuid::Uuid::new_v4().as_bytes().to_vec()),
            link_policy: LinkPolicy::default(),
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
        self.flows
            .values()
            .filter(|f| f.enabled())
            .map(|f| f.settings.abandon_after.0)
            .min()
    }

    pub fn channel_ids(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    // ---- timers ----

    /// Fires one batch of due timers; returns how many fired.
    pub async fn tick(&self) -> StoreResult<usize> {
        let now = self.clock.now();
        let timers = self
            .store
            .claim_timers(now, self.timer_lease, self.timer_batch)
            .await?;
        let n = timers.len();
        let concurrency = (self.timer_batch as usize / 2).max(1);
        // Fired side by side: each decision is guarded by its lease and the store's unique keys,
        // and on SQLite their commits share one group commit.
        futures::stream::iter(timers)
            .for_each_concurrent(concurrency, |timer| async move {
                if let Err(err) = self.fire(&timer).await {
                    // The lease expires and the timer fires again; nothing was half-written.
                    tracing::warn!(kind = timer.kind.as_str(), subject = %timer.subject, error = %err, "Timer failed; it will fire again.");
                }
            })
            .await;
        Ok(n)
    }

    /// Fires timers until none is due (tests drive the clock, then call this).
    pub async fn run_due(&self) -> StoreResult<usize> {
        let mut total = 0;
        loop {
            let n = self.tick().await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    async fn fire(&self, timer: &Timer) -> StoreResult<()> {
        let now = self.clock.now();
        metrics::histogram!("cartback_timer_lateness_seconds", "kind" => timer.kind.as_str())
            .record((now - timer.due_at).num_milliseconds().max(0) as f64 / 1000.0);
        let commit = match timer.kind {
            TimerKind::CartCheck => self.cart_check(&timer.subject, now).await?,
            TimerKind::RunStep => self.run_step(&timer.subject, now).await?,
            TimerKind::Attribute => self.attribute(&timer.subject).await?,
        };
        let outcome = self.store.commit_timer(timer, commit, now).await?;
        if !outcome.enrolled.is_empty() {
            metrics_count("cartback_enrolments_total", outcome.enrolled.len());
            tracing::info!(cart_id = %timer.subject, runs = outcome.enrolled.len(), "Cart abandoned; flows started.");
        }
        if !outcome.capped.is_empty() {
            tracing::info!(
                messages = outcome.capped.len(),
                "Send skipped by a channel cap."
            );
        }
        Ok(())
    }

    async fn cart_check(&self, cart_id: &str, now: DateTime<Utc>) -> StoreResult<TimerCommit> {
        let mut commit = TimerCommit::default();
        let Some(record) = self.store.cart(cart_id).await? else {
            return Ok(commit);
        };
        let cart = &record.cart;
        if !matches!(cart.status, CartStatus::Open | CartStatus::Abandoned) || cart.items.is_empty()
        {
            return Ok(commit);
        }
        let existing = self.store.runs_for_cart(cart_id).await?;
        let mut next_due: Option<DateTime<Utc>> = None;
        for flow in self.flows.values().filter(|f| f.enabled()) {
            let due = cart.updated_at + chrono_dur(flow.settings.abandon_after.0);
            if due > now {
                next_due = Some(next_due.map_or(due, |d| d.min(due)));
                continue;
            }
            commit.abandon_cart = Some(cart.id.clone());
            if existing.iter().any(|r| r.flow_id == flow.id && !r.test) {
                continue;
            }
            let Some(contact) = &record.contact else {
                continue;
            };
            let reachable = flow.channels().any(|c| {
                self.channels
                    .get(c)
                    .is_some_and(|ch| reachable(ch.address, contact, flow.settings.require_consent))
            });
            if !reachable {
                continue;
            }
            let holdout = in_holdout(&flow.id, &contact.id, flow.settings.holdout_percent);
            let variant = if flow.variants.len() > 1
                || flow.variants.first().is_some_and(|v| v.name.is_some())
            {
                let weights: Vec<u32> = flow.variants.iter().map(|v| v.weight).collect();
                pick_variant(&flow.id, &contact.id, &weights)
                    .and_then(|i| flow.variants[i].name.clone())
            } else {
                None
            };
            let first_wait = flow
                .steps(variant.as_deref())
                .first()
                .map(|s| s.wait)
                .unwrap_or_default();
            commit.enrol.push(NewRun {
                run: RunRecord {
                    id: new_id(),
                    flow_id: flow.id.clone(),
                    cart_id: cart.id.clone(),
                    contact_id: Some(contact.id.clone()),
                    variant,
                    holdout,
                    status: if holdout {
                        RunStatus::HeldOut
                    } else {
                        RunStatus::Running
                    },
                    step: 0,
                    test: false,
                    enrolled_at: now,
                    updated_at: now,
                    exit_reason: None,
                },
                reenter: flow.settings.reenter.as_ref().map(|r| CapCheck {
                    max: r.max,
                    since: now - chrono_dur(r.within.0),
                }),
                first_step_at: (!holdout).then(|| now + chrono_dur(first_wait)),
            });
        }
        commit.reschedule = next_due;
        Ok(commit)
    }

    /// Credits a new order to the runs that won it (see `report` for the rules).
    async fn attribute(&self, subject: &str) -> StoreResult<TimerCommit> {
        let mut commit = TimerCommit::default();
        let Some((source_id, order_id)) = subject.split_once('\u{1f}') else {
            return Ok(commit);
        };
        let Some(order) = self.store.order(source_id, order_id).await? else {
            return Ok(commit);
        };
        if order.test {
            return Ok(commit);
        }
        let runs = match (&order.cart_id, &order.contact_id) {
            (Some(cart), _) => self.store.runs_for_cart(cart).await?,
            (None, Some(contact)) => self.store.runs_for_contact(contact).await?,
            (None, None) => Vec::new(),
        };
        for run in runs.iter().filter(|r| !r.test) {
            let window = self
                .flows
                .get(&run.flow_id)
                .map(|f| f.settings.attribution_window.0)
                .unwrap_or(Duration::from_secs(7 * 86_400));
            let window = chrono_dur(window);
            if order.placed_at < run.enrolled_at || order.placed_at > run.enrolled_at + window {
                continue;
            }
            if run.status == RunStatus::Exited && run.exit_reason.as_deref() == Some("reenter_cap")
            {
                continue;
            }
            let mut row = cartback_store::ConversionRow {
                source_id: order.source_id.clone(),
                order_id: order.order_id.clone(),
                run_id: run.id.clone(),
                flow_id: run.flow_id.clone(),
                variant: run.variant.clone(),
                holdout: run.holdout,
                message_id: None,
                step: None,
                channel_id: None,
                touch: "none".into(),
                revenue_minor: order.total_minor,
                currency: order.currency.clone(),
                placed_at: order.placed_at,
                enrolled_at: run.enrolled_at,
            };
            if !run.holdout {
                let start = order.placed_at - window;
                let inside =
                    |t: Option<DateTime<Utc>>| t.filter(|t| *t >= start && *t <= order.placed_at);
                let touches = self.store.message_touches(&run.id).await?;
                let pick = |f: &dyn Fn(&cartback_store::MessageTouch) -> Option<DateTime<Utc>>| {
                    touches
                        .iter()
                        .filter_map(|m| inside(f(m)).map(|t| (t, m)))
                        .max_by_key(|(t, _)| *t)
                        .map(|(_, m)| m)
                };
                let chosen = pick(&|m| m.clicked_at)
                    .map(|m| (m, "clicked"))
                    .or_else(|| pick(&|m| m.delivered_at).map(|m| (m, "delivered")))
                    .or_else(|| pick(&|m| m.sent_at).map(|m| (m, "sent")));
                if let Some((m, touch)) = chosen {
                    row.message_id = Some(m.message_id.clone());
                    row.step = Some(m.step);
                    row.channel_id = Some(m.channel_id.clone());
                    row.touch = touch.into();
                }
            }
            let group = if row.holdout { "holdout" } else { "treated" };
            metrics::counter!("cartback_conversions_total", "flow" => row.flow_id.clone(), "group" => group).increment(1);
            metrics::counter!("cartback_revenue_minor_total", "flow" => row.flow_id.clone(), "group" => group, "currency" => row.currency.clone())
                .increment(u64::try_from(row.revenue_minor).unwrap_or(0));
            commit.conversions.push(row);
        }
        Ok(commit)
    }

    /// The report of one flow over runs enrolled in `[from, to)`.
    pub async fn report(
        &self,
        flow_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Option<crate::report::FlowReport>> {
        if !self.flows.contains_key(flow_id) {
            return Ok(None);
        }
        let data = self.store.report_data(flow_id, from, to).await?;
        Ok(Some(crate::report::build(flow_id, from, to, &data)))
    }

    pub fn flow_ids(&self) -> impl Iterator<Item = &str> {
        self.flows.keys().map(String::as_str)
    }

    async fn run_step(&self, run_id: &str, now: DateTime<Utc>) -> StoreResult<TimerCommit> {
        let mut commit = TimerCommit::default();
        let Some(run) = self.store.run(run_id).await? else {
            return Ok(commit);
        };
        if run.status != RunStatus::Running {
            return Ok(commit);
        }
        let exit = |commit: &mut TimerCommit, status: RunStatus, reason: &str| {
            commit.run_update = Some(RunUpdate {
                run_id: run.id.clone(),
                expect_step: run.step,
                step: run.step,
                status,
                exit_reason: Some(reason.to_string()),
            });
        };
        let Some(flow) = self.flows.get(&run.flow_id) else {
            exit(&mut commit, RunStatus::Exited, "flow_removed");
            return Ok(commit);
        };
        let steps = flow.steps(run.variant.as_deref());
        let idx = run.step as usize;
        let Some(step) = steps.get(idx) else {
            exit(&mut commit, RunStatus::Completed, "completed");
            return Ok(commit);
        };
        let Some(record) = self.store.cart(&run.cart_id).await? else {
            exit(&mut commit, RunStatus::Exited, "cart_gone");
            return Ok(commit);
        };
        if record.cart.status == CartStatus::Converted {
            exit(&mut commit, RunStatus::Converted, "purchased");
            return Ok(commit);
        }
        let Some(contact) = &record.contact else {
            exit(&mut commit, RunStatus::Exited, "contact_gone");
            return Ok(commit);
        };
        let log = |outcome: &str, detail: Option<String>| StepLog {
            run_id: run.id.clone(),
            step: run.step,
            outcome: outcome.to_string(),
            detail,
        };
        let facts = self.facts(&run, &record.cart, contact, step).await?;
        let blocked = step.unless.iter().find(|c| facts.holds(c));
        let unmet = step.if_all.iter().find(|c| !facts.holds(c));
        let mut send = step.send.as_ref();
        if let Some(c) = blocked {
            commit
                .steps
                .push(log("skipped", Some(format!("unless {c:?}"))));
            send = None;
        } else if let Some(c) = unmet {
            commit
                .steps
                .push(log("skipped", Some(format!("if {c:?} not met"))));
            send = None;
        }
        if let Some(send) = send {
            match self.channels.get(&send.channel) {
                None => commit.steps.push(log(
                    "skipped",
                    Some(format!("channel {} not configured", send.channel)),
                )),
                Some(channel)
                    if !reachable(channel.address, contact, flow.settings.require_consent) =>
                {
                    let why = unreachable(channel.address, contact, flow.settings.require_consent);
                    let status = match why {
                        Some("unverified_address") => "unverified_address",
                        _ => "no_consent",
                    };
                    commit.steps.push(log(status, Some(channel.id.clone())));
                }
                Some(channel) => {
                    if let Some(quiet) = &flow.quiet {
                        let tz = contact_tz(&contact.info).unwrap_or(flow.default_tz);
                        if let Some(until) = quiet.defer_until(now, tz) {
                            // Deferred, not dropped: the same step runs when the window ends.
                            commit
                                .steps
                                .push(log("deferred", Some(format!("quiet hours until {until}"))));
                            commit.reschedule = Some(until);
                            return Ok(commit);
                        }
                    }
                    match self
                        .compose(flow, &run, idx, step, channel, &record.cart, contact, now)
                        .await?
                    {
                        Ok((message, links)) => {
                            commit.steps.push(log("queued", Some(message.id.clone())));
                            commit.outbox.push(NewMessage {
                                run_id: run.id.clone(),
                                step: run.step,
                                contact_id: Some(contact.id.clone()),
                                cart_id: Some(record.cart.id.clone()),
                                cap: self.limits.get(&channel.id).map(|c| CapCheck {
                                    max: c.max,
                                    since: now - chrono_dur(c.per),
                                }),
                                links,
                                message,
                            });
                        }
                        Err(err) => {
                            tracing::error!(flow_id = %flow.id, run_id = %run.id, error = %err, "Template failed to render; step skipped.");
                            commit.steps.push(log("template_error", Some(err)));
                        }
                    }
                }
            }
        } else if step.send.is_none() {
            commit.steps.push(log("waited", None));
        }
        let next = run.step + 1;
        match steps.get(next as usize) {
            Some(next_step) => {
                commit.run_update = Some(RunUpdate {
                    run_id: run.id.clone(),
                    expect_step: run.step,
                    step: next,
                    status: RunStatus::Running,
                    exit_reason: None,
                });
                commit.reschedule = Some(now + chrono_dur(next_step.wait));
            }
            None => {
                commit.run_update = Some(RunUpdate {
                    run_id: run.id.clone(),
                    expect_step: run.step,
                    step: next,
                    status: RunStatus::Completed,
                    exit_reason: None,
                });
            }
        }
        Ok(commit)
    }

    async fn facts(
        &self,
        run: &RunRecord,
        cart: &Cart,
        contact: &ContactRecord,
        step: &Step,
    ) -> StoreResult<Facts> {
        let conds = step.unless.iter().chain(step.if_all.iter());
        let mut needs_engagement = false;
        let mut needs_tags = false;
        for c in conds {
            match c {
                Condition::Clicked | Condition::Opened | Condition::Delivered => {
                    needs_engagement = true
                }
                Condition::Tag(_) => needs_tags = true,
                _ => {}
            }
        }
        Ok(Facts {
            purchased: cart.status == CartStatus::Converted,
            engagement: if needs_engagement {
                self.store.engagement(&run.id).await?
            } else {
                Default::default()
            },
            tags: if needs_tags {
                self.store.contact_tags(&contact.id).await?
            } else {
                Vec::new()
            },
            has_email: contact.info.email.is_some(),
            has_phone: contact.info.phone.is_some(),
            total: cart.total,
        })
    }

    /// Renders a step's message with tracked links. `Ok(Err(reason))` when the template fails.
    #[allow(clippy::too_many_arguments)]
    async fn compose(
        &self,
        flow: &Flow,
        run: &RunRecord,
        idx: usize,
        step: &Step,
        channel: &Channel,
        cart: &Cart,
        contact: &ContactRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<Result<(OutboundMessage, Vec<String>), String>> {
        let message_id = new_id();
        let discount = match &step.discount {
            None => None,
            Some(d) => {
                let code = match &d.code {
                    Some(c) => Some(c.clone()),
                    None => {
                        self.store
                            .allocate_discount(&flow.id, &d.codes, &run.id, run.step)
                            .await?
                    }
                };
                code.map(|code| {
                    json!({
                        "code": code,
                        "description": d.description,
                        "expires_at": d.expires_after.map(|e| (now + chrono_dur(e.0)).format("%Y-%m-%d %H:%M UTC").to_string()),
                    })
                })
            }
        };
        // Every URL the shopper can click goes through the hub: product pages, the cart, anything else.
        // Checked again here, whatever was stored: only the shop's own hosts (docs/SECURITY.md).
        let policy = &self.link_policy;
        let mut tracker = Tracker::new(&self.links, &self.public_url, &message_id, policy);
        let mut tracked = cart.clone();
        let recovery = policy
            .keep(cart.recovery_url.as_deref())
            .or_else(|| policy.fallback().map(str::to_string));
        tracked.recovery_url = recovery.map(|r| tracker.track(&r, LinkKind::Recover));
        for item in tracked.items.iter_mut() {
            policy.scrub_item(item);
            if let Some(u) = &item.url {
                item.url = Some(tracker.track(u, LinkKind::Click));
            }
        }
        let unsubscribe = tracker.url(LinkKind::Unsubscribe, 0);
        let mut ctx = context(
            &tracked,
            &contact.info,
            discount,
            &flow.id,
            idx,
            run,
            &message_id,
            &self.public_url,
        );
        ctx["links"]["unsubscribe"] = json!(unsubscribe);
        let rendered = match step.send.as_ref().and_then(|s| s.template.as_deref()) {
            Some(t) => match self.templates.render(t, &ctx) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e.to_string())),
            },
            None => Default::default(),
        };
        let text = rendered.text.map(|t| tracker.rewrite_text(&t));
        let mut html = rendered.html.map(|h| tracker.rewrite_html(&h));
        let mut headers = BTreeMap::new();
        if channel.address == AddressKind::Email {
            // RFC 8058 one-click unsubscribe, and the open pixel.
            headers.insert("List-Unsubscribe".to_string(), format!("<{unsubscribe}>"));
            headers.insert(
                "List-Unsubscribe-Post".to_string(),
                "List-Unsubscribe=One-Click".to_string(),
            );
            if let Some(h) = html.as_mut() {
                let pixel = format!(
                    r#"<img src="{}" width="1" height="1" alt="" style="display:none">"#,
                    tracker.url(LinkKind::Open, 0)
                );
                match h.rfind("</body>") {
                    Some(i) => h.insert_str(i, &pixel),
                    None => h.push_str(&pixel),
                }
            }
        }
        let to = Recipient {
            email: (channel.address == AddressKind::Email || channel.address.any_identity())
                .then(|| contact.info.email.clone())
                .flatten(),
            phone: (channel.address == AddressKind::Phone || channel.address.any_identity())
                .then(|| contact.info.phone.clone())
                .flatten(),
            name: full_name(&contact.info),
        };
        let mut metadata = BTreeMap::new();
        metadata.insert("flow_id".to_string(), flow.id.clone());
        metadata.insert("run_id".to_string(), run.id.clone());
        metadata.insert("step".to_string(), run.step.to_string());
        metadata.insert("cart_id".to_string(), cart.id.clone());
        if let Some(v) = &run.variant {
            metadata.insert("variant".to_string(), v.clone());
        }
        let links = tracker.links;
        Ok(Ok((
            OutboundMessage {
                id: message_id,
                channel_id: channel.id.clone(),
                to,
                subject: rendered.subject,
                html,
                text,
                headers,
                metadata,
                contact: Some(contact.info.clone()),
                cart: Some(tracked),
                test: run.test,
            },
            links,
        )))
    }

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

    async fn deliver_one(
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

    // ---- workers ----

    /// Publishes queue depth and dead-letter gauges per channel (`cartback_outbox_messages{channel,status}`)
    /// and the number of pending timers.
    pub async fn publish_gauges(&self) -> StoreResult<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (channel, status, n) in self.store.queue_depths().await? {
            metrics::gauge!("cartback_outbox_messages", "channel" => channel.clone(), "status" => status.clone()).set(n as f64);
            seen.insert((channel, status));
        }
        for channel in self.channels.keys() {
            for status in ["queued", "failed", "unknown"] {
                if !seen.contains(&(channel.clone(), status.to_string())) {
                    metrics::gauge!("cartback_outbox_messages", "channel" => channel.clone(), "status" => status).set(0.0);
                }
            }
        }
        metrics::gauge!("cartback_timers_pending").set(self.store.pending_timers().await? as f64);
        // Webhooks acknowledged (durable in SQLite's ingest journal) and not yet applied.
        metrics::gauge!("cartback_ingest_backlog").set(self.store.ingest_backlog() as f64);
        // Records that could not be applied, kept in `journal_failed`: anything above 0 wants an operator.
        metrics::gauge!("cartback_ingest_set_aside")
            .set(self.store.ingest_set_aside().await? as f64);
        for status in ["open", "abandoned", "converted"] {
            metrics::gauge!("cartback_carts", "status" => status).set(0.0);
        }
        for (status, n) in self.store.cart_counts().await? {
            metrics::gauge!("cartback_carts", "status" => status).set(n as f64);
        }
        Ok(())
    }

    /// Spawns the timer worker and one delivery worker per channel; they stop when `shutdown` turns true.
    pub fn spawn(
        self: &Arc<Self>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        let engine = self.clone();
        let mut stop = shutdown.clone();
        let gauges = self.clone();
        let mut gauge_stop = shutdown.clone();
        handles.push(tokio::spawn(async move {
            loop {
                if let Err(err) = gauges.publish_gauges().await {
                    tracing::debug!(error = %err, "Could not read queue depths.");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = gauge_stop.changed() => return,
                }
            }
        }));
        handles.push(tokio::spawn(async move {
            loop {
                let busy = match engine.tick().await {
                    Ok(n) => n > 0,
                    Err(err) => {
                        tracing::warn!(error = %err, "Timer worker could not claim timers.");
                        false
                    }
                };
                if *stop.borrow() {
                    return;
                }
                if !busy {
                    tokio::select! {
                        _ = tokio::time::sleep(engine.idle_poll) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }));
        for id in self.channels.keys() {
            let id = id.clone();
            let engine = self.clone();
            let mut stop = shutdown.clone();
            handles.push(tokio::spawn(async move {
                let mut idle = engine.idle_poll;
                loop {
                    let (busy, pause) = match engine.deliver_round(&id).await {
                        Ok((n, pause)) => (n > 0, pause),
                        Err(err) => {
                            tracing::warn!(channel = %id, error = %err, "Delivery worker could not claim messages.");
                            (false, None)
                        }
                    };
                    if *stop.borrow() {
                        return;
                    }
                    // An idle, failing or throttled channel backs off instead of re-reading its queue
                    // in a tight loop; other channels have their own workers and are not slowed.
                    idle = if busy { engine.idle_poll } else { (idle * 2).min(engine.idle_poll * 10) };
                    let rest = match pause {
                        Some(p) => p.min(Duration::from_secs(60)),
                        None if busy => Duration::ZERO,
                        None => idle,
                    };
                    if !rest.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(rest) => {}
                            _ = stop.changed() => return,
                        }
                    }
                }
            }));
        }
        handles
    }

    // ---- test mode ----

    /// Runs every step of `flow_id` at once for a cart, ignoring waits, caps, holdout, quiet hours
    /// and conditions; messages are marked as test. Opt-outs are still honoured.
    pub async fn test_flow(
        &self,
        flow_id: &str,
        cart: Cart,
        contact: ContactRecord,
    ) -> Result<TestReport, TestError> {
        let flow = self
            .flows
            .get(flow_id)
            .ok_or_else(|| TestError::UnknownFlow(flow_id.to_string()))?;
        let now = self.clock.now();
        let variant = flow.variants.first().and_then(|v| v.name.clone());
        let steps = flow.steps(variant.as_deref()).to_vec();
        let run = RunRecord {
            id: new_id(),
            flow_id: flow.id.clone(),
            cart_id: cart.id.clone(),
            contact_id: Some(contact.id.clone()),
            variant,
            holdout: false,
            status: RunStatus::Completed,
            step: 0,
            test: true,
            enrolled_at: now,
            updated_at: now,
            exit_reason: Some("test".into()),
        };
        let mut commit = TimerCommit::default();
        let mut report = TestReport {
            run_id: run.id.clone(),
            messages: Vec::new(),
            skipped: Vec::new(),
        };
        for (i, step) in steps.iter().enumerate() {
            let Some(send) = &step.send else { continue };
            let Some(channel) = self.channels.get(&send.channel) else {
                report
                    .skipped
                    .push(format!("step {i}: channel {} not configured", send.channel));
                continue;
            };
            if !reachable(channel.address, &contact, false) {
                report.skipped.push(format!(
                    "step {i}: contact not reachable on {} (address or opt-out)",
                    channel.id
                ));
                continue;
            }
            let step_run = RunRecord {
                step: i as u32,
                ..run.clone()
            };
            match self
                .compose(flow, &step_run, i, step, channel, &cart, &contact, now)
                .await?
            {
                Ok((message, links)) => {
                    report.messages.push(TestMessage {
                        step: i as u32,
                        channel: channel.id.clone(),
                        message_id: message.id.clone(),
                        to: message.to.clone(),
                        subject: message.subject.clone(),
                        text: message.text.clone(),
                        html: message.html.clone(),
                    });
                    commit.outbox.push(NewMessage {
                        run_id: run.id.clone(),
                        step: i as u32,
                        contact_id: Some(contact.id.clone()).filter(|id| !id.starts_with("test-")),
                        cart_id: None,
                        cap: None,
                        links,
                        message,
                    });
                }
                Err(e) => report.skipped.push(format!("step {i}: {e}")),
            }
        }
        commit.enrol.push(NewRun {
            run,
            reenter: None,
            first_step_at: None,
        });
        self.store.apply(commit, now).await?;
        Ok(report)
    }
}

struct Facts {
    purchased: bool,
    engagement: cartback_store::Engagement,
    tags: Vec<String>,
    has_email: bool,
    has_phone: bool,
    total: Money,
}

impl Facts {
    fn holds(&self, c: &Condition) -> bool {
        match c {
            Condition::Purchased => self.purchased,
            Condition::Clicked => self.engagement.clicked,
            Condition::Opened => self.engagement.opened,
            Condition::Delivered => self.engagement.delivered,
            Condition::HasEmail => self.has_email,
            Condition::HasPhone => self.has_phone,
            Condition::Tag(t) => self.tags.iter().any(|x| x.eq_ignore_ascii_case(t)),
            Condition::CartValueAtLeast(amount) => {
                Money::parse_decimal(amount, self.total.currency)
                    .map(|m| self.total.minor >= m.minor)
                    .unwrap_or(false)
            }
        }
    }
}

/// Can this contact be sent to on a channel of this kind? See [`unreachable()`].
pub fn reachable(kind: AddressKind, contact: &ContactRecord, require_consent: bool) -> bool {
    unreachable(kind, contact, require_consent).is_none()
}

/// Why this contact cannot be sent to on a channel of this kind, or `None` when it can.
/// Email: an address (`no_address`) that a verified source reported, not one only claimed through
/// a public key (`unverified_address`), not opted out (and subscribed when the flow requires
/// consent) (`no_consent`). SMS: a verified E.164 number with SMS consent, always. A hand-off: a
/// verified address of either kind.
pub fn unreachable(
    kind: AddressKind,
    contact: &ContactRecord,
    require_consent: bool,
) -> Option<&'static str> {
    let c = &contact.info;
    let check = |present: bool, verified: bool, consent: bool| {
        if !present {
            Some("no_address")
        } else if !verified {
            Some("unverified_address")
        } else if !consent {
            Some("no_consent")
        } else {
            None
        }
    };
    match kind {
        AddressKind::Email => check(
            c.email.is_some(),
            contact.email_verified,
            c.email_consent != Consent::Unsubscribed
                && (!require_consent || c.email_consent == Consent::Subscribed),
        ),
        AddressKind::Phone => check(
            c.phone.as_deref().is_some_and(|p| p.starts_with('+')),
            contact.phone_verified,
            c.sms_consent == Consent::Subscribed,
        ),
        AddressKind::Web | AddressKind::HandOff => {
            let email = check(c.email.is_some(), contact.email_verified, true);
            let phone = check(c.phone.is_some(), contact.phone_verified, true);
            match (email, phone) {
                (None, _) | (_, None) => None,
                (Some(e), Some(p)) => Some(if e == "no_address" { p } else { e }),
            }
        }
    }
}

fn contact_tz(c: &ContactInfo) -> Option<Tz> {
    c.time_zone.as_deref().and_then(|t| t.parse::<Tz>().ok())
}

fn full_name(c: &ContactInfo) -> Option<String> {
    match (&c.first_name, &c.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.clone()),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    }
}

/// The template context (see docs/CONFIG.md for every key).
#[allow(clippy::too_many_arguments)]
pub fn context(
    cart: &Cart,
    contact: &ContactInfo,
    discount: Option<Value>,
    flow_id: &str,
    step: usize,
    run: &RunRecord,
    message_id: &str,
    public_url: &str,
) -> Value {
    let items: Vec<Value> = cart
        .items
        .iter()
        .map(|i| {
            json!({
                "title": i.title, "variant": i.variant_title, "sku": i.sku, "quantity": i.quantity,
                "unit_price": format_money(&i.unit_price), "line_price": format_money(&i.line_price),
                "url": i.url, "image_url": i.image_url, "product_id": i.product_id, "variant_id": i.variant_id,
            })
        })
        .collect();
    let item_count: u64 = cart.items.iter().map(|i| u64::from(i.quantity)).sum();
    json!({
        "contact": {
            "email": contact.email, "phone": contact.phone, "first_name": contact.first_name,
            "last_name": contact.last_name, "name": full_name(contact), "locale": contact.locale,
        },
        "cart": {
            "id": cart.id, "items": items, "item_count": item_count, "total": format_money(&cart.total),
            "subtotal": cart.subtotal.as_ref().map(format_money), "currency": cart.currency.code(),
            "recovery_url": cart.recovery_url,
        },
        "links": {
            "recovery": cart.recovery_url,
            "items": cart.items.iter().map(|i| i.url.clone()).collect::<Vec<_>>(),
            "unsubscribe": Value::Null,
        },
        "discount": discount,
        "shop": { "id": cart.source_id, "hub_url": public_url },
        "flow": { "id": flow_id, "step": step + 1, "variant": run.variant },
        "message": { "id": message_id },
    })
}

fn unknown_or_retry(
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

/// `first`, twice that, four times … capped at `max` (defaults: 2 s … one hour).
pub fn backoff(first: Duration, max: Duration, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    first.saturating_mul(1u32 << exp).min(max)
}

fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let factor: f64 = rand::thread_rng().gen_range(0.8..1.2);
    d.mul_f64(factor)
}

fn outcome_label(o: &DeliveryOutcome) -> &'static str {
    match o {
        DeliveryOutcome::Sent { .. } => "sent",
        DeliveryOutcome::Retry { .. } => "retry",
        DeliveryOutcome::Failed { .. } => "failed",
        DeliveryOutcome::Unknown { .. } => "unknown",
        DeliveryOutcome::Cancelled { .. } => "cancelled",
    }
}

fn metrics_count(name: &'static str, n: usize) {
    metrics::counter!(name).increment(n as u64);
}

pub fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_channel_rate_allows_its_burst_then_holds() {
        let common = ChannelCommon {
            rate: Some("10/s".into()),
            ..Default::default()
        };
        let ch = Channel::with_settings("email", Arc::new(Nothing), AddressKind::Email, &common);
        let limiter = ch.limiter.as_ref().expect("a rate makes a limiter");
        let allowed = (0..50).filter(|_| limiter.check().is_ok()).count();
        assert_eq!(allowed, 10, "burst of one period's worth, then the rate");
        assert!(Channel::new("x", Arc::new(Nothing), AddressKind::Email)
            .limiter
            .is_none());
        // The lease always exceeds the send timeout.
        assert!(ch.lease > ch.send_timeout);
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
