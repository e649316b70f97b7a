//! Reading rows back: the contact and cart columns every read selects, and their records.

use crate::exec::{query, query_scalar, DbRow};
use crate::model::{CartRecord, ContactRecord};
use crate::roles::ReadModel;
use crate::sql::count;
use crate::sql::SqlStore;
use crate::time::{from_ms, to_ms};
use crate::CartFilter;
use crate::StoreResult;
use async_trait::async_trait;
use cartback_core::{Cart, CartStatus, Consent, ContactInfo, Currency, LineItem, Money};
use chrono::{DateTime, Utc};

use crate::exec::corrupt;

// ---- reading ---------------------------------------------------------------------------------

pub(crate) const CONTACT_COLS: &str = "p.id AS p_id, p.email AS p_email, p.phone AS p_phone, p.first_name AS p_first_name,
    p.last_name AS p_last_name, p.locale AS p_locale, p.time_zone AS p_time_zone,
    p.email_consent AS p_email_consent, p.sms_consent AS p_sms_consent, p.external_id AS p_external_id,
    p.email_verified AS p_email_verified, p.phone_verified AS p_phone_verified,
    p.created_at AS p_created_at, p.updated_at AS p_updated_at";

pub(crate) const CART_SELECT: &str = "SELECT c.id, c.source_id, c.cart_key, c.cart_token, c.checkout_token, c.platform_id,
    c.status, c.contact_id, c.items, c.currency, c.subtotal_minor, c.total_minor, c.recovery_url,
    c.updated_at, c.completed_at, c.converted_at, c.order_id, c.created_at,
    p.id AS p_id, p.email AS p_email, p.phone AS p_phone, p.first_name AS p_first_name,
    p.last_name AS p_last_name, p.locale AS p_locale, p.time_zone AS p_time_zone,
    p.email_consent AS p_email_consent, p.sms_consent AS p_sms_consent, p.external_id AS p_external_id,
    p.email_verified AS p_email_verified, p.phone_verified AS p_phone_verified,
    p.created_at AS p_created_at, p.updated_at AS p_updated_at
    FROM carts c LEFT JOIN contacts p ON p.id = c.contact_id";

pub(crate) fn contact_record(r: &DbRow, _prefix: &str) -> StoreResult<Option<ContactRecord>> {
    let id: Option<String> = r.try_get("p_id")?;
    let Some(id) = id else { return Ok(None) };
    let email_consent: String = r.try_get("p_email_consent")?;
    let sms_consent: String = r.try_get("p_sms_consent")?;
    Ok(Some(ContactRecord {
        id,
        info: ContactInfo {
            email: r.try_get("p_email")?,
            phone: r.try_get("p_phone")?,
            first_name: r.try_get("p_first_name")?,
            last_name: r.try_get("p_last_name")?,
            locale: r.try_get("p_locale")?,
            time_zone: r.try_get("p_time_zone")?,
            email_consent: Consent::parse(&email_consent),
            sms_consent: Consent::parse(&sms_consent),
            external_id: r.try_get("p_external_id")?,
        },
        email_verified: r.try_get::<i64, _>("p_email_verified")? != 0,
        phone_verified: r.try_get::<i64, _>("p_phone_verified")? != 0,
        created_at: from_ms(r.try_get("p_created_at")?),
        updated_at: from_ms(r.try_get("p_updated_at")?),
    }))
}

pub(crate) fn cart_record(r: &DbRow) -> StoreResult<CartRecord> {
    let currency_code: String = r.try_get("currency")?;
    let currency = Currency::parse(&currency_code).map_err(corrupt)?;
    let status: String = r.try_get("status")?;
    let items: String = r.try_get("items")?;
    let items: Vec<LineItem> = serde_json::from_str(&items).map_err(corrupt)?;
    let subtotal: Option<i64> = r.try_get("subtotal_minor")?;
    let cart = Cart {
        id: r.try_get("id")?,
        source_id: r.try_get("source_id")?,
        key: r.try_get("cart_key")?,
        cart_token: r.try_get("cart_token")?,
        checkout_token: r.try_get("checkout_token")?,
        platform_id: r.try_get("platform_id")?,
        status: CartStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("cart status {status:?}")))?,
        contact_id: r.try_get("contact_id")?,
        items,
        currency,
        subtotal: subtotal.map(|m| Money::new(m, currency)),
        total: Money::new(r.try_get("total_minor")?, currency),
        recovery_url: r.try_get("recovery_url")?,
        updated_at: from_ms(r.try_get("updated_at")?),
        completed_at: r.try_get::<Option<i64>, _>("completed_at")?.map(from_ms),
        converted_at: r.try_get::<Option<i64>, _>("converted_at")?.map(from_ms),
        order_id: r.try_get("order_id")?,
        created_at: from_ms(r.try_get("created_at")?),
    };
    Ok(CartRecord {
        contact: contact_record(r, "p_")?,
        cart,
    })
}

#[async_trait]
impl ReadModel for SqlStore {
    async fn cart(&self, id: &str) -> StoreResult<Option<CartRecord>> {
        let id = id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                let row = query(&format!("{CART_SELECT} WHERE c.id = $1"))
                    .bind(id)
                    .fetch_optional(x)
                    .await?;
                row.map(|r| cart_record(&r)).transpose()
            })
        })
        .await
    }

    async fn carts(&self, filter: &CartFilter) -> StoreResult<Vec<CartRecord>> {
        let limit = if filter.limit == 0 {
            50
        } else {
            filter.limit.min(500)
        };
        let (sql, binds) = crate::exec::filtered(
            &format!("{CART_SELECT} WHERE 1 = 1"),
            &[
                (
                    "p.email_norm",
                    filter.email.as_deref().map(cartback_core::normalize_email),
                ),
                ("c.status", filter.status.map(|s| s.as_str().to_string())),
                ("c.source_id", filter.source_id.clone()),
                ("c.contact_id", filter.contact_id.clone()),
            ],
            "c.updated_at DESC, c.id DESC",
        );
        self.read(move |x| {
            Box::pin(async move {
                let mut q = query(&sql);
                for b in binds {
                    q = q.bind(b);
                }
                let rows = q.bind(i64::from(limit)).fetch_all(x).await?;
                rows.iter().map(cart_record).collect()
            })
        })
        .await
    }

    async fn contact(&self, id: &str) -> StoreResult<Option<ContactRecord>> {
        let id = id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                let row = query(&format!(
                    "SELECT {CONTACT_COLS} FROM contacts p WHERE p.id = $1"
                ))
                .bind(id)
                .fetch_optional(x)
                .await?;
                row.map(|r| contact_record(&r, ""))
                    .transpose()
                    .map(Option::flatten)
            })
        })
        .await
    }

    async fn contact_tags(&self, contact_id: &str) -> StoreResult<Vec<String>> {
        let contact_id = contact_id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                query_scalar("SELECT tag FROM contact_tags WHERE contact_id = $1 ORDER BY tag")
                    .bind(contact_id)
                    .fetch_all(x)
                    .await
            })
        })
        .await
    }

    async fn logged_event(&self, seq: i64) -> StoreResult<Option<crate::model::LoggedEvent>> {
        self.read(move |x| {
            Box::pin(async move {
                let Some(r) = query(
                    "SELECT payload, cart_id, contact_id, occurred_at FROM events WHERE seq = $1",
                )
                .bind(seq)
                .fetch_optional(x)
                .await?
                else {
                    return Ok(None);
                };
                let payload: String = r.try_get("payload")?;
                // An erased entry keeps no event to read back.
                let Ok(kind) = serde_json::from_str(&payload) else {
                    return Ok(None);
                };
                Ok(Some(crate::model::LoggedEvent {
                    kind,
                    cart_id: r.try_get("cart_id")?,
                    contact_id: r.try_get("contact_id")?,
                    occurred_at: crate::time::from_ms(r.try_get("occurred_at")?),
                }))
            })
        })
        .await
    }

    async fn replay_events(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::model::ReplayEvent>> {
        self.read(move |x| {
            Box::pin(async move {
                let rows = query(
                    "SELECT seq, source_id, event_id, topic, occurred_at, received_at, trust, payload
                     FROM events
                     WHERE seq > $1 AND received_at >= $2 AND received_at <= $3
                       AND kind <> 'message_status'
                     ORDER BY seq LIMIT $4",
                )
                .bind(after_seq)
                .bind(to_ms(from))
                .bind(to_ms(to))
                .bind(i64::from(limit.max(1)))
                .fetch_all(x)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let payload: String = r.try_get("payload")?;
                    // An erased entry keeps no event to apply again.
                    let Ok(kind) = serde_json::from_str(&payload) else {
                        continue;
                    };
                    let trust: String = r.try_get("trust")?;
                    out.push(crate::model::ReplayEvent {
                        seq: r.try_get("seq")?,
                        event: cartback_core::Event {
                            source_id: r.try_get("source_id")?,
                            event_id: r.try_get("event_id")?,
                            topic: r.try_get("topic")?,
                            occurred_at: from_ms(r.try_get("occurred_at")?),
                            kind,
                        },
                        received_at: from_ms(r.try_get("received_at")?),
                        trust: if trust == "claimed" {
                            cartback_core::Trust::Claimed
                        } else {
                            cartback_core::Trust::Verified
                        },
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    async fn cart_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        self.read(|x| {
            Box::pin(async move {
                query("SELECT status, COUNT(*) AS n FROM carts GROUP BY status")
                    .fetch_all(x)
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("status")?, count(r.try_get("n")?))))
                    .collect()
            })
        })
        .await
    }

    async fn order(
        &self,
        source_id: &str,
        order_id: &str,
    ) -> StoreResult<Option<crate::model::OrderRecord>> {
        let (source_id, order_id) = (source_id.to_string(), order_id.to_string());
        self.read(move |x| {
            Box::pin(async move { crate::reports::order(x, &source_id, &order_id).await })
        })
        .await
    }
}
