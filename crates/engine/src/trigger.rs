//! Flows that no cart abandonment starts: `tag:<name>` (a tag newly set on a contact, through the
//! API or by an integration) and `event:<name>` (a tracked event). Each fires a `trigger` timer
//! (an event's is scheduled by its ingest, a tag's by [`Engine::tag_contact`]); firing enrols the
//! cart the trigger concerns — the one the event names, else the contact's newest cart that is not
//! bought — in every enabled flow it starts, once per flow and cart, never a cart older than the
//! flow's `max_cart_age`. A run started by an event keeps it (`event:<log seq>`): its templates
//! read the event as `event.name` and `event.properties`.

use crate::config::Trigger;
use crate::enrol::new_run;
use crate::flows::Flow;
use crate::front::Engine;
use cartback_core::{CartStatus, EventKind};
use cartback_store::{CartFilter, CartRecord, StoreResult, TimerCommit, TimerKind};
use chrono::{DateTime, Utc};

/// Separates the contact id from the tag in a tag trigger's subject.
const SEP: char = '\u{1f}';

/// Which flows a trigger starts: the enabled ones whose trigger names it (case-insensitively).
pub(crate) fn flows_for<'a>(
    flows: impl Iterator<Item = &'a Flow>,
    tag: Option<&str>,
    event: Option<&str>,
) -> Vec<&'a Flow> {
    flows
        .filter(|f| f.enabled())
        .filter(|f| match (&f.settings.trigger, tag, event) {
            (Trigger::Tag(t), Some(tag), _) => t.eq_ignore_ascii_case(tag.trim()),
            (Trigger::Event(e), _, Some(name)) => e.eq_ignore_ascii_case(name.trim()),
            _ => false,
        })
        .collect()
}

/// The cart a contact's trigger concerns when the event names none: the newest with items that
/// is not bought.
fn newest_open(carts: Vec<CartRecord>) -> Option<CartRecord> {
    carts
        .into_iter()
        .filter(|c| c.cart.status != CartStatus::Converted && !c.cart.items.is_empty())
        .max_by_key(|c| c.cart.updated_at)
}

impl Engine {
    /// Tags a contact; a tag new to it that starts a flow schedules that flow's trigger now.
    /// Returns whether the tag was new.
    pub async fn tag_contact(&self, contact_id: &str, tag: &str) -> StoreResult<bool> {
        let new = self.store.add_contact_tag(contact_id, tag).await?;
        if new && !flows_for(self.live().flows.values(), Some(tag), None).is_empty() {
            self.store
                .schedule_timer(
                    TimerKind::Trigger,
                    &format!("tag:{contact_id}{SEP}{tag}"),
                    self.clock.now(),
                )
                .await?;
        }
        Ok(new)
    }

    /// A `trigger` timer fired: enrols the cart it concerns in the flows it starts.
    pub(crate) async fn triggered(
        &self,
        subject: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TimerCommit> {
        let live = self.live();
        let paused = self.paused_flows().await?;
        let (flows, contact_id, cart_id, trigger) = if let Some((contact, tag)) =
            subject.strip_prefix("tag:").and_then(|s| s.split_once(SEP))
        {
            (
                flows_for(live.flows.values(), Some(tag), None),
                Some(contact.to_string()),
                None,
                format!("tag:{tag}"),
            )
        } else {
            let Ok(seq) = subject.parse::<i64>() else {
                return Ok(TimerCommit::default());
            };
            let Some(logged) = self.store.logged_event(seq).await? else {
                return Ok(TimerCommit::default());
            };
            let EventKind::Tracked(tracked) = &logged.kind else {
                return Ok(TimerCommit::default());
            };
            (
                flows_for(live.flows.values(), None, Some(&tracked.name)),
                logged.contact_id.clone(),
                logged.cart_id.clone(),
                format!("event:{seq}"),
            )
        };
        if flows.is_empty() {
            return Ok(TimerCommit::default());
        }
        let record = match (cart_id, &contact_id) {
            (Some(id), _) => self.store.cart(&id).await?,
            (None, Some(contact)) => newest_open(
                self.store
                    .carts(&CartFilter {
                        contact_id: Some(contact.clone()),
                        limit: 20,
                        ..Default::default()
                    })
                    .await?,
            ),
            (None, None) => None,
        };
        let Some(record) = record else {
            tracing::info!(%trigger, "Trigger with no cart to remind about; no flow started.");
            return Ok(TimerCommit::default());
        };
        if record.cart.status == CartStatus::Converted {
            return Ok(TimerCommit::default());
        }
        let existing = self.store.runs_for_cart(&record.cart.id).await?;
        let mut commit = TimerCommit::default();
        for flow in flows.into_iter().filter(|f| !paused.contains(&f.id)) {
            if existing.iter().any(|r| r.flow_id == flow.id && !r.test) {
                continue;
            }
            if crate::enrol::too_old(flow, &record.cart, now) {
                metrics::counter!("cartback_enrolments_skipped_total", "reason" => "too_old")
                    .increment(1);
                continue;
            }
            if let Some(mut run) = new_run(flow, &self.channels, &record, now) {
                run.trigger = Some(trigger.clone());
                commit.enrol.push(run);
            }
        }
        Ok(commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use serde_json::json;

    #[test]
    fn a_trigger_names_its_flows_case_insensitively() {
        let flows = flows(json!({
            "ab": { "trigger": "tag:AB CART", "step": [{ "send": { "channel": "email", "template": "e" } }] },
            "wish": { "trigger": "event:Wishlist Product Added", "step": [{ "send": { "channel": "email", "template": "e" } }] },
            "off": { "trigger": "tag:ab cart", "enabled": false, "step": [{ "send": { "channel": "email", "template": "e" } }] },
            "cart": { "trigger": "cart_abandoned", "abandon_after": "1h", "step": [{ "send": { "channel": "email", "template": "e" } }] },
        }));
        let ids = |v: Vec<&Flow>| v.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(flows_for(flows.values(), Some("ab cart"), None)),
            ["ab"]
        );
        assert_eq!(
            ids(flows_for(
                flows.values(),
                None,
                Some("wishlist product added")
            )),
            ["wish"]
        );
        assert!(flows_for(flows.values(), Some("VIP"), None).is_empty());
        assert!(flows_for(flows.values(), None, Some("Product Viewed")).is_empty());
    }

    #[test]
    fn the_cart_a_contact_trigger_concerns_is_the_newest_not_bought() {
        let mut old = cart(t(0));
        old.cart.id = "old".into();
        let mut bought = cart(t(2 * H));
        bought.cart.id = "bought".into();
        bought.cart.status = CartStatus::Converted;
        let mut open = cart(t(H));
        open.cart.id = "open".into();
        let picked = newest_open(vec![old, bought, open]).unwrap();
        assert_eq!(picked.cart.id, "open");
    }
}
