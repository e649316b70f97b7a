//! Attribution: an order credited to the runs that may have won it back (within each flow's
//! window), and the flow reports.

use crate::front::*;
use cartback_store::{RunStatus, StoreResult, TimerCommit};
use chrono::{DateTime, Utc};
use std::time::Duration;

impl Engine {
    /// Credits a new order to the runs that won it (see `report` for the rules).
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
}
