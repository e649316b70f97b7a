//! Test mode: every step of a flow at once for one cart, skipping waits, conditions, caps,
//! holdout and quiet hours, still honouring opt-outs; every message marked `test`.

use crate::front::*;
use crate::step::reachable;
use cartback_core::Cart;
use cartback_store::{ContactRecord, NewMessage, NewRun, RunRecord, RunStatus, TimerCommit};

impl Engine {
    // ---- test mode ----

    /// Runs every step of `flow_id` at once for a cart, ignoring waits, caps, holdout, quiet hours
    /// and conditions; messages are marked as test. Opt-outs are still honoured.
    pub async fn test_flow(
        &self,
        flow_id: &str,
        cart: Cart,
        contact: ContactRecord,
    ) -> Result<TestReport, TestError> {
        let live = self.live();
        let flow = live
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
            // Numbered from 1 and named, as every other surface shows a step.
            let n = crate::flows::step_number(i as u32);
            let Some(channel) = self.channels.get(&send.channel) else {
                report
                    .skipped
                    .push(format!("step {n}: channel {} not configured", send.channel));
                continue;
            };
            if !reachable(channel.address, &contact, false) {
                report.skipped.push(format!(
                    "step {n}: contact not reachable on {} (address or opt-out)",
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
                        step: n,
                        step_name: step.name.clone(),
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
                Err(e) => report.skipped.push(format!("step {n}: {e}")),
            }
        }
        commit.enrol.push(NewRun {
            run,
            reenter: None,
            first_step_at: None,
            trigger: None,
        });
        self.store.apply(commit, now).await?;
        Ok(report)
    }
}
