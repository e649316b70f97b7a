//! How a run stands, as the runs API shows it: every step it took (numbered and named as people
//! count steps, with what each came to), the last one, and the next one with when it is due.
//! The store keeps step indexes; [`crate::flows::Flow::step_ref`] turns them into numbers.

use crate::flows::{step_number, Flow, StepRef};
use crate::front::Engine;
use cartback_store::{RunRecord, RunStatus, StoreResult, TimerKind};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One step a run took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepTaken {
    /// Counted from 1: the first `[[flow.<id>.step]]` is step 1.
    pub step: u32,
    pub name: String,
    /// `sent`, `handed_off`, `skipped`, `deferred`, … and why (`detail`).
    pub outcome: String,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// The step a run will take next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextStep {
    pub step: u32,
    pub name: String,
    /// When it is due (`None` when no timer holds it, e.g. a run the flow no longer has).
    pub due: Option<DateTime<Utc>>,
}

/// A run as the runs API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunProgress {
    pub id: String,
    pub flow_id: String,
    pub cart_id: String,
    pub contact_id: Option<String>,
    pub variant: Option<String>,
    pub holdout: bool,
    pub status: RunStatus,
    pub test: bool,
    pub enrolled_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub exit_reason: Option<String>,
    /// How many steps the run's flow (and variant) has.
    pub step_count: u32,
    pub last_step: Option<StepTaken>,
    pub next_step: Option<NextStep>,
    pub steps: Vec<StepTaken>,
}

/// A step of a flow that no longer has it (or of a flow no longer configured): numbered, unnamed.
fn step_ref(flow: Option<&Flow>, variant: Option<&str>, index: u32) -> StepRef {
    flow.and_then(|f| f.step_ref(variant, index))
        .unwrap_or_else(|| StepRef {
            number: step_number(index % cartback_store::CLOSING_STEP),
            name: String::new(),
        })
}

/// The view of a run, decided without a database from what the store holds.
pub fn progress(
    flow: Option<&Flow>,
    run: RunRecord,
    log: Vec<cartback_store::model::StepRecord>,
    due: Option<DateTime<Utc>>,
) -> RunProgress {
    let variant = run.variant.as_deref();
    let steps: Vec<StepTaken> = log
        .into_iter()
        .map(|r| {
            let at = step_ref(flow, variant, r.step);
            StepTaken {
                step: at.number,
                name: at.name,
                outcome: r.outcome,
                detail: r.detail,
                at: r.at,
            }
        })
        .collect();
    let step_count = flow.map_or(0, |f| f.steps(variant).len() as u32);
    let next_step = (run.status == RunStatus::Running && run.step < step_count).then(|| {
        let at = step_ref(flow, variant, run.step);
        NextStep {
            step: at.number,
            name: at.name,
            due,
        }
    });
    RunProgress {
        last_step: steps.last().cloned(),
        steps,
        next_step,
        step_count,
        id: run.id,
        flow_id: run.flow_id,
        cart_id: run.cart_id,
        contact_id: run.contact_id,
        variant: run.variant,
        holdout: run.holdout,
        status: run.status,
        test: run.test,
        enrolled_at: run.enrolled_at,
        updated_at: run.updated_at,
        exit_reason: run.exit_reason,
    }
}

impl Engine {
    /// Step `index` (as stored) of a run of `flow_id` in `variant`, numbered and named as people
    /// count steps.
    pub fn step_ref(&self, flow_id: &str, variant: Option<&str>, index: u32) -> StepRef {
        step_ref(self.live().flows.get(flow_id), variant, index)
    }

    /// The runs of a cart, each with its steps taken, the last and the next.
    pub async fn cart_runs(&self, cart_id: &str) -> StoreResult<Vec<RunProgress>> {
        let runs = self.store.runs_for_cart(cart_id).await?;
        let live = self.live();
        let mut out = Vec::with_capacity(runs.len());
        for run in runs {
            let log = self.store.run_steps(&run.id).await?;
            let due = if run.status == RunStatus::Running {
                self.store.timer_due(TimerKind::RunStep, &run.id).await?
            } else {
                None
            };
            out.push(progress(live.flows.get(&run.flow_id), run, log, due));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use cartback_store::model::StepRecord;
    use serde_json::json;

    fn run(step: u32, status: RunStatus) -> RunRecord {
        RunRecord {
            id: "run-1".into(),
            flow_id: "recover".into(),
            cart_id: "cart-1".into(),
            contact_id: Some("contact-1".into()),
            variant: None,
            holdout: false,
            status,
            step,
            test: false,
            enrolled_at: t(0),
            updated_at: t(0),
            exit_reason: None,
        }
    }

    fn record(step: u32, outcome: &str) -> StepRecord {
        StepRecord {
            step,
            outcome: outcome.into(),
            detail: None,
            at: t(0),
        }
    }

    #[test]
    fn steps_are_counted_from_one_and_named() {
        let flows = recover(json!({ "step": [
            { "name": "first nudge", "send": { "channel": "email", "template": "e" } },
            { "wait": "1d", "send": { "channel": "email", "template": "e" } },
            { "wait": "2d", "send": { "channel": "email", "template": "e" } },
        ]}));
        let flow = flows.get("recover");
        let due = t(86_400);
        let p = progress(
            flow,
            run(1, RunStatus::Running),
            vec![record(0, "sent")],
            Some(due),
        );
        let last = p.last_step.expect("a last step");
        assert_eq!((last.step, last.name.as_str()), (1, "first nudge"));
        let next = p.next_step.expect("a next step");
        assert_eq!((next.step, next.name.as_str()), (2, "e via email"));
        assert_eq!(next.due, Some(due));
        assert_eq!(p.step_count, 3);
    }

    #[test]
    fn a_finished_run_has_no_next_step() {
        let flows = recover(json!({ "step": [
            { "send": { "channel": "email", "template": "e" } },
        ]}));
        let p = progress(
            flows.get("recover"),
            run(1, RunStatus::Completed),
            vec![record(0, "sent")],
            None,
        );
        assert_eq!(p.next_step, None);
        let p = progress(
            flows.get("recover"),
            run(0, RunStatus::Converted),
            vec![],
            None,
        );
        assert_eq!((p.next_step, p.last_step), (None, None));
    }

    #[test]
    fn a_closing_message_is_named_after_the_step_it_closes() {
        let flows = recover(json!({ "step": [
            { "send": { "channel": "email", "template": "e" } },
            { "wait": "1d", "send": { "channel": "email" } },
        ]}));
        let flow = flows.get("recover").expect("flow");
        let closing = flow
            .step_ref(None, cartback_store::CLOSING_STEP + 1)
            .expect("closing step");
        assert_eq!(closing.number, 2);
        assert_eq!(closing.name, "purchase closes hand-off to email");
        // A flow that lost the step still numbers it.
        let gone = step_ref(None, None, 4);
        assert_eq!((gone.number, gone.name.as_str()), (5, ""));
    }
}
