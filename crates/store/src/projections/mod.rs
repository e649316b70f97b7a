//! Applying events: one ingest inside an open transaction ([`ingest_in`]): deliveries, the event
//! log, and the projections: contacts (claims and vouches, opt-outs), carts (platform time orders
//! updates; the abandonment check's debounce), orders (which cart they convert), message
//! statuses and erasure.

use crate::exec::{query, query_scalar, Exec};
use crate::model::TimerKind;
use crate::model::{Effect, EffectKind, IngestOutcome};
use crate::rules::{CheckPlan, IngestRules, OrderCandidates};
use crate::time::to_ms;
use crate::timers as E;
use crate::{Ingest, StoreResult};
use cartback_core::{
    CartSnapshot, CartStatus, ContactInfo, Erasure, Event, EventKind, Order, Trust,
};

use crate::exec::{corrupt, new_id};

mod changes;
mod contacts;
use contacts::{apply_opt_out, erase, upsert_contact};

/// The body of an ingest inside an open transaction. A duplicate is reported, not undone: the
/// caller rolls back (the transaction, or the job's savepoint).
pub(crate) async fn ingest_in(
    tx: &mut dyn Exec,
    ingest: Ingest<'_>,
    prepared: &[Prepared],
    cursor: Option<(&str, &str)>,
    rules: &dyn IngestRules,
) -> StoreResult<IngestOutcome> {
    let received = to_ms(ingest.received_at);
    for delivery_id in ingest.delivery_ids {
        let inserted = query(
            "INSERT INTO deliveries (source_id, delivery_id, received_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(ingest.source_id)
        .bind(delivery_id)
        .bind(received)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(IngestOutcome::Duplicate);
        }
    }
    let mut effects = Vec::with_capacity(ingest.events.len());
    for event in ingest.events {
        let prep = prepared
            .get(effects.len())
            .ok_or_else(|| corrupt("an event without its prepared payload"))?;
        let kind = apply_event(tx, event, prep, received, ingest.trust, rules).await?;
        effects.push(Effect {
            event_id: event.event_id.clone(),
            kind,
        });
    }
    // The cursor's key is the source's id (its poller) or an import's `import:<source id>`.
    if let Some((key, c)) = cursor {
        query(
            "INSERT INTO poll_cursors (source_id, cursor, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (source_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(c)
        .bind(received)
        .execute(&mut *tx)
        .await?;
    }
    Ok(IngestOutcome::Accepted { effects })
}

// ---- applying events -------------------------------------------------------------------------

/// An event's JSON, written before it reaches the writer.
pub(crate) struct Prepared {
    /// What the event log keeps.
    payload: String,
    /// A cart snapshot's line items.
    items: Option<String>,
}

impl Prepared {
    pub(crate) fn of(event: &Event) -> StoreResult<Prepared> {
        // Erasure events keep no identifiers in the log: the log must not undo the erasure.
        let payload = match &event.kind {
            EventKind::Erasure(Erasure::Contact { .. }) => {
                r#"{"type":"erasure","scope":"contact"}"#.to_string()
            }
            kind => serde_json::to_string(kind).map_err(corrupt)?,
        };
        let items = match &event.kind {
            EventKind::CartUpdated(snap) | EventKind::CheckoutStarted(snap) => {
                Some(serde_json::to_string(&snap.items).map_err(corrupt)?)
            }
            _ => None,
        };
        Ok(Prepared { payload, items })
    }
}

pub(crate) async fn apply_event(
    tx: &mut dyn Exec,
    event: &Event,
    prep: &Prepared,
    received: i64,
    trust: Trust,
    rules: &dyn IngestRules,
) -> StoreResult<EffectKind> {
    let payload = prep.payload.as_str();
    let seq: Option<i64> = query_scalar(
        "INSERT INTO events (source_id, event_id, topic, kind, occurred_at, received_at, outcome, payload, trust)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)
         ON CONFLICT (source_id, event_id) DO NOTHING RETURNING seq",
    )
    .bind(&event.source_id)
    .bind(&event.event_id)
    .bind(&event.topic)
    .bind(event.kind.name())
    .bind(to_ms(event.occurred_at))
    .bind(received)
    .bind(payload)
    .bind(trust.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(seq) = seq else {
        return Ok(EffectKind::DuplicateEvent);
    };
    let at = to_ms(event.occurred_at);
    let (effect, cart_id, contact_id) = match &event.kind {
        EventKind::CartUpdated(snap) | EventKind::CheckoutStarted(snap) => {
            let contact_id = match &snap.contact {
                Some(c) => {
                    upsert_contact(tx, &event.source_id, c, to_ms(snap.updated_at), trust).await?
                }
                None => None,
            };
            let items = prep.items.as_deref().unwrap_or("[]");
            let (cart_id, stale, status) = upsert_cart(
                tx,
                &event.source_id,
                snap,
                items,
                contact_id.as_deref(),
                received,
            )
            .await?;
            if !stale {
                let status = CartStatus::parse(&status)
                    .ok_or_else(|| corrupt(format!("cart status {status:?}")))?;
                schedule_cart_check(tx, &cart_id, rules.cart_check(status, snap)).await?;
            } else if changes::has_changes(tx, &cart_id).await? {
                // Older than a click already applied: the snapshot takes its place in the
                // cart's history instead of being dropped.
                query("UPDATE events SET cart_id = $1 WHERE seq = $2")
                    .bind(&cart_id)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                changes::refold(tx, &cart_id, false).await?;
            }
            (
                EffectKind::CartUpserted {
                    cart_id: cart_id.clone(),
                    stale,
                },
                Some(cart_id),
                contact_id,
            )
        }
        EventKind::CartChanged(change) => {
            let contact_id = match &change.contact {
                Some(c) => upsert_contact(tx, &event.source_id, c, at, trust).await?,
                None => None,
            };
            let (cart_id, _) = changes::apply_change(
                tx,
                &event.source_id,
                change,
                seq,
                contact_id.as_deref(),
                received,
                rules,
            )
            .await?;
            (
                EffectKind::CartUpserted {
                    cart_id: cart_id.clone(),
                    stale: false,
                },
                Some(cart_id),
                contact_id,
            )
        }
        EventKind::Tracked(tracked) => {
            let contact_id = match &tracked.contact {
                Some(c) => upsert_contact(tx, &event.source_id, c, at, trust).await?,
                None => None,
            };
            let cart_id = match &tracked.cart_key {
                Some(key) => query("SELECT id FROM carts WHERE source_id = $1 AND cart_key = $2")
                    .bind(&event.source_id)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.get::<String, _>("id"))
                    .transpose()?,
                None => None,
            };
            if rules.triggers_on(&tracked.name) {
                E::upsert_timer(tx, TimerKind::Trigger, &seq.to_string(), received).await?;
            }
            (EffectKind::Recorded, cart_id, contact_id)
        }
        EventKind::OrderPlaced(order) => {
            let contact_id = match &order.contact {
                Some(c) => {
                    upsert_contact(tx, &event.source_id, c, to_ms(order.placed_at), trust).await?
                }
                None => None,
            };
            let (cart_id, new) = record_order(
                tx,
                &event.source_id,
                order,
                contact_id.as_deref(),
                received,
                rules,
            )
            .await?;
            (
                EffectKind::OrderRecorded {
                    cart_id: cart_id.clone(),
                    new,
                },
                cart_id,
                contact_id,
            )
        }
        EventKind::ContactUpdated(info) => {
            let contact_id = upsert_contact(tx, &event.source_id, info, at, trust).await?;
            (
                EffectKind::ContactUpserted {
                    contact_id: contact_id.clone(),
                },
                None,
                contact_id,
            )
        }
        EventKind::OptOut(opt) => {
            // A public key must not be able to unsubscribe (or resubscribe) anyone.
            let n = if trust == Trust::Verified {
                apply_opt_out(tx, opt, event.source_id == cartback_core::HUB_SOURCE).await?
            } else {
                0
            };
            (EffectKind::ConsentChanged { contacts: n }, None, None)
        }
        EventKind::MessageStatus(update) => {
            record_message_status(tx, update, at).await?;
            (EffectKind::Recorded, None, None)
        }
        EventKind::Erasure(erasure) => {
            let n = erase(tx, &event.source_id, erasure, seq).await?;
            (EffectKind::Erased { contacts: n }, None, None)
        }
    };
    query("UPDATE events SET outcome = $1, cart_id = $2, contact_id = $3 WHERE seq = $4")
        .bind(effect.label())
        .bind(cart_id)
        .bind(contact_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    Ok(effect)
}

/// Creates or updates a cart from a snapshot. Returns the cart id and whether the snapshot was stale.
pub(crate) async fn upsert_cart(
    tx: &mut dyn Exec,
    source_id: &str,
    snap: &CartSnapshot,
    items: &str,
    contact_id: Option<&str>,
    received: i64,
) -> StoreResult<(String, bool, String)> {
    let item_count: i64 = snap.items.iter().map(|i| i64::from(i.quantity)).sum();
    let updated = to_ms(snap.updated_at);
    let completed = snap.completed_at.map(to_ms);
    let mut existing =
        query("SELECT id, updated_at, status FROM carts WHERE source_id = $1 AND cart_key = $2")
            .bind(source_id)
            .bind(&snap.key)
            .fetch_optional(&mut *tx)
            .await?;
    // The same checkout under another key, when one side knew no cart token: a cart keyed by its
    // checkout token (Shopify's Admin GraphQL, read by an import, gives no cart token) and a
    // webhook's snapshot keyed by the cart token are one cart, whichever came first. A stored cart
    // keyed by its checkout token takes the better key, so the cart's own events find it too.
    // Sources that key carts otherwise (`order:<id>`) never meet this.
    if existing.is_none() {
        if let Some(token) = snap.checkout_token.as_deref() {
            let other = query(
                "SELECT id, updated_at, status, cart_key FROM carts
                 WHERE source_id = $1 AND checkout_token = $2 ORDER BY created_at LIMIT 1",
            )
            .bind(source_id)
            .bind(token)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = other {
                let key: String = row.get("cart_key")?;
                if key == token {
                    let id: String = row.get("id")?;
                    query("UPDATE carts SET cart_key = $1 WHERE id = $2")
                        .bind(&snap.key)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    existing = Some(row);
                } else if snap.key == token {
                    existing = Some(row);
                }
            }
        }
    }
    let (cart_id, mut status) = match existing {
        None => {
            let id = new_id();
            let status = if completed.is_some() {
                "converted"
            } else {
                "open"
            };
            query(
                "INSERT INTO carts (id, source_id, cart_key, cart_token, checkout_token, platform_id, status,
                    contact_id, items, item_count, currency, subtotal_minor, total_minor, recovery_url,
                    updated_at, completed_at, converted_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(&id)
            .bind(source_id)
            .bind(&snap.key)
            .bind(&snap.cart_token)
            .bind(&snap.checkout_token)
            .bind(&snap.platform_id)
            .bind(status)
            .bind(contact_id)
            .bind(items)
            .bind(item_count)
            .bind(snap.currency.code())
            .bind(snap.subtotal.map(|m| m.minor))
            .bind(snap.total.minor)
            .bind(&snap.recovery_url)
            .bind(updated)
            .bind(completed)
            .bind(completed)
            .bind(received)
            .execute(&mut *tx)
            .await?;
            (id, status.to_string())
        }
        Some(row) => {
            let id: String = row.get("id")?;
            let stored: i64 = row.get("updated_at")?;
            if updated < stored {
                query(
                    "UPDATE carts SET cart_token = COALESCE(cart_token, $1),
                        checkout_token = COALESCE(checkout_token, $2), platform_id = COALESCE(platform_id, $3),
                        contact_id = COALESCE(contact_id, $4), recovery_url = COALESCE(recovery_url, $5)
                     WHERE id = $6",
                )
                .bind(&snap.cart_token)
                .bind(&snap.checkout_token)
                .bind(&snap.platform_id)
                .bind(contact_id)
                .bind(&snap.recovery_url)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                let stored_status: String = row.get("status")?;
                return Ok((id, true, stored_status));
            }
            let status: String = query(
                "UPDATE carts SET cart_token = COALESCE($1, cart_token),
                    checkout_token = COALESCE($2, checkout_token), platform_id = COALESCE($3, platform_id),
                    contact_id = COALESCE($4, contact_id), items = $5, item_count = $6, currency = $7,
                    subtotal_minor = $8, total_minor = $9, recovery_url = COALESCE($10, recovery_url),
                    updated_at = $11, completed_at = COALESCE($12, completed_at),
                    status = CASE WHEN $13 IS NOT NULL THEN 'converted' WHEN status = 'abandoned' THEN 'open' ELSE status END,
                    converted_at = COALESCE(converted_at, $14)
                 WHERE id = $15 RETURNING status",
            )
            .bind(&snap.cart_token)
            .bind(&snap.checkout_token)
            .bind(&snap.platform_id)
            .bind(contact_id)
            .bind(items)
            .bind(item_count)
            .bind(snap.currency.code())
            .bind(snap.subtotal.map(|m| m.minor))
            .bind(snap.total.minor)
            .bind(&snap.recovery_url)
            .bind(updated)
            .bind(completed)
            .bind(completed)
            .bind(completed)
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?
            .get("status")?;
            (id, status)
        }
    };
    // An order that arrived before its cart (webhooks are unordered) converts it now.
    let order = query(
        "SELECT order_id, placed_at FROM orders WHERE source_id = $1 AND cart_id IS NULL
           AND ((checkout_token IS NOT NULL AND checkout_token = $2) OR (cart_token IS NOT NULL AND cart_token = $3))
         ORDER BY placed_at LIMIT 1",
    )
    .bind(source_id)
    .bind(&snap.checkout_token)
    .bind(snap.cart_token.as_deref().unwrap_or(&snap.key))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(o) = order {
        let order_id: String = o.get("order_id")?;
        let placed_at: i64 = o.get("placed_at")?;
        convert_cart(tx, &cart_id, &order_id, placed_at).await?;
        status = "converted".to_string();
        E::upsert_timer(
            tx,
            TimerKind::Attribute,
            &format!("{source_id}\u{1f}{order_id}"),
            received,
        )
        .await?;
        query("UPDATE orders SET cart_id = $1 WHERE source_id = $2 AND order_id = $3")
            .bind(&cart_id)
            .bind(source_id)
            .bind(&order_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok((cart_id, false, status))
}

/// Writes the engine's answer for a cart's abandonment check (the debounce: see `rules`).
pub(crate) async fn schedule_cart_check(
    tx: &mut dyn Exec,
    cart_id: &str,
    plan: CheckPlan,
) -> StoreResult<()> {
    match plan {
        CheckPlan::Due(at) => E::upsert_timer(tx, TimerKind::CartCheck, cart_id, to_ms(at)).await,
        CheckPlan::Cancel => query("DELETE FROM timers WHERE kind = 'cart_check' AND subject = $1")
            .bind(cart_id)
            .execute(&mut *tx)
            .await
            .map(|_| ()),
        CheckPlan::Untouched => Ok(()),
    }
}

pub(crate) async fn record_message_status(
    tx: &mut dyn Exec,
    update: &cartback_core::MessageStatusUpdate,
    at: i64,
) -> StoreResult<()> {
    let id: Option<String> = match (&update.message_id, &update.provider_message_id) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(pid)) => {
            query_scalar("SELECT id FROM outbox WHERE provider_message_id = $1 LIMIT 1")
                .bind(pid)
                .fetch_optional(&mut *tx)
                .await?
        }
        (None, None) => None,
    };
    if let Some(id) = id {
        let status = serde_json::to_value(update.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        query("INSERT INTO message_events (message_id, status, at, url) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(status)
            .bind(at)
            .bind(&update.url)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

pub(crate) async fn convert_cart(
    tx: &mut dyn Exec,
    cart_id: &str,
    order_id: &str,
    placed_at: i64,
) -> StoreResult<()> {
    query(
        "UPDATE carts SET status = 'converted', order_id = COALESCE(order_id, $1),
            converted_at = COALESCE(converted_at, $2) WHERE id = $3",
    )
    .bind(order_id)
    .bind(placed_at)
    .bind(cart_id)
    .execute(&mut *tx)
    .await?;
    query("DELETE FROM timers WHERE kind = 'cart_check' AND subject = $1")
        .bind(cart_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Records an order and converts the cart the engine's rules pick among those it could match:
/// the carts its checkout and cart tokens name, and the contact's open carts.
pub(crate) async fn record_order(
    tx: &mut dyn Exec,
    source_id: &str,
    order: &Order,
    contact_id: Option<&str>,
    received: i64,
    rules: &dyn IngestRules,
) -> StoreResult<(Option<String>, bool)> {
    let placed = to_ms(order.placed_at);
    let email_norm = order.contact.as_ref().and_then(ContactInfo::email_norm);
    let inserted = query(
        "INSERT INTO orders (source_id, order_id, name, contact_id, checkout_token, cart_token, email_norm,
            total_minor, currency, placed_at, test, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
    )
    .bind(source_id)
    .bind(&order.order_id)
    .bind(&order.name)
    .bind(contact_id)
    .bind(&order.checkout_token)
    .bind(&order.cart_token)
    .bind(&email_norm)
    .bind(order.total.minor)
    .bind(order.total.currency.code())
    .bind(placed)
    .bind(i64::from(order.test))
    .bind(received)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        let cart_id: Option<String> =
            query_scalar("SELECT cart_id FROM orders WHERE source_id = $1 AND order_id = $2")
                .bind(source_id)
                .bind(&order.order_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        return Ok((cart_id, false));
    }
    let mut found = OrderCandidates::default();
    if let Some(t) = &order.checkout_token {
        found.by_checkout = query_scalar(
            "SELECT id FROM carts WHERE source_id = $1 AND checkout_token = $2 LIMIT 1",
        )
        .bind(source_id)
        .bind(t)
        .fetch_optional(&mut *tx)
        .await?;
    }
    if let Some(t) = &order.cart_token {
        found.by_cart_token = query_scalar(
            "SELECT id FROM carts WHERE source_id = $1 AND (cart_token = $2 OR cart_key = $3) LIMIT 1",
        )
        .bind(source_id)
        .bind(t)
        .bind(t)
        .fetch_optional(&mut *tx)
        .await?;
    }
    if let Some(contact) = contact_id {
        found.contact_carts = query(
            "SELECT id, updated_at FROM carts WHERE contact_id = $1 AND status IN ('open', 'abandoned')
             ORDER BY updated_at DESC LIMIT 20",
        )
        .bind(contact)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, crate::time::from_ms(r.try_get("updated_at")?))))
        .collect::<StoreResult<_>>()?;
    }
    let cart_id = rules.order_cart(order, &found);
    // Attribution runs later, in the engine (it knows each flow's window), from a durable timer.
    E::upsert_timer(
        tx,
        TimerKind::Attribute,
        &format!("{source_id}\u{1f}{}", order.order_id),
        received,
    )
    .await?;
    if let Some(id) = &cart_id {
        convert_cart(tx, id, &order.order_id, placed).await?;
        query("UPDATE orders SET cart_id = $1 WHERE source_id = $2 AND order_id = $3")
            .bind(id)
            .bind(source_id)
            .bind(&order.order_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok((cart_id, true))
}
