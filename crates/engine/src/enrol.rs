//! Enrolment: firing due timers, and the abandonment check that enrols a cart in every flow
//! whose `abandon_after` has passed (reachable contact, holdout, variant).

use crate::assign::{in_holdout, pick_variant};
use crate::config::Trigger;
use crate::flows::Flow;
use crate::front::*;
use crate::step::reachable;
use cartback_store::{
    CapCheck, CartRecord, NewRun, RunRecord, RunStatus, StoreResult, Timer, TimerCommit, TimerKind,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::BTreeMap;

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

    /// Fires one timer, in a `timer` span (its kind and subject: a cart, run or event id, never an
    /// address).
    #[tracing::instrument(name = "timer", skip_all, fields(kind = timer.kind.as_str(), subject = %timer.subject))]
    pub(crate) async fn fire(&self, timer: &Timer) -> StoreResult<()> {
        let now = self.clock.now();
        metrics::histogram!("cartback_timer_lateness_seconds", "kind" => timer.kind.as_str())
            .record((now - timer.due_at).num_milliseconds().max(0) as f64 / 1000.0);
        let commit = match timer.kind {
            TimerKind::CartCheck => self.cart_check(&timer.subject, now).await?,
            TimerKind::RunStep => self.run_step(&timer.subject, now).await?,
            TimerKind::Attribute => self.attribute(&timer.subject).await?,
            TimerKind::Trigger => self.triggered(&timer.subject, now).await?,
        };
        let steps: Vec<String> = commit.steps.iter().map(|s| s.outcome.clone()).collect();
        let outcome = self.store.commit_timer(timer, commit, now).await?;
        if outcome.applied {
            // What each step came to, skips by reason (docs/API.md).
            for s in steps {
                metrics::counter!("cartback_steps_total", "outcome" => s).increment(1);
            }
        }
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

    /// The abandonment check's shell: reads the cart and its runs, then [`decide_enrolment`].
    pub(crate) async fn cart_check(
        &self,
        cart_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TimerCommit> {
        let Some(record) = self.store.cart(cart_id).await? else {
            return Ok(TimerCommit::default());
        };
        let existing = if may_abandon_record(&record) {
            self.store.runs_for_cart(cart_id).await?
        } else {
            Vec::new()
        };
        let live = self.live();
        let flows = &live.flows;
        let mut commit = decide_enrolment(flows, &self.channels, &record, &existing, now);
        // A paused flow enrols nothing: a cart that comes due while it is paused is abandoned
        // (and reported) but not enrolled in it.
        if !commit.enrol.is_empty() {
            let paused = self.paused_flows().await?;
            commit.enrol.retain(|r| !paused.contains(&r.run.flow_id));
        }
        if commit.abandon_cart.is_some() {
            let too_old = flows
                .values()
                .filter(|f| f.enabled() && f.settings.trigger.on_abandonment())
                .filter(|f| too_old(f, &record.cart, now))
                .count();
            if too_old > 0 {
                // Stored and reported, never reminded: a replay or an import of an old cart.
                metrics::counter!("cartback_enrolments_skipped_total", "reason" => "too_old")
                    .increment(too_old as u64);
                tracing::info!(%cart_id, flows = too_old, "Cart older than max_cart_age; not reminded.");
            }
        }
        Ok(commit)
    }
}

fn may_abandon_record(record: &CartRecord) -> bool {
    let cart = &record.cart;
    crate::rules::may_abandon(
        cart.status,
        !cart.items.is_empty(),
        cart.completed_at.is_some(),
    )
}

/// The abandonment check, decided from what the store holds (no database): the cart is marked
/// abandoned once any enabled flow's `abandon_after` has passed since its last update, and each
/// such flow enrols it unless it already ran for this cart or the contact is unreachable on every
/// channel of the flow; holdout and variant come from stable hashes. Flows not yet due reschedule
/// the check to the earliest of them.
pub(crate) fn decide_enrolment(
    flows: &BTreeMap<String, Flow>,
    channels: &BTreeMap<String, Channel>,
    record: &CartRecord,
    existing: &[RunRecord],
    now: DateTime<Utc>,
) -> TimerCommit {
    let mut commit = TimerCommit::default();
    if !may_abandon_record(record) {
        return commit;
    }
    let cart = &record.cart;
    let mut next_due: Option<DateTime<Utc>> = None;
    for flow in flows
        .values()
        .filter(|f| f.enabled() && f.settings.trigger.on_abandonment())
    {
        let after = flow.settings.abandon_after.map(|a| a.0).unwrap_or_default();
        let due = cart.updated_at + chrono_dur(after);
        if due > now {
            next_due = Some(next_due.map_or(due, |d| d.min(due)));
            continue;
        }
        commit.abandon_cart = Some(cart.id.clone());
        // A checkout flow waits for a shopper who reached checkout.
        if flow.settings.trigger == Trigger::CheckoutAbandoned && cart.checkout_token.is_none() {
            continue;
        }
        if existing.iter().any(|r| r.flow_id == flow.id && !r.test) {
            continue;
        }
        if let Some(run) = new_run(flow, channels, record, now) {
            commit.enrol.push(run);
        }
    }
    commit.reschedule = next_due;
    commit
}

/// Whether the cart's last activity (as the platform dates it) is older than the flow's
/// `max_cart_age`: such a cart is stored and reported, never reminded.
pub(crate) fn too_old(flow: &Flow, cart: &cartback_core::Cart, now: DateTime<Utc>) -> bool {
    now - cart.updated_at > chrono_dur(flow.settings.max_cart_age.0)
}

/// A run of `flow` for the cart, unless the cart is too old to remind or its contact is
/// unreachable on every channel of the flow; holdout and variant from stable hashes.
pub(crate) fn new_run(
    flow: &Flow,
    channels: &BTreeMap<String, Channel>,
    record: &CartRecord,
    now: DateTime<Utc>,
) -> Option<NewRun> {
    let cart = &record.cart;
    if too_old(flow, cart, now) {
        return None;
    }
    let contact = record.contact.as_ref()?;
    let reachable = flow.channels().any(|c| {
        channels
            .get(c)
            .is_some_and(|ch| reachable(ch.address, contact, flow.settings.require_consent))
    });
    if !reachable {
        return None;
    }
    let holdout = in_holdout(&flow.id, &contact.id, flow.settings.holdout_percent);
    let variant = if flow.variants.len() > 1
        || flow.variants.first().is_some_and(|v| v.name.is_some())
    {
        let weights: Vec<u32> = flow.variants.iter().map(|v| v.weight).collect();
        pick_variant(&flow.id, &contact.id, &weights).and_then(|i| flow.variants[i].name.clone())
    } else {
        None
    };
    let first_wait = flow
        .steps(variant.as_deref())
        .first()
        .map(|s| s.wait)
        .unwrap_or_default();
    Some(NewRun {
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
        trigger: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use cartback_core::{CartStatus, Consent};
    use serde_json::json;

    #[test]
    fn a_cart_is_not_abandoned_before_abandon_after_and_the_check_moves_to_then() {
        let c = decide_enrolment(&recover(json!({})), &channels(), &cart(t(0)), &[], t(1800));
        assert!(c.enrol.is_empty() && c.abandon_cart.is_none());
        assert_eq!(c.reschedule, Some(t(H)));
    }

    #[test]
    fn a_due_cart_is_abandoned_and_enrolled_with_its_first_step_after_the_first_wait() {
        let c = decide_enrolment(&recover(json!({})), &channels(), &cart(t(0)), &[], t(H));
        assert_eq!(c.abandon_cart.as_deref(), Some("cart-1"));
        assert_eq!(c.enrol.len(), 1);
        let r = &c.enrol[0];
        assert_eq!(
            (r.run.flow_id.as_str(), r.run.status),
            ("recover", RunStatus::Running)
        );
        assert_eq!(r.first_step_at, Some(t(H)), "the first step waits nothing");
        assert_eq!(c.reschedule, None);
    }

    #[test]
    fn a_flow_runs_once_per_cart() {
        let existing = [run("recover", 0, t(H))];
        let c = decide_enrolment(
            &recover(json!({})),
            &channels(),
            &cart(t(0)),
            &existing,
            t(2 * H),
        );
        assert_eq!(c.abandon_cart.as_deref(), Some("cart-1"));
        assert!(c.enrol.is_empty());
    }

    #[test]
    fn an_unreachable_contact_is_not_enrolled_but_the_cart_is_abandoned() {
        let mut record = cart(t(0));
        let contact = record.contact.as_mut().unwrap();
        contact.info.email_consent = Consent::Unknown;
        contact.info.sms_consent = Consent::Unknown;
        let flows = recover(json!({ "require_consent": true }));
        let c = decide_enrolment(&flows, &channels(), &record, &[], t(H));
        assert_eq!(c.abandon_cart.as_deref(), Some("cart-1"));
        assert!(c.enrol.is_empty());
        // Without require_consent, "unknown" email consent is enough; unknown SMS consent is not.
        let c = decide_enrolment(&recover(json!({})), &channels(), &record, &[], t(H));
        assert_eq!(c.enrol.len(), 1);
    }

    #[test]
    fn a_held_out_run_is_recorded_with_no_step() {
        let flows = recover(json!({ "holdout_percent": 100 }));
        let c = decide_enrolment(&flows, &channels(), &cart(t(0)), &[], t(H));
        assert_eq!(c.enrol[0].run.status, RunStatus::HeldOut);
        assert!(c.enrol[0].run.holdout);
        assert_eq!(c.enrol[0].first_step_at, None);
    }

    #[test]
    fn a_bought_or_empty_cart_is_left_alone() {
        let mut record = cart(t(0));
        record.cart.status = CartStatus::Converted;
        let c = decide_enrolment(&recover(json!({})), &channels(), &record, &[], t(H));
        assert!(c.enrol.is_empty() && c.abandon_cart.is_none() && c.reschedule.is_none());
        let mut record = cart(t(0));
        record.cart.items.clear();
        let c = decide_enrolment(&recover(json!({})), &channels(), &record, &[], t(H));
        assert!(c.enrol.is_empty() && c.abandon_cart.is_none());
    }

    #[test]
    fn a_checkout_flow_waits_for_a_shopper_who_reached_checkout() {
        let flows = recover(json!({ "trigger": "checkout_abandoned" }));
        let c = decide_enrolment(&flows, &channels(), &cart(t(0)), &[], t(H));
        assert_eq!(c.abandon_cart.as_deref(), Some("cart-1"));
        assert!(c.enrol.is_empty(), "a cart that never reached checkout");
        let mut record = cart(t(0));
        record.cart.checkout_token = Some("chk-1".into());
        let c = decide_enrolment(&flows, &channels(), &record, &[], t(H));
        assert_eq!(c.enrol.len(), 1);
    }

    #[test]
    fn a_cart_older_than_max_cart_age_is_never_enrolled() {
        // Last activity eight days ago (a replayed webhook): abandoned, never reminded.
        let flows = recover(json!({}));
        let c = decide_enrolment(&flows, &channels(), &cart(t(0)), &[], t(8 * 24 * H));
        assert_eq!(c.abandon_cart.as_deref(), Some("cart-1"));
        assert!(c.enrol.is_empty());
        let flows = recover(json!({ "max_cart_age": "30d" }));
        let c = decide_enrolment(&flows, &channels(), &cart(t(0)), &[], t(8 * 24 * H));
        assert_eq!(c.enrol.len(), 1, "a flow may keep older carts");
    }

    #[test]
    fn tag_and_event_flows_are_not_started_by_abandonment() {
        let flows = recover(json!({ "trigger": "tag:AB CART", "abandon_after": null }));
        let c = decide_enrolment(&flows, &channels(), &cart(t(0)), &[], t(H));
        assert!(c.enrol.is_empty() && c.abandon_cart.is_none() && c.reschedule.is_none());
    }

    #[test]
    fn a_disabled_flow_enrols_nothing() {
        let flows = recover(json!({ "enabled": false }));
        let c = decide_enrolment(&flows, &channels(), &cart(t(0)), &[], t(H));
        assert!(c.enrol.is_empty() && c.abandon_cart.is_none());
    }
}
