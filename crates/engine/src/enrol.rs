//! Enrolment: firing due timers, and the abandonment check that enrols a cart in every flow
//! whose `abandon_after` has passed (reachable contact, holdout, variant).

use crate::assign::{in_holdout, pick_variant};
use crate::front::*;
use crate::step::reachable;
use cartback_store::{
    CapCheck, NewRun, RunRecord, RunStatus, StoreResult, Timer, TimerCommit, TimerKind,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;

impl Engine {
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

    pub(crate) async fn fire(&self, timer: &Timer) -> StoreResult<()> {
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

    pub(crate) async fn cart_check(
        &self,
        cart_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TimerCommit> {
        let mut commit = TimerCommit::default();
        let Some(record) = self.store.cart(cart_id).await? else {
            return Ok(commit);
        };
        let cart = &record.cart;
        if !crate::rules::may_abandon(
            cart.status,
            !cart.items.is_empty(),
            cart.completed_at.is_some(),
        ) {
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
}
