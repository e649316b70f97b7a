//! Attribution: an order credited to the runs that may have won it back (within each flow's
//! window), and the flow reports.

use crate::flows::Flow;
use crate::front::*;
use cartback_core::{Currency, Money, Purpose};
use cartback_store::{
    ConversionRow, MessageTouch, NewMessage, OrderRecord, OutboxRow, OutboxStatus, RunRecord,
    RunStatus, StoreResult, TimerCommit, CLOSING_STEP,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

impl Engine {
    /// Attribution's shell: reads the order, the runs it may credit and their messages' touches,
    /// then [`credit`].
    pub(crate) async fn attribute(&self, subject: &str) -> StoreResult<TimerCommit> {
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
        let live = self.live();
        let mut touches = HashMap::new();
        for run in &runs {
            if !run.holdout && counts(&order, run, window(&live.flows, &run.flow_id)) {
                touches.insert(run.id.clone(), self.store.message_touches(&run.id).await?);
            }
        }
        commit.conversions = credit(&live.flows, &order, &runs, &touches);
        if order.cart_id.is_some() {
            let mut handed = Vec::new();
            for run in runs.iter().filter(|r| !r.test && !r.holdout) {
                let filter = cartback_store::MessageFilter {
                    run_id: Some(run.id.clone()),
                    limit: 1000,
                    ..Default::default()
                };
                handed.extend(self.store.messages(&filter).await?);
            }
            commit
                .outbox
                .extend(closing_messages(&self.channels, &order, &handed));
        }
        for row in &commit.conversions {
            let group = if row.holdout { "holdout" } else { "treated" };
            metrics::counter!("cartback_conversions_total", "flow" => row.flow_id.clone(), "group" => group).increment(1);
            metrics::counter!("cartback_revenue_minor_total", "flow" => row.flow_id.clone(), "group" => group, "currency" => row.currency.clone())
                .increment(u64::try_from(row.revenue_minor).unwrap_or(0));
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
        let live = self.live();
        let Some(flow) = live.flows.get(flow_id) else {
            return Ok(None);
        };
        let data = self.store.report_data(flow_id, from, to).await?;
        let mut report = crate::report::build(flow_id, from, to, &data);
        let name = |number: u32| {
            flow.step_name_any(number.saturating_sub(1))
                .unwrap_or_default()
        };
        for s in &mut report.steps {
            s.name = name(s.step);
        }
        for o in &mut report.outcomes {
            o.name = name(o.step);
        }
        report.reasons = self.reasons_report(flow, from, to).await?;
        Ok(Some(report))
    }

    /// The flows in force (not those a reload retired).
    pub fn flow_ids(&self) -> Vec<String> {
        self.live()
            .flows
            .values()
            .filter(|f| !f.retired)
            .map(|f| f.id.clone())
            .collect()
    }
}

/// A flow's attribution window (seven days for a flow no longer configured).
pub(crate) fn window(flows: &BTreeMap<String, Flow>, flow_id: &str) -> chrono::Duration {
    chrono_dur(
        flows
            .get(flow_id)
            .map(|f| f.settings.attribution_window.0)
            .unwrap_or(Duration::from_secs(7 * 86_400)),
    )
}

/// Whether `order` may credit `run`: placed after it enrolled and within its window, and the run
/// was not turned away by the re-entry cap (it never ran).
pub(crate) fn counts(order: &OrderRecord, run: &RunRecord, window: chrono::Duration) -> bool {
    !run.test
        && order.placed_at >= run.enrolled_at
        && order.placed_at <= run.enrolled_at + window
        && !(run.status == RunStatus::Exited && run.exit_reason.as_deref() == Some("reenter_cap"))
}

/// Credits an order to every run it counts for (decided without a database): held-out runs are
/// credited with no touch; a treated run with its last message clicked, else delivered, else sent
/// within the window before the order (`touches` by run id), or with none.
pub(crate) fn credit(
    flows: &BTreeMap<String, Flow>,
    order: &OrderRecord,
    runs: &[RunRecord],
    touches: &HashMap<String, Vec<MessageTouch>>,
) -> Vec<ConversionRow> {
    let mut rows = Vec::new();
    for run in runs {
        let window = window(flows, &run.flow_id);
        if !counts(order, run, window) {
            continue;
        }
        let mut row = ConversionRow {
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
            let touches = touches.get(&run.id).map(Vec::as_slice).unwrap_or(&[]);
            let pick = |f: &dyn Fn(&MessageTouch) -> Option<DateTime<Utc>>| {
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
        rows.push(row);
    }
    rows
}

/// The purchase closes the loop (decided without a database): for each hand-off channel the
/// bought cart was handed to (a message sent, or perhaps sent), one closing message, so the
/// platform's own flow stops too. Numbered `CLOSING_STEP` + the step it closes: the outbox's
/// uniqueness makes it once, however often attribution runs. Built from the last hand-off per
/// channel: the platform hears of the contact and cart it was given.
pub(crate) fn closing_messages(
    channels: &BTreeMap<String, Channel>,
    order: &OrderRecord,
    handed: &[OutboxRow],
) -> Vec<NewMessage> {
    let mut last: BTreeMap<&str, &OutboxRow> = BTreeMap::new();
    for row in handed {
        let hand_off = channels
            .get(&row.channel_id)
            .is_some_and(|c| c.address == AddressKind::HandOff);
        let went = matches!(row.status, OutboxStatus::Sent | OutboxStatus::Unknown);
        if !hand_off || !went || row.test || row.step >= CLOSING_STEP {
            continue;
        }
        let newer = last
            .get(row.channel_id.as_str())
            .is_none_or(|seen| (row.created_at, row.step) > (seen.created_at, seen.step));
        if newer {
            last.insert(row.channel_id.as_str(), row);
        }
    }
    let total = Currency::parse(&order.currency)
        .ok()
        .map(|c| Money::new(order.total_minor, c));
    last.into_values()
        .map(|row| {
            let mut message = row.message.clone();
            message.id = new_id();
            message.purpose = Purpose::Converted {
                order_id: order.order_id.clone(),
                total,
                placed_at: order.placed_at,
            };
            message.subject = None;
            message.html = None;
            message.text = None;
            message.headers.clear();
            message.test = false;
            NewMessage {
                message,
                run_id: row.run_id.clone(),
                step: CLOSING_STEP + row.step,
                contact_id: row.contact_id.clone(),
                // Not the cart's: a message about a bought cart is not cancelled for it.
                cart_id: None,
                cap: None,
                links: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use serde_json::json;

    fn order(placed_at: DateTime<Utc>) -> OrderRecord {
        OrderRecord {
            source_id: "shop".into(),
            order_id: "1001".into(),
            cart_id: Some("cart-1".into()),
            contact_id: Some("contact-1".into()),
            total_minor: 2500,
            currency: "USD".into(),
            placed_at,
            test: false,
        }
    }

    fn touch(id: &str, sent: i64, delivered: Option<i64>, clicked: Option<i64>) -> MessageTouch {
        MessageTouch {
            message_id: id.into(),
            step: 0,
            channel_id: "email".into(),
            sent_at: Some(t(sent)),
            delivered_at: delivered.map(t),
            clicked_at: clicked.map(t),
        }
    }

    #[test]
    fn the_last_click_wins_over_a_later_delivery_and_a_send() {
        let flows = recover(json!({}));
        let r = run("recover", 1, t(H));
        let touches = HashMap::from([(
            r.id.clone(),
            vec![
                touch("m1", 2 * H, Some(2 * H), Some(3 * H)),
                touch("m2", 25 * H, Some(25 * H), None),
            ],
        )]);
        let rows = credit(
            &flows,
            &order(t(30 * H)),
            std::slice::from_ref(&r),
            &touches,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].touch.as_str(), rows[0].message_id.as_deref()),
            ("clicked", Some("m1"))
        );
        assert_eq!(rows[0].revenue_minor, 2500);
        // No click: the last delivery.
        let touches =
            HashMap::from([(r.id.clone(), vec![touch("m2", 25 * H, Some(25 * H), None)])]);
        let rows = credit(&flows, &order(t(30 * H)), &[r], &touches);
        assert_eq!(rows[0].touch, "delivered");
    }

    #[test]
    fn held_out_runs_count_with_no_touch_and_old_or_early_orders_do_not_count() {
        let flows = recover(json!({ "attribution_window": "2d" }));
        let mut held = run("recover", 0, t(H));
        held.holdout = true;
        let rows = credit(&flows, &order(t(10 * H)), &[held.clone()], &HashMap::new());
        assert_eq!(
            (rows.len(), rows[0].touch.as_str(), rows[0].holdout),
            (1, "none", true)
        );
        assert!(
            credit(&flows, &order(t(60 * H)), &[held.clone()], &HashMap::new()).is_empty(),
            "past the window"
        );
        assert!(
            credit(&flows, &order(t(0)), &[held], &HashMap::new()).is_empty(),
            "before enrolment"
        );
    }

    #[test]
    fn a_purchase_closes_each_platform_handed_the_cart_once() {
        use cartback_store::OutboxStatus::*;
        let handed = vec![
            outbox_row("platform", 0, Sent, t(H)),
            outbox_row("platform", 2, Unknown, t(3 * H)),
            outbox_row("email", 1, Sent, t(2 * H)),
            outbox_row("platform", 3, Failed, t(4 * H)),
        ];
        let closing = closing_messages(&channels(), &order(t(5 * H)), &handed);
        assert_eq!(closing.len(), 1, "one per platform, none for email");
        let m = &closing[0];
        assert_eq!((m.step, m.cart_id.as_deref()), (CLOSING_STEP + 2, None));
        assert_eq!(m.message.channel_id, "platform");
        assert_ne!(m.message.id, "m-platform-2", "a message of its own");
        assert_eq!(m.message.discount_code.as_deref(), Some("SAVE10"));
        assert!(m.message.contact.is_some() && m.message.cart.is_some());
        assert_eq!(
            m.message.purpose,
            Purpose::Converted {
                order_id: "1001".into(),
                total: Some(Money::new(2500, Currency::parse("USD").unwrap())),
                placed_at: t(5 * H),
            }
        );
        // Nothing handed off, or only in test mode, or only refused: nothing to close.
        let mut test = outbox_row("platform", 0, Sent, t(H));
        test.test = true;
        assert!(closing_messages(&channels(), &order(t(5 * H)), &[test]).is_empty());
        let closed = outbox_row("platform", CLOSING_STEP, Sent, t(H));
        assert!(closing_messages(&channels(), &order(t(5 * H)), &[closed]).is_empty());
    }

    #[test]
    fn runs_turned_away_by_the_reentry_cap_and_test_runs_are_not_credited() {
        let flows = recover(json!({}));
        let mut capped = run("recover", 0, t(H));
        capped.status = RunStatus::Exited;
        capped.exit_reason = Some("reenter_cap".into());
        let mut test = run("recover", 0, t(H));
        test.test = true;
        assert!(credit(&flows, &order(t(2 * H)), &[capped, test], &HashMap::new()).is_empty());
    }
}
