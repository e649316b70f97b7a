//! Carts built from shopping events: a platform that reports clicks, not carts (Segment's
//! `Product Added` / `Product Removed`, one per click, often with only an anonymous id), sends
//! [`CartChange`]s; the cart is what its history folds to ([`fold`]), taken in the order of each
//! event's own time, so out-of-order delivery ends with the right cart. A whole-cart snapshot
//! (`Cart Viewed`, `Checkout Started`) in the same history replaces the lines as of its time.

use crate::cart::LineItem;
use crate::contact::ContactInfo;
use crate::money::Currency;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What one shopping event does to a cart's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOp {
    /// Adds the line, or adds its quantity to the same product's line.
    Add,
    /// Removes the product's line; with a quantity below the line's, takes that many off.
    Remove,
}

/// One change to a cart's lines (`EventKind::CartChanged`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartChange {
    /// The cart's key within its source: the platform's cart id, else the anonymous visitor's
    /// (`anon:<id>`), the same key its snapshots use.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
    /// Who, as far as the event says (often only an anonymous id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactInfo>,
    pub op: LineOp,
    pub line: LineItem,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_url: Option<String>,
    /// The event's own time: the order changes apply in.
    pub at: DateTime<Utc>,
}

/// One entry of a cart's history, in the order of `at` (then arrival).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartStep {
    /// A whole cart as of `at`.
    Snapshot {
        at: DateTime<Utc>,
        items: Vec<LineItem>,
    },
    Change {
        at: DateTime<Utc>,
        op: LineOp,
        line: LineItem,
    },
}

impl CartStep {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            CartStep::Snapshot { at, .. } | CartStep::Change { at, .. } => *at,
        }
    }
}

/// Whether two lines are the same product: the variant id, else the SKU, else the product id
/// with the variant title, else the title.
fn same_product(a: &LineItem, b: &LineItem) -> bool {
    let pick = |l: &LineItem| {
        if let Some(v) = l.variant_id.as_deref().filter(|v| !v.is_empty()) {
            return ("variant", v.to_string());
        }
        if let Some(s) = l.sku.as_deref().filter(|s| !s.is_empty()) {
            return ("sku", s.to_string());
        }
        if let Some(p) = l.product_id.as_deref().filter(|p| !p.is_empty()) {
            return (
                "product",
                format!("{p}\u{1f}{}", l.variant_title.as_deref().unwrap_or("")),
            );
        }
        ("title", l.title.trim().to_lowercase())
    };
    pick(a) == pick(b)
}

/// A line's price at a new quantity (unit price times quantity); `None` when out of range.
fn at_quantity(line: &LineItem, quantity: u32) -> Option<LineItem> {
    Some(LineItem {
        quantity,
        line_price: line.unit_price.checked_mul(i64::from(quantity))?,
        ..line.clone()
    })
}

/// The lines a cart's history comes to, applied in the order given (sort by [`CartStep::at`]
/// first, ties in arrival order). An add of a product already in the cart adds to its quantity
/// (and takes the newer price, title and links); a remove drops the line, or takes its quantity
/// off when that is smaller than the line's; a remove of a product not in the cart does nothing.
pub fn fold<'a>(history: impl IntoIterator<Item = &'a CartStep>) -> Vec<LineItem> {
    let mut lines: Vec<LineItem> = Vec::new();
    for step in history {
        match step {
            CartStep::Snapshot { items, .. } => lines = items.clone(),
            CartStep::Change { op, line, .. } => {
                let found = lines.iter().position(|l| same_product(l, line));
                match (op, found) {
                    (LineOp::Add, Some(i)) => {
                        let quantity = lines[i].quantity.saturating_add(line.quantity);
                        if let Some(merged) = at_quantity(line, quantity) {
                            lines[i] = merged;
                        }
                    }
                    (LineOp::Add, None) => {
                        if line.quantity > 0 {
                            lines.push(line.clone());
                        }
                    }
                    (LineOp::Remove, Some(i)) => {
                        let left = lines[i].quantity.saturating_sub(line.quantity);
                        if line.quantity == 0 || left == 0 {
                            lines.remove(i);
                        } else if let Some(fewer) = at_quantity(&lines[i], left) {
                            lines[i] = fewer;
                        }
                    }
                    (LineOp::Remove, None) => {}
                }
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::money::Money;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn line(sku: &str, quantity: u32, unit: i64) -> LineItem {
        let usd = Currency::parse("USD").unwrap();
        LineItem {
            product_id: Some(format!("p-{sku}")),
            variant_id: None,
            sku: Some(sku.into()),
            title: sku.to_uppercase(),
            variant_title: None,
            quantity,
            unit_price: Money::new(unit, usd),
            line_price: Money::new(unit * i64::from(quantity), usd),
            url: None,
            image_url: None,
        }
    }

    fn add(at: i64, sku: &str, q: u32) -> CartStep {
        CartStep::Change {
            at: t(at),
            op: LineOp::Add,
            line: line(sku, q, 1000),
        }
    }

    fn remove(at: i64, sku: &str, q: u32) -> CartStep {
        CartStep::Change {
            at: t(at),
            op: LineOp::Remove,
            line: line(sku, q, 1000),
        }
    }

    fn skus(lines: &[LineItem]) -> Vec<(String, u32, i64)> {
        lines
            .iter()
            .map(|l| (l.sku.clone().unwrap(), l.quantity, l.line_price.minor))
            .collect()
    }

    fn sorted(mut h: Vec<CartStep>) -> Vec<CartStep> {
        h.sort_by_key(CartStep::at);
        h
    }

    #[test]
    fn adds_increment_and_removes_drop() {
        let h = [
            add(1, "mug", 1),
            add(2, "tee", 2),
            add(3, "mug", 2),
            remove(4, "tee", 0),
        ];
        assert_eq!(skus(&fold(&h)), [("mug".into(), 3, 3000)]);
    }

    #[test]
    fn a_smaller_remove_takes_quantity_off() {
        let h = [add(1, "mug", 3), remove(2, "mug", 1), remove(3, "cap", 1)];
        assert_eq!(skus(&fold(&h)), [("mug".into(), 2, 2000)]);
    }

    #[test]
    fn out_of_order_delivery_ends_with_the_right_cart() {
        // Delivered: remove (t=3) before the add it undoes (t=1), and a late add (t=2).
        let delivered = vec![remove(3, "mug", 0), add(1, "mug", 1), add(2, "tee", 1)];
        assert_eq!(skus(&fold(&sorted(delivered))), [("tee".into(), 1, 1000)]);
    }

    #[test]
    fn a_snapshot_replaces_the_lines_as_of_its_time() {
        let snapshot = CartStep::Snapshot {
            at: t(5),
            items: vec![line("hat", 1, 500)],
        };
        // An add before the snapshot is subsumed by it; one after applies on top.
        let h = sorted(vec![add(6, "mug", 1), snapshot, add(4, "tee", 1)]);
        assert_eq!(
            skus(&fold(&h)),
            [("hat".into(), 1, 500), ("mug".into(), 1, 1000)]
        );
    }
}
