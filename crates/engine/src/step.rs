//! A run's next step: conditions, consent and reachability, quiet hours, then the message.

use crate::config::Condition;
use crate::flows::Step;
use crate::front::*;
use cartback_core::{Cart, CartStatus, Consent, Money};
use cartback_store::{
    CapCheck, ContactRecord, NewMessage, RunRecord, RunStatus, RunUpdate, StepLog, StoreResult,
    TimerCommit,
};
use chrono::{DateTime, Utc};

impl Engine {
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

    pub(crate) async fn facts(
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
}

pub(crate) struct Facts {
    purchased: bool,
    engagement: cartback_store::Engagement,
    tags: Vec<String>,
    has_email: bool,
    has_phone: bool,
    total: Money,
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
