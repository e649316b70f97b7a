//! The rules ingest applies, written once, as plain functions: when a cart may be abandoned, where
//! its abandonment check goes after an update (the debounce), and which cart an order converts.
//!
//! The store asks them through [`cartback_store::IngestRules`], which [`Rules`] implements; the
//! hub hands one [`Rules`] to the store when it opens it (`cartback_cli::app`). The abandonment
//! check itself ([`Engine::cart_check`](crate::Engine)) asks [`may_abandon`] again when it fires.

use crate::flows::Flow;
use cartback_core::{CartSnapshot, CartStatus, Order};
use cartback_store::{CheckPlan, IngestRules, OrderCandidates};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long after a cart's last update an order may still convert it by the contact alone (no
/// token in common) when no flow is configured; else the longest `attribution_window` of the flows.
pub const DEFAULT_ORDER_MATCH_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// An order placed this long before a cart's last update still converts it: the platform's clocks
/// (order and cart) may disagree by that much.
pub const ORDER_CLOCK_SKEW: Duration = Duration::from_secs(60);

fn dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A cart may be abandoned while it is open (or already abandoned), holds items, and the
/// platform has not completed its checkout.
pub fn may_abandon(status: CartStatus, has_items: bool, completed: bool) -> bool {
    matches!(status, CartStatus::Open | CartStatus::Abandoned) && has_items && !completed
}

/// The debounce: after a fresh update, a cart that may be abandoned is checked `after` its
/// platform `updated_at` (the shortest `abandon_after` of the enabled flows); one that may not
/// loses its pending check; with no such flow, nothing is scheduled.
pub fn check_plan(status: CartStatus, snap: &CartSnapshot, after: Option<Duration>) -> CheckPlan {
    let Some(after) = after else {
        return CheckPlan::Untouched;
    };
    if may_abandon(status, !snap.items.is_empty(), snap.completed_at.is_some()) {
        CheckPlan::Due(snap.updated_at + dur(after))
    } else {
        CheckPlan::Cancel
    }
}

/// Which cart an order converts: the one its checkout token names, else the one its cart token
/// names, else the contact's most recently updated open cart, updated no more than `window` before
/// the order was placed (and not after it, give or take [`ORDER_CLOCK_SKEW`]).
pub fn order_cart(
    placed_at: DateTime<Utc>,
    found: &OrderCandidates,
    window: Duration,
) -> Option<String> {
    if let Some(id) = found.by_checkout.as_ref().or(found.by_cart_token.as_ref()) {
        return Some(id.clone());
    }
    let earliest = placed_at - dur(window);
    let latest = placed_at + dur(ORDER_CLOCK_SKEW);
    found
        .contact_carts
        .iter()
        .filter(|(_, updated)| *updated >= earliest && *updated <= latest)
        .max_by_key(|(_, updated)| *updated)
        .map(|(id, _)| id.clone())
}

/// The shortest `abandon_after` of the enabled flows: when a cart's check is first due.
pub fn cart_check_after(flows: &BTreeMap<String, Flow>) -> Option<Duration> {
    flows
        .values()
        .filter(|f| f.enabled() && f.settings.trigger.on_abandonment())
        .filter_map(|f| f.settings.abandon_after.map(|a| a.0))
        .min()
}

/// The rules with the configuration's numbers, as the store asks them.
#[derive(Debug, Clone)]
pub struct Rules {
    /// See [`check_plan`].
    pub cart_check_after: Option<Duration>,
    /// See [`order_cart`].
    pub order_match_window: Duration,
    /// The events `event:<name>` flows start on, lower-cased.
    pub trigger_events: Vec<String>,
}

/// The event names enabled `event:<name>` flows start on, lower-cased.
pub fn trigger_events(flows: &BTreeMap<String, Flow>) -> Vec<String> {
    let mut names: Vec<String> = flows
        .values()
        .filter(|f| f.enabled())
        .filter_map(|f| match &f.settings.trigger {
            crate::config::Trigger::Event(name) => Some(name.trim().to_lowercase()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// How far back an order may match a cart by its contact alone: the longest attribution window.
pub fn order_match_window(flows: &BTreeMap<String, Flow>) -> Duration {
    flows
        .values()
        .map(|f| f.settings.attribution_window.0)
        .max()
        .unwrap_or(DEFAULT_ORDER_MATCH_WINDOW)
}

impl Rules {
    /// The rules for these flows.
    pub fn new(flows: &BTreeMap<String, Flow>) -> Rules {
        Rules {
            cart_check_after: cart_check_after(flows),
            order_match_window: order_match_window(flows),
            trigger_events: trigger_events(flows),
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            cart_check_after: None,
            order_match_window: DEFAULT_ORDER_MATCH_WINDOW,
            trigger_events: Vec::new(),
        }
    }
}

impl IngestRules for Rules {
    fn cart_check(&self, status: CartStatus, snapshot: &CartSnapshot) -> CheckPlan {
        check_plan(status, snapshot, self.cart_check_after)
    }

    fn order_cart(&self, order: &Order, found: &OrderCandidates) -> Option<String> {
        order_cart(order.placed_at, found, self.order_match_window)
    }

    fn triggers_on(&self, name: &str) -> bool {
        let name = name.trim().to_lowercase();
        self.trigger_events.contains(&name)
    }
}

/// [`Rules`] that a configuration reload can change: what the store is opened with when the
/// engine may reload (the engine keeps the same handle, `Engine::with_rules`).
#[derive(Debug)]
pub struct LiveRules(std::sync::RwLock<Rules>);

impl LiveRules {
    pub fn new(flows: &BTreeMap<String, Flow>) -> LiveRules {
        LiveRules(std::sync::RwLock::new(Rules::new(flows)))
    }

    /// The rules for these flows from now on.
    pub fn update(&self, flows: &BTreeMap<String, Flow>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Rules::new(flows);
    }

    /// The rules in force, read under the lock (no copy on the ingest path).
    fn now(&self) -> std::sync::RwLockReadGuard<'_, Rules> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl IngestRules for LiveRules {
    fn cart_check(&self, status: CartStatus, snapshot: &CartSnapshot) -> CheckPlan {
        self.now().cart_check(status, snapshot)
    }

    fn order_cart(&self, order: &Order, found: &OrderCandidates) -> Option<String> {
        self.now().order_cart(order, found)
    }

    fn triggers_on(&self, name: &str) -> bool {
        self.now().triggers_on(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::{Currency, LineItem, Money};
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn snap(items: usize, completed: bool) -> CartSnapshot {
        let usd = Money::new(500, Currency::parse("USD").unwrap());
        CartSnapshot {
            key: "k".into(),
            cart_token: None,
            checkout_token: None,
            platform_id: None,
            contact: None,
            items: (0..items)
                .map(|i| LineItem {
                    product_id: None,
                    variant_id: None,
                    sku: None,
                    title: format!("item {i}"),
                    variant_title: None,
                    quantity: 1,
                    unit_price: usd,
                    line_price: usd,
                    url: None,
                    image_url: None,
                })
                .collect(),
            currency: usd.currency,
            subtotal: None,
            total: usd,
            recovery_url: None,
            updated_at: t(0),
            completed_at: completed.then(|| t(5)),
        }
    }

    #[test]
    fn only_open_carts_with_items_and_no_completed_checkout_may_be_abandoned() {
        assert!(may_abandon(CartStatus::Open, true, false));
        assert!(may_abandon(CartStatus::Abandoned, true, false));
        assert!(!may_abandon(CartStatus::Converted, true, false));
        assert!(!may_abandon(CartStatus::Open, false, false));
        assert!(!may_abandon(CartStatus::Open, true, true));
    }

    #[test]
    fn the_check_goes_after_the_platform_update_or_away() {
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(
            check_plan(CartStatus::Open, &snap(1, false), hour),
            CheckPlan::Due(t(3600))
        );
        assert_eq!(
            check_plan(CartStatus::Open, &snap(0, false), hour),
            CheckPlan::Cancel,
            "emptied"
        );
        assert_eq!(
            check_plan(CartStatus::Open, &snap(1, true), hour),
            CheckPlan::Cancel,
            "checkout completed"
        );
        assert_eq!(
            check_plan(CartStatus::Converted, &snap(1, false), hour),
            CheckPlan::Cancel
        );
        assert_eq!(
            check_plan(CartStatus::Open, &snap(1, false), None),
            CheckPlan::Untouched,
            "no flow looks for abandoned carts"
        );
    }

    #[test]
    fn an_order_finds_its_cart_by_checkout_then_cart_token_then_contact_within_the_window() {
        let week = DEFAULT_ORDER_MATCH_WINDOW;
        let placed = t(86_400);
        let mut found = OrderCandidates {
            by_checkout: Some("by-checkout".into()),
            by_cart_token: Some("by-token".into()),
            contact_carts: vec![("recent".into(), t(86_000)), ("older".into(), t(0))],
        };
        assert_eq!(
            order_cart(placed, &found, week).as_deref(),
            Some("by-checkout")
        );
        found.by_checkout = None;
        assert_eq!(
            order_cart(placed, &found, week).as_deref(),
            Some("by-token")
        );
        found.by_cart_token = None;
        assert_eq!(order_cart(placed, &found, week).as_deref(), Some("recent"));
        // The most recent within the window, whatever order the store listed them in.
        found.contact_carts.reverse();
        assert_eq!(order_cart(placed, &found, week).as_deref(), Some("recent"));
        // Outside the window: no guess.
        assert_eq!(order_cart(placed, &found, Duration::from_secs(60)), None);
        // A cart updated well after the order was placed is another shopping trip.
        found.contact_carts = vec![("later".into(), placed + chrono::Duration::seconds(120))];
        assert_eq!(order_cart(placed, &found, week), None);
        found.contact_carts = vec![("skew".into(), placed + chrono::Duration::seconds(30))];
        assert_eq!(order_cart(placed, &found, week).as_deref(), Some("skew"));
    }
}
