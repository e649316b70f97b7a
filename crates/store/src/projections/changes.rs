//! Carts built from shopping events (`EventKind::CartChanged`): the cart is what its history in
//! the event log folds to (`cartback_core::change::fold`), in the order of each event's own time,
//! so a late or out-of-order click ends with the right cart. A snapshot older than a change
//! already applied folds the same way ([`refold`]).

use super::schedule_cart_check;
use crate::exec::{corrupt, new_id, query, Exec};
use crate::rules::IngestRules;
use crate::time::{from_ms, to_ms};
use crate::StoreResult;
use cartback_core::change::fold;
use cartback_core::{
    CartChange, CartSnapshot, CartStatus, CartStep, Currency, EventKind, LineItem, Money,
};
use chrono::{DateTime, Utc};

/// The kinds of events that make up a cart's lines.
const HISTORY: &str = "'cart_updated', 'checkout_started', 'cart_changed'";

/// Applies one change (event `seq`, already in the log) to its cart, creating the cart when it
/// is the first; returns the cart id and its status.
pub(crate) async fn apply_change(
    tx: &mut dyn Exec,
    source_id: &str,
    change: &CartChange,
    seq: i64,
    contact_id: Option<&str>,
    received: i64,
    rules: &dyn IngestRules,
) -> StoreResult<(String, String)> {
    let existing =
        query("SELECT id, updated_at, status FROM carts WHERE source_id = $1 AND cart_key = $2")
            .bind(source_id)
            .bind(&change.key)
            .fetch_optional(&mut *tx)
            .await?;
    let at = to_ms(change.at);
    let (cart_id, newest) = match existing {
        Some(row) => {
            let stored: i64 = row.get("updated_at")?;
            (row.get::<String, _>("id")?, at >= stored)
        }
        None => {
            let id = new_id();
            query(
                "INSERT INTO carts (id, source_id, cart_key, cart_token, status, contact_id, items,
                    item_count, currency, subtotal_minor, total_minor, recovery_url, updated_at, created_at)
                 VALUES ($1, $2, $3, $4, 'open', $5, '[]', 0, $6, 0, 0, $7, $8, $9)",
            )
            .bind(&id)
            .bind(source_id)
            .bind(&change.key)
            .bind(&change.cart_token)
            .bind(contact_id)
            .bind(change.currency.code())
            .bind(&change.recovery_url)
            .bind(at)
            .bind(received)
            .execute(&mut *tx)
            .await?;
            (id, true)
        }
    };
    query("UPDATE events SET cart_id = $1 WHERE seq = $2")
        .bind(&cart_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    query(
        "UPDATE carts SET cart_token = COALESCE(cart_token, $1), contact_id = COALESCE($2, contact_id),
            recovery_url = COALESCE($3, recovery_url)
         WHERE id = $4",
    )
    .bind(&change.cart_token)
    .bind(contact_id)
    .bind(&change.recovery_url)
    .bind(&cart_id)
    .execute(&mut *tx)
    .await?;
    let folded = refold(tx, &cart_id, newest).await?;
    // A click newer than the cart's last activity pushes the abandonment check back, as a
    // checkout update does; a late, older one only corrects the lines.
    if newest && folded.status != CartStatus::Converted {
        schedule_cart_check(
            tx,
            &cart_id,
            rules.cart_check(folded.status, &folded.snapshot),
        )
        .await?;
    }
    Ok((cart_id, folded.status.as_str().to_string()))
}

/// A cart as its history folds.
pub(crate) struct Folded {
    pub status: CartStatus,
    pub snapshot: CartSnapshot,
}

/// Recomputes a cart's lines and totals from its history and writes them; `reopen`: the newest
/// activity is new, so an abandoned cart is open again.
pub(crate) async fn refold(tx: &mut dyn Exec, cart_id: &str, reopen: bool) -> StoreResult<Folded> {
    let rows = query(&format!(
        "SELECT seq, payload FROM events WHERE cart_id = $1 AND kind IN ({HISTORY}) ORDER BY seq"
    ))
    .bind(cart_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut history: Vec<(CartStep, Currency)> = Vec::with_capacity(rows.len());
    for row in &rows {
        let payload: String = row.get("payload")?;
        // Erased or unreadable entries are not part of the cart any more.
        let Ok(kind) = serde_json::from_str::<EventKind>(&payload) else {
            continue;
        };
        match kind {
            EventKind::CartUpdated(s) | EventKind::CheckoutStarted(s) => history.push((
                CartStep::Snapshot {
                    at: s.updated_at,
                    items: s.items,
                },
                s.currency,
            )),
            EventKind::CartChanged(c) => history.push((
                CartStep::Change {
                    at: c.at,
                    op: c.op,
                    line: c.line,
                },
                c.currency,
            )),
            _ => {}
        }
    }
    // In the order of the events' own times; ties keep the order they arrived in.
    history.sort_by_key(|(step, _)| step.at());
    let currency = history
        .last()
        .map(|(_, c)| *c)
        .ok_or_else(|| corrupt(format!("cart {cart_id} has no history")))?;
    let last_at: DateTime<Utc> = history
        .iter()
        .map(|(s, _)| s.at())
        .max()
        .unwrap_or_else(|| from_ms(0));
    let lines: Vec<LineItem> = fold(history.iter().map(|(s, _)| s))
        .into_iter()
        .filter(|l| l.unit_price.currency == currency)
        .collect();
    let mut total = Money::zero(currency);
    for l in &lines {
        total = total
            .checked_add(&l.line_price)
            .ok_or_else(|| corrupt(format!("cart {cart_id}: total out of range")))?;
    }
    let item_count: i64 = lines.iter().map(|l| i64::from(l.quantity)).sum();
    let items = serde_json::to_string(&lines).map_err(corrupt)?;
    let row = query(
        "UPDATE carts SET items = $1, item_count = $2, currency = $3, subtotal_minor = $4,
            total_minor = $4, updated_at = CASE WHEN updated_at > $5 THEN updated_at ELSE $5 END,
            status = CASE WHEN $6 = 1 AND status = 'abandoned' THEN 'open' ELSE status END
         WHERE id = $7
         RETURNING cart_key, cart_token, checkout_token, platform_id, recovery_url, status, updated_at",
    )
    .bind(items)
    .bind(item_count)
    .bind(currency.code())
    .bind(total.minor)
    .bind(to_ms(last_at))
    .bind(reopen)
    .bind(cart_id)
    .fetch_one(&mut *tx)
    .await?;
    let status: String = row.get("status")?;
    let status =
        CartStatus::parse(&status).ok_or_else(|| corrupt(format!("cart status {status:?}")))?;
    Ok(Folded {
        status,
        snapshot: CartSnapshot {
            key: row.get("cart_key")?,
            cart_token: row.get("cart_token")?,
            checkout_token: row.get("checkout_token")?,
            platform_id: row.get("platform_id")?,
            contact: None,
            items: lines,
            currency,
            subtotal: Some(total),
            total,
            recovery_url: row.get("recovery_url")?,
            updated_at: from_ms(row.get("updated_at")?),
            completed_at: None,
        },
    })
}

/// Whether a cart's lines come (in part) from changes: a snapshot older than its last activity
/// must then be folded in, not dropped.
pub(crate) async fn has_changes(tx: &mut dyn Exec, cart_id: &str) -> StoreResult<bool> {
    Ok(
        query("SELECT seq FROM events WHERE cart_id = $1 AND kind = 'cart_changed' LIMIT 1")
            .bind(cart_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}
