//! A run's next step: conditions, consent and reachability, quiet hours, then the message.

use crate::config::Condition;
use crate::flows::{Flow, Step};
use crate::front::*;
use cartback_core::{Cart, CartStatus, Consent, Money};
use cartback_store::{
    CapCheck, CartRecord, ContactRecord, NewMessage, RunRecord, RunStatus, RunUpdate, StepLog,
    StoreResult, TimerCommit,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What a run's step comes to, decided without a database ([`decide_step`]).
#[derive(Debug, Clone)]
pub(crate) enum StepPlan<'a> {
    /// Compose and queue a message on this channel, then move on.
    Send(&'a Channel),
    /// Nothing to send (a wait-only step, or skipped for this reason: `(outcome, detail)` for the
    /// step log), then move on.
    Pass(Option<(&'static str, String)>),
    /// Not now: run the same step again at this time (quiet hours).
    Defer(DateTime<Utc>),
}

/// A run's step, decided from the facts: `unless` / `if` conditions, whether the contact can be
/// reached on the step's channel (consent, a verified address), and quiet hours in the contact's
/// time zone (or the flow's).
pub(crate) fn decide_step<'a>(
    flow: &Flow,
    step: &Step,
    contact: &ContactRecord,
    facts: &Facts,
    channels: &'a BTreeMap<String, Channel>,
    now: DateTime<Utc>,
) -> StepPlan<'a> {
    if let Some(c) = step.unless.iter().find(|c| facts.holds(c)) {
        return StepPlan::Pass(Some(("skipped", format!("unless {c:?}"))));
    }
    if let Some(c) = step.if_all.iter().find(|c| !facts.holds(c)) {
        return StepPlan::Pass(Some(("skipped", format!("if {c:?} not met"))));
    }
    let Some(send) = step.send.as_ref() else {
        return StepPlan::Pass(None);
    };
    let Some(channel) = channels.get(&send.channel) else {
        return StepPlan::Pass(Some((
            "skipped",
            format!("channel {} not configured", send.channel),
        )));
    };
    if let Some(why) = unreachable(channel.address, contact, flow.settings.require_consent) {
        let outcome = if why == "unverified_address" {
            "unverified_address"
        } else {
            "no_consent"
        };
        return StepPlan::Pass(Some((outcome, channel.id.clone())));
    }
    if let Some(quiet) = &flow.quiet {
        let tz = contact_tz(&contact.info).unwrap_or(flow.default_tz);
        if let Some(until) = quiet.defer_until(now, tz) {
            return StepPlan::Defer(until);
        }
    }
    StepPlan::Send(channel)
}

/// Why a run stops before its step, if it does: its flow was removed, its steps are done, its cart
/// is gone or bought, its contact erased.
pub(crate) fn exit_before_step(
    flow: Option<&Flow>,
    step_exists: bool,
    record: Option<&CartRecord>,
) -> Option<(RunStatus, &'static str)> {
    if flow.is_none() {
        return Some((RunStatus::Exited, "flow_removed"));
    }
    if !step_exists {
        return Some((RunStatus::Completed, "completed"));
    }
    let Some(record) = record else {
        return Some((RunStatus::Exited, "cart_gone"));
    };
    if record.cart.status == CartStatus::Converted {
        return Some((RunStatus::Converted, "purchased"));
    }
    if record.contact.is_none() {
        return Some((RunStatus::Exited, "contact_gone"));
    }
    None
}

/// After step `run.step`: the next step, due `wait` from now, or the run completed.
pub(crate) fn advance(
    run: &RunRecord,
    steps: &[Step],
    now: DateTime<Utc>,
) -> (RunUpdate, Option<DateTime<Utc>>) {
    let next = run.step + 1;
    let due = steps.get(next as usize).map(|s| now + chrono_dur(s.wait));
    let update = RunUpdate {
        run_id: run.id.clone(),
        expect_step: run.step,
        step: next,
        status: if due.is_some() {
            RunStatus::Running
        } else {
            RunStatus::Completed
        },
        exit_reason: None,
    };
    (update, due)
}

impl Engine {
    /// A run step's shell: reads the run, its cart and the facts its conditions need, asks
    /// [`exit_before_step`] and [`decide_step`], composes the message when there is one to send.
    pub(crate) async fn run_step(
        &self,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TimerCommit> {
        let mut commit = TimerCommit::default();
        let Some(run) = self.store.run(run_id).await? else {
            return Ok(commit);
        };
        if run.status != RunStatus::Running {
            return Ok(commit);
        }
        let live = self.live();
        let flow = live.flows.get(&run.flow_id);
        // A paused flow's run waits, step by step, until the flow is resumed.
        if flow.is_some() && self.is_paused(&run.flow_id).await? {
            commit.reschedule = Some(now + chrono_dur(crate::live::PAUSED_WAIT));
            return Ok(commit);
        }
        let steps = flow.map(|f| f.steps(run.variant.as_deref())).unwrap_or(&[]);
        let idx = run.step as usize;
        let record = match (flow, steps.get(idx)) {
            (Some(_), Some(_)) => self.store.cart(&run.cart_id).await?,
            _ => None,
        };
        if let Some((status, reason)) = exit_before_step(flow, idx < steps.len(), record.as_ref()) {
            commit.run_update = Some(RunUpdate {
                run_id: run.id.clone(),
                expect_step: run.step,
                step: run.step,
                status,
                exit_reason: Some(reason.to_string()),
            });
            return Ok(commit);
        }
        let (Some(flow), Some(step), Some(record)) = (flow, steps.get(idx), record.as_ref()) else {
            return Ok(commit);
        };
        let Some(contact) = &record.contact else {
            return Ok(commit);
        };
        let log = |outcome: &str, detail: Option<String>| StepLog {
            run_id: run.id.clone(),
            step: run.step,
            outcome: outcome.to_string(),
            detail,
        };
        let facts = self.facts(flow, &run, &record.cart, contact, step).await?;
        match decide_step(flow, step, contact, &facts, &self.channels, now) {
            StepPlan::Defer(until) => {
                // Deferred, not dropped: the same step runs when the window ends.
                commit
                    .steps
                    .push(log("deferred", Some(format!("quiet hours until {until}"))));
                commit.reschedule = Some(until);
                return Ok(commit);
            }
            StepPlan::Pass(None) => commit.steps.push(log("waited", None)),
            StepPlan::Pass(Some((outcome, detail))) => {
                commit.steps.push(log(outcome, Some(detail)))
            }
            StepPlan::Send(channel) => match self
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
                        cap: live.limits.get(&channel.id).map(|c| CapCheck {
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
            },
        }
        let (update, due) = advance(&run, steps, now);
        commit.run_update = Some(update);
        commit.reschedule = due;
        Ok(commit)
    }

    pub(crate) async fn facts(
        &self,
        flow: &Flow,
        run: &RunRecord,
        cart: &Cart,
        contact: &ContactRecord,
        step: &Step,
    ) -> StoreResult<Facts> {
        let conds = step.unless.iter().chain(step.if_all.iter());
        let mut needs_engagement = false;
        let mut needs_tags = false;
        let mut needs_event = false;
        for c in conds {
            match c {
                Condition::Clicked | Condition::Opened | Condition::Delivered => {
                    needs_engagement = true
                }
                Condition::Tag(_) => needs_tags = true,
                Condition::Event { .. } => needs_event = true,
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
            item_count: cart.items.iter().map(|i| i.quantity).sum(),
            event: if needs_event {
                self.trigger_event(flow, run).await?
            } else {
                serde_json::Value::Null
            },
        })
    }
}

pub(crate) struct Facts {
    purchased: bool,
    engagement: cartback_store::Engagement,
    tags: Vec<String>,
    has_email: bool,
    has_phone: bool,
    total: Money,
    item_count: u32,
    /// The triggering event (`{"name", "properties"}`) of an `event:` flow's run.
    event: serde_json::Value,
}

impl Facts {
    pub(crate) fn holds(&self, c: &Condition) -> bool {
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
            Condition::ItemCountAtLeast(n) => self.item_count >= *n,
            Condition::Event { path, equals } => {
                let mut v = &self.event["properties"];
                for key in path {
                    v = &v[key.as_str()];
                }
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                match equals {
                    Some(want) => !v.is_null() && text == *want,
                    None => !matches!(text.as_str(), "" | "false" | "0"),
                }
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
/// consent) (`no_consent`). SMS: a verified E.164 number with SMS consent, always. The on-site
/// pop-up: a verified address of either kind. A hand-off: a verified address of either kind whose
/// channel the shopper has not opted out of (subscribed to, where the flow requires consent).
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
        AddressKind::Web => {
            let email = check(c.email.is_some(), contact.email_verified, true);
            let phone = check(c.phone.is_some(), contact.phone_verified, true);
            match (email, phone) {
                (None, _) | (_, None) => None,
                (Some(e), Some(p)) => Some(if e == "no_address" { p } else { e }),
            }
        }
        // A platform may reach the shopper by email or by SMS, and is told the consent of each:
        // a shopper who opted out of both (or, where the flow requires consent, subscribed to
        // neither) is never handed off.
        AddressKind::HandOff => {
            let allows = |consent: Consent| {
                consent != Consent::Unsubscribed
                    && (!require_consent || consent == Consent::Subscribed)
            };
            let email = check(
                c.email.is_some(),
                contact.email_verified,
                allows(c.email_consent),
            );
            let phone = check(
                c.phone.is_some(),
                contact.phone_verified,
                allows(c.sms_consent),
            );
            match (email, phone) {
                (None, _) | (_, None) => None,
                (Some(e), Some(p)) => Some(match (e, p) {
                    ("no_address", p) => p,
                    (e, "no_address") => e,
                    ("unverified_address", _) | (_, "unverified_address") => "unverified_address",
                    (e, _) => e,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use serde_json::json;

    fn facts(purchased: bool) -> Facts {
        let record = cart(t(0));
        Facts {
            purchased,
            engagement: Default::default(),
            tags: vec!["vip".into()],
            has_email: true,
            has_phone: true,
            total: record.cart.total,
            item_count: 2,
            event: json!({ "name": "Wishlist", "properties": { "color": "red", "n": 3, "gift": false } }),
        }
    }

    fn plan(
        flows: &BTreeMap<String, Flow>,
        idx: usize,
        contact: &ContactRecord,
        f: &Facts,
        now: DateTime<Utc>,
    ) -> String {
        let flow = &flows["recover"];
        let step = &flow.steps(None)[idx];
        let channels = channels();
        match decide_step(flow, step, contact, f, &channels, now) {
            StepPlan::Send(c) => format!("send {}", c.id),
            StepPlan::Pass(None) => "pass".into(),
            StepPlan::Pass(Some((o, d))) => format!("{o}: {d}"),
            StepPlan::Defer(until) => format!("defer {until}"),
        }
    }

    #[test]
    fn a_reachable_contact_gets_the_step() {
        assert_eq!(
            plan(&recover(json!({})), 0, &contact(), &facts(false), t(H)),
            "send email"
        );
        assert_eq!(
            plan(&recover(json!({})), 1, &contact(), &facts(false), t(H)),
            "send sms"
        );
    }

    #[test]
    fn conditions_skip_the_send() {
        let flows = recover(json!({ "step": [
            { "unless": ["purchased"], "send": { "channel": "email", "template": "e" } },
            { "if": ["tag:gold"], "send": { "channel": "email", "template": "e" } },
            { "wait": "1h" }
        ] }));
        assert_eq!(
            plan(&flows, 0, &contact(), &facts(true), t(H)),
            "skipped: unless Purchased"
        );
        assert_eq!(
            plan(&flows, 0, &contact(), &facts(false), t(H)),
            "send email"
        );
        assert!(plan(&flows, 1, &contact(), &facts(false), t(H)).starts_with("skipped: if Tag("));
        assert_eq!(plan(&flows, 2, &contact(), &facts(false), t(H)), "pass");
    }

    #[test]
    fn item_count_and_event_properties_are_conditions() {
        let f = facts(false);
        let holds = |c: &str| f.holds(&crate::config::parse_condition(c).unwrap());
        // The fixture's cart has 2 units; its event {"color": "red", "n": 3, "gift": false}.
        assert!(holds("item_count >= 2"));
        assert!(!holds("item_count >= 3"));
        assert!(holds("event.color == red"));
        assert!(holds("event.color == \"red\""));
        assert!(!holds("event.color == blue"));
        assert!(holds("event.n == 3"));
        assert!(holds("event.color"));
        assert!(!holds("event.gift"), "false is not set");
        assert!(!holds("event.missing"));
        assert!(
            !holds("event.missing == "),
            "an absent property equals nothing"
        );
    }

    #[test]
    fn an_unreachable_contact_is_skipped_with_the_reason() {
        let mut c = contact();
        c.info.sms_consent = cartback_core::Consent::Unknown;
        assert_eq!(
            plan(&recover(json!({})), 1, &c, &facts(false), t(H)),
            "no_consent: sms"
        );
        let mut c = contact();
        c.email_verified = false;
        assert_eq!(
            plan(&recover(json!({})), 0, &c, &facts(false), t(H)),
            "unverified_address: email"
        );
        let flows =
            recover(json!({ "step": [{ "send": { "channel": "push", "template": "e" } }] }));
        assert_eq!(
            plan(&flows, 0, &contact(), &facts(false), t(H)),
            "skipped: channel push not configured"
        );
    }

    #[test]
    fn a_shopper_opted_out_of_everything_is_never_handed_off() {
        use cartback_core::Consent::*;
        let mut c = contact();
        assert_eq!(unreachable(AddressKind::HandOff, &c, false), None);
        c.info.email_consent = Unsubscribed;
        assert_eq!(
            unreachable(AddressKind::HandOff, &c, false),
            None,
            "SMS still allowed"
        );
        c.info.sms_consent = Unsubscribed;
        assert_eq!(
            unreachable(AddressKind::HandOff, &c, false),
            Some("no_consent")
        );
        let mut c = contact();
        c.info.email_consent = Unknown;
        c.info.sms_consent = Unknown;
        assert_eq!(unreachable(AddressKind::HandOff, &c, false), None);
        assert_eq!(
            unreachable(AddressKind::HandOff, &c, true),
            Some("no_consent")
        );
        c.email_verified = false;
        c.phone_verified = false;
        assert_eq!(
            unreachable(AddressKind::HandOff, &c, false),
            Some("unverified_address")
        );
    }

    #[test]
    fn quiet_hours_defer_to_their_end_in_the_contacts_time_zone() {
        let flows = recover(
            json!({ "quiet_hours": { "from": "21:00", "to": "08:00" }, "timezone": "UTC" }),
        );
        // t(0) is 12:00 UTC: not quiet. 23:00 UTC is, until 08:00 the next day.
        assert_eq!(
            plan(&flows, 0, &contact(), &facts(false), t(0)),
            "send email"
        );
        let late = t(11 * H);
        let out = plan(&flows, 0, &contact(), &facts(false), late);
        assert_eq!(out, format!("defer {}", t(20 * H)));
        // A contact in New York (18:00 there) is not in quiet hours.
        let mut c = contact();
        c.info.time_zone = Some("America/New_York".into());
        assert_eq!(plan(&flows, 0, &c, &facts(false), late), "send email");
    }

    #[test]
    fn a_run_moves_to_its_next_step_or_completes() {
        let flows = recover(json!({}));
        let steps = flows["recover"].steps(None);
        let (u, due) = advance(&run("recover", 0, t(0)), steps, t(H));
        assert_eq!(
            (u.step, u.status, due),
            (1, RunStatus::Running, Some(t(25 * H)))
        );
        let (u, due) = advance(&run("recover", 1, t(0)), steps, t(H));
        assert_eq!((u.step, u.status, due), (2, RunStatus::Completed, None));
    }

    #[test]
    fn a_run_stops_when_its_cart_is_bought_or_gone() {
        let flows = recover(json!({}));
        let flow = flows.get("recover");
        let mut bought = cart(t(0));
        bought.cart.status = CartStatus::Converted;
        let mut erased = cart(t(0));
        erased.contact = None;
        assert_eq!(
            exit_before_step(None, true, None),
            Some((RunStatus::Exited, "flow_removed"))
        );
        assert_eq!(
            exit_before_step(flow, false, None),
            Some((RunStatus::Completed, "completed"))
        );
        assert_eq!(
            exit_before_step(flow, true, None),
            Some((RunStatus::Exited, "cart_gone"))
        );
        assert_eq!(
            exit_before_step(flow, true, Some(&bought)),
            Some((RunStatus::Converted, "purchased"))
        );
        assert_eq!(
            exit_before_step(flow, true, Some(&erased)),
            Some((RunStatus::Exited, "contact_gone"))
        );
        assert_eq!(exit_before_step(flow, true, Some(&cart(t(0)))), None);
    }
}
