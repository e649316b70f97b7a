//! What privacy law asks of the store: finding everything held about one shopper (an export,
//! Shopify's `customers/data_request`), wiping what a sent message said about them, and ageing
//! out, in small batches, what the shop chose not to keep (`[retention]`). Erasure itself is an
//! event (`EventKind::Erasure`), applied in order with the rest (`projections/contacts.rs`).

use crate::exec::{query, query_scalar, Exec};
use crate::model::{ContactRecord, OutboxRow};
use crate::sql::SqlStore;
use crate::time::{from_ms, to_ms};
use crate::StoreResult;
use async_trait::async_trait;
use cartback_core::duration::HumanDuration;
use cartback_core::OutboundMessage;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The mark a wiped message carries in its metadata, so it is wiped once.
pub const SCRUBBED: &str = "scrubbed";

/// What `[retention]` ages out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retained {
    /// The event log's raw events (`events`): reports keep their counts in the projections.
    Events,
    /// What sent messages said (subject, bodies, addresses) once they are finished.
    MessageBodies,
    /// Delivery ids kept to recognise a platform's redelivery (`deliveries`).
    Deliveries,
}

impl Retained {
    pub fn as_str(&self) -> &'static str {
        match self {
            Retained::Events => "events",
            Retained::MessageBodies => "message_bodies",
            Retained::Deliveries => "deliveries",
        }
    }
}

/// `[retention]`: how long each kind of record is kept; none keeps it for good.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Raw events of the log (`"90d"`). A cart's lines are rebuilt from its events when a late
    /// product event arrives: keep them longer than any cart is reminded about.
    #[serde(default)]
    pub events: Option<HumanDuration>,
    /// Rendered messages (subject, text, HTML, recipient) once finished (`"30d"`).
    #[serde(default)]
    pub message_bodies: Option<HumanDuration>,
    /// Delivery ids (`"30d"`): a platform's redelivery later than this is applied again (its
    /// events are still recognised while they are kept). Keep it longer than the platform's
    /// retry window (Shopify: 48 hours).
    #[serde(default)]
    pub deliveries: Option<HumanDuration>,
}

impl RetentionSettings {
    /// Each configured kind with its age.
    pub fn kinds(&self) -> Vec<(Retained, std::time::Duration)> {
        [
            (Retained::Events, self.events),
            (Retained::MessageBodies, self.message_bodies),
            (Retained::Deliveries, self.deliveries),
        ]
        .into_iter()
        .filter_map(|(k, d)| d.map(|d| (k, d.0)))
        .collect()
    }

    pub fn validate(&self) -> Vec<cartback_core::Problem> {
        self.kinds()
            .into_iter()
            .filter(|(_, d)| *d < std::time::Duration::from_secs(3600))
            .map(|(k, _)| {
                cartback_core::Problem::new(k.as_str(), "must be at least an hour (\"30d\", say)")
            })
            .collect()
    }
}

/// One logged event about a shopper, as an export shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExportedEvent {
    pub source_id: String,
    pub event_id: String,
    pub topic: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// The privacy role of the store.
#[async_trait]
pub trait Privacy: Send + Sync {
    /// The contacts an email address (compared normalized) or a phone number names.
    async fn contacts_matching(
        &self,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<Vec<ContactRecord>>;

    /// The logged events about a contact or its carts, newest first, at most `limit`.
    async fn contact_events(&self, contact_id: &str, limit: u32)
        -> StoreResult<Vec<ExportedEvent>>;

    /// The messages queued for or sent to a contact, newest first, at most `limit`.
    async fn contact_messages(&self, contact_id: &str, limit: u32) -> StoreResult<Vec<OutboxRow>>;

    /// Removes (or, for message bodies, wipes) at most `limit` records of `what` older than
    /// `before`; returns how many. One short transaction: it never holds the writer long.
    async fn age_out(&self, what: Retained, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
}

/// A message with nothing about the shopper left: no recipient, texts, headers, contact or cart;
/// its ids and flow metadata kept (reports count it), marked [`SCRUBBED`].
pub fn scrubbed(mut m: OutboundMessage) -> OutboundMessage {
    m.to = Default::default();
    m.subject = None;
    m.html = None;
    m.text = None;
    m.headers.clear();
    m.contact = None;
    m.cart = None;
    m.discount_code = None;
    m.metadata.remove("contact_id");
    m.metadata.insert(SCRUBBED.to_string(), "true".to_string());
    m
}

/// Wipes the messages `select` (`SELECT id, message FROM outbox ...`) returns; how many.
pub(crate) async fn scrub_messages(
    tx: &mut dyn Exec,
    select: &str,
    bind: &[crate::exec::Val],
) -> StoreResult<u64> {
    let mut q = query(select);
    for v in bind {
        q = q.bind(v.clone());
    }
    let rows = q.fetch_all(&mut *tx).await?;
    let mut n = 0;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let text: String = r.try_get("message")?;
        let Ok(m) = serde_json::from_str::<OutboundMessage>(&text) else {
            continue;
        };
        let wiped = serde_json::to_string(&scrubbed(m)).map_err(crate::exec::corrupt)?;
        query("UPDATE outbox SET message = $1 WHERE id = $2")
            .bind(wiped)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        n += 1;
    }
    Ok(n)
}

#[async_trait]
impl Privacy for SqlStore {
    async fn contacts_matching(
        &self,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<Vec<ContactRecord>> {
        let email = email.map(cartback_core::normalize_email);
        let phone = phone.map(str::to_string);
        let ids: Vec<String> = self
            .read(move |x| {
                Box::pin(async move {
                    query_scalar(
                        "SELECT id FROM contacts WHERE (email_norm IS NOT NULL AND email_norm = $1)
                           OR (phone IS NOT NULL AND phone = $2) ORDER BY created_at, id",
                    )
                    .bind(email)
                    .bind(phone)
                    .fetch_all(x)
                    .await
                })
            })
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = crate::roles::ReadModel::contact(self, &id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    async fn contact_events(
        &self,
        contact_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<ExportedEvent>> {
        let id = contact_id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                query(
                    "SELECT source_id, event_id, topic, occurred_at, payload FROM events
                     WHERE contact_id = $1 OR cart_id IN (SELECT id FROM carts WHERE contact_id = $1)
                     ORDER BY seq DESC LIMIT $2",
                )
                .bind(id)
                .bind(i64::from(limit))
                .fetch_all(x)
                .await?
                .iter()
                .map(|r| {
                    let payload: String = r.try_get("payload")?;
                    Ok(ExportedEvent {
                        source_id: r.try_get("source_id")?,
                        event_id: r.try_get("event_id")?,
                        topic: r.try_get("topic")?,
                        occurred_at: from_ms(r.try_get("occurred_at")?),
                        payload: serde_json::from_str(&payload)
                            .unwrap_or(serde_json::Value::String(payload)),
                    })
                })
                .collect()
            })
        })
        .await
    }

    async fn contact_messages(&self, contact_id: &str, limit: u32) -> StoreResult<Vec<OutboxRow>> {
        let id = contact_id.to_string();
        let ids: Vec<String> = self
            .read(move |x| {
                Box::pin(async move {
                    query_scalar(
                        "SELECT id FROM outbox WHERE contact_id = $1 ORDER BY created_at DESC, id LIMIT $2",
                    )
                    .bind(id)
                    .bind(i64::from(limit))
                    .fetch_all(x)
                    .await
                })
            })
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = crate::roles::Outbox::outbox_message(self, &id).await? {
                out.push(row);
            }
        }
        Ok(out)
    }

    async fn age_out(&self, what: Retained, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let (before, limit) = (to_ms(before), i64::from(limit));
        self.write(move |tx| {
            Box::pin(async move {
                let r = match what {
                    Retained::Events => query(
                        "DELETE FROM events WHERE seq IN
                           (SELECT seq FROM events WHERE received_at < $1 ORDER BY seq LIMIT $2)",
                    )
                    .bind(before)
                    .bind(limit)
                    .execute(&mut *tx)
                    .await
                    .map(|r| r.rows_affected()),
                    Retained::Deliveries => query(
                        "DELETE FROM deliveries WHERE (source_id, delivery_id) IN
                           (SELECT source_id, delivery_id FROM deliveries WHERE received_at < $1 LIMIT $2)",
                    )
                    .bind(before)
                    .bind(limit)
                    .execute(&mut *tx)
                    .await
                    .map(|r| r.rows_affected()),
                    Retained::MessageBodies => {
                        scrub_messages(
                            &mut *tx,
                            "SELECT id, message FROM outbox WHERE created_at < $1
                               AND status IN ('sent', 'failed', 'unknown', 'cancelled', 'capped')
                               AND message NOT LIKE '%\"scrubbed\":\"true\"%'
                             ORDER BY created_at LIMIT $2",
                            &[crate::exec::Val::Int(before), crate::exec::Val::Int(limit)],
                        )
                        .await
                    }
                };
                (r, true)
            })
        })
        .await
    }
}
