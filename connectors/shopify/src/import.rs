//! [`ShopifyImporter`]: `cartback import` for Shopify, through the Admin GraphQL API
//! (`POST {admin_base}/admin/api/{api_version}/graphql.json`, `X-Shopify-Access-Token`).
//!
//! # Pages
//! Abandoned checkouts first, then orders, each filtered by `updated_at:>='<since>'`, sorted by
//! id, [`crate::graphql::PAGE_SIZE`] per page with cursor pagination (`after` = the previous
//! page's `pageInfo.endCursor`). The import's cursor is `checkouts:<endCursor>` or
//! `orders:<endCursor>` (`orders:` alone: the first page of orders). The first page also asks for
//! `abandonedCheckoutsCount` and `ordersCount` (the progress bar's total).
//!
//! # Cost-based rate limit
//! Every answer's `extensions.cost` says the query's `requestedQueryCost` and the bucket
//! (`throttleStatus { maximumAvailable currentlyAvailable restoreRate }`). Before a request whose
//! last requested cost exceeds what the bucket held after the last answer (restored since at
//! `restoreRate` points a second), the importer waits for the difference; a `THROTTLED` error is
//! waited out the same way and the request sent again (up to [`THROTTLE_TRIES`] times, then a
//! retryable error for the engine's backoff). The waits go through an injectable [`Sleeper`].
//!
//! # Errors
//! HTTP status classified by `cartback_kit::http` (401/403 permanent, 429/5xx retryable with
//! `Retry-After`); `ACCESS_DENIED` and other GraphQL errors are permanent, with Shopify's message.
//!
//! # Identity
//! Records are turned into the webhooks' REST shapes ([`crate::graphql`]) and translated by the
//! same code: an abandoned checkout is keyed by its checkout token (GraphQL has no cart token, so
//! a webhook keyed by the cart token finds the imported cart by its checkout token: see the
//! store's cart upsert), `platform_id` and order ids are the REST ids. Event ids are
//! `checkouts/import:<id>:<updatedAt>` and `orders/import:<id>:<updatedAt>`: stable across runs.

use crate::config::ShopifySettings;
use crate::graphql::{
    self, CheckoutsData, Cost, GqlCheckout, GqlOrder, OrdersData, Response, ThrottleStatus,
    PAGE_SIZE,
};
use crate::source::Ctx;
use cartback_core::{Event, EventKind, ImportPage, Importer, PollBatch, PollError};
use cartback_kit::http::{poll_status_error, poll_transport_error};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `THROTTLED` answers waited out for one page before the engine's backoff takes over.
pub const THROTTLE_TRIES: u32 = 5;
const TIMEOUT: Duration = Duration::from_secs(60);
/// The longest single wait for the bucket.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// How the importer waits (tests record the waits instead of sleeping).
pub type Sleeper = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The bucket as the last answer left it.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    status: ThrottleStatus,
    at: Instant,
    /// The last query's requested cost: what the next similar one needs.
    requested: f64,
}

impl Bucket {
    /// How long to wait before a query of the last requested cost fits.
    fn wait(&self, now: Instant) -> Duration {
        let restored = now.duration_since(self.at).as_secs_f64() * self.status.restore_rate;
        let available =
            (self.status.currently_available + restored).min(self.status.maximum_available);
        wait_for(self.requested - available, self.status.restore_rate)
    }
}

/// Seconds until `missing` points are restored at `rate` points a second.
fn wait_for(missing: f64, rate: f64) -> Duration {
    if missing <= 0.0 || rate <= 0.0 || !missing.is_finite() {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(missing / rate).min(MAX_WAIT)
}

/// The Shopify importer (Admin GraphQL).
pub struct ShopifyImporter {
    settings: ShopifySettings,
    client: reqwest::Client,
    sleeper: Sleeper,
    bucket: Mutex<Option<Bucket>>,
}

impl std::fmt::Debug for ShopifyImporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyImporter")
            .field("settings", &self.settings)
            .finish()
    }
}

/// Where an import stands: which connection, after which cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Checkouts(Option<String>),
    Orders(Option<String>),
}

impl Phase {
    fn parse(s: &str) -> Option<Phase> {
        let (kind, after) = s.split_once(':')?;
        let after = Some(after.to_string()).filter(|a| !a.is_empty());
        match kind {
            "checkouts" => Some(Phase::Checkouts(after)),
            "orders" => Some(Phase::Orders(after)),
            _ => None,
        }
    }

    fn render(&self) -> String {
        match self {
            Phase::Checkouts(a) => format!("checkouts:{}", a.as_deref().unwrap_or("")),
            Phase::Orders(a) => format!("orders:{}", a.as_deref().unwrap_or("")),
        }
    }
}

impl ShopifyImporter {
    /// An importer that sleeps with tokio.
    pub fn new(settings: ShopifySettings) -> Result<Self, String> {
        Self::with_sleeper(
            settings,
            Arc::new(|d| Box::pin(tokio::time::sleep(d)) as Pin<Box<_>>),
        )
    }

    /// An importer whose waits go through `sleeper`.
    pub fn with_sleeper(settings: ShopifySettings, sleeper: Sleeper) -> Result<Self, String> {
        if let Some(missing) = settings.import_missing() {
            return Err(missing);
        }
        let client = cartback_kit::http::client(TIMEOUT).map_err(|e| e.to_string())?;
        Ok(ShopifyImporter {
            settings,
            client,
            sleeper,
            bucket: Mutex::new(None),
        })
    }

    fn endpoint(&self) -> Result<String, PollError> {
        let base = self
            .settings
            .admin_base()
            .ok_or_else(|| PollError::Permanent {
                reason: "shop_domain is not set".into(),
            })?;
        Ok(format!(
            "{base}/admin/api/{}/graphql.json",
            self.settings.api_version()
        ))
    }

    fn remember(&self, cost: Option<Cost>) {
        let Some(cost) = cost else { return };
        let Some(status) = cost.throttle_status else {
            return;
        };
        let requested = cost
            .requested_query_cost
            .or(cost.actual_query_cost)
            .unwrap_or(0.0);
        *self.bucket.lock().unwrap_or_else(|p| p.into_inner()) = Some(Bucket {
            status,
            at: Instant::now(),
            requested,
        });
    }

    /// One GraphQL request, waiting for the bucket first and waiting out `THROTTLED` answers.
    async fn query<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<T, PollError> {
        let url = self.endpoint()?;
        let token =
            self.settings
                .admin_access_token
                .as_ref()
                .ok_or_else(|| PollError::Permanent {
                    reason: "admin_access_token is not set".into(),
                })?;
        let body = serde_json::json!({ "query": query, "variables": variables });
        let mut throttled = 0;
        loop {
            let before = self
                .bucket
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .map(|b| b.wait(Instant::now()))
                .unwrap_or_default();
            if !before.is_zero() {
                (self.sleeper)(before).await;
            }
            let response = self
                .client
                .post(&url)
                .header("X-Shopify-Access-Token", token.expose())
                .header(reqwest::header::ACCEPT, "application/json")
                .json(&body)
                .send()
                .await
                .map_err(|e| poll_transport_error("request", &e))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| poll_transport_error("reading the response", &e))?;
            if !(200..300).contains(&status) {
                let text = String::from_utf8_lossy(&bytes);
                return Err(match poll_status_error(status, &headers, &text, now) {
                    PollError::Permanent { reason } if status == 401 || status == 403 => {
                        PollError::Permanent {
                            reason: format!(
                                "Shopify refused admin_access_token ({status}): check the token and its scopes (read_orders, read_customers, read_products): {reason}"
                            ),
                        }
                    }
                    other => other,
                });
            }
            let answer: Response<T> =
                serde_json::from_slice(&bytes).map_err(|e| PollError::Permanent {
                    reason: format!("Shopify's GraphQL answer does not fit: {e}"),
                })?;
            let cost = answer.extensions.as_ref().and_then(|e| e.cost);
            self.remember(cost);
            if answer.errors.iter().any(|e| e.code() == Some("THROTTLED")) {
                throttled += 1;
                // The bucket the answer reports is remembered: the wait before the next try is
                // (requested cost − currently available) / restore rate. Without one, a second.
                let known = cost.and_then(|c| c.throttle_status).is_some();
                if throttled > THROTTLE_TRIES {
                    let wait = self
                        .bucket
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .map(|b| b.wait(Instant::now()));
                    return Err(PollError::Retryable {
                        reason: "Shopify throttled the import (THROTTLED)".into(),
                        retry_after: wait.or(Some(Duration::from_secs(1))),
                    });
                }
                tracing::info!(
                    tries = throttled,
                    "Shopify throttled the import; waiting for the bucket."
                );
                if !known {
                    (self.sleeper)(Duration::from_secs(1)).await;
                }
                continue;
            }
            if let Some(e) = answer.errors.first() {
                let code = e.code().unwrap_or("ERROR");
                return Err(PollError::Permanent {
                    reason: format!("Shopify answered {code}: {}", e.message),
                });
            }
            return answer.data.ok_or_else(|| PollError::Permanent {
                reason: "Shopify's GraphQL answer has no data".into(),
            });
        }
    }

    fn event(
        &self,
        source_id: &str,
        topic: &str,
        id: &str,
        updated: &str,
        kind: EventKind,
        at: DateTime<Utc>,
    ) -> Event {
        Event {
            source_id: source_id.to_string(),
            event_id: format!("{topic}:{id}:{updated}"),
            topic: topic.to_string(),
            occurred_at: at,
            kind,
        }
    }

    fn checkouts(&self, source_id: &str, nodes: Vec<serde_json::Value>) -> Vec<Event> {
        const TOPIC: &str = "checkouts/import";
        let ctx = Ctx {
            settings: &self.settings,
            topic: TOPIC,
        };
        let mut out = Vec::new();
        for node in nodes {
            let c: GqlCheckout = match serde_json::from_value(node) {
                Ok(c) => c,
                Err(err) => {
                    tracing::warn!(%source_id, error = %err, "Skipped an abandoned checkout that does not fit.");
                    continue;
                }
            };
            match ctx.checkout(&graphql::rest_checkout(&c)) {
                Ok(snap) => {
                    let at = snap.updated_at;
                    let id = graphql::rest_id(&c.id);
                    out.push(self.event(
                        source_id,
                        TOPIC,
                        &id,
                        &c.updated_at,
                        EventKind::CheckoutStarted(snap),
                        at,
                    ));
                }
                Err(err) => {
                    tracing::warn!(%source_id, checkout = %c.id, error = %err, "Skipped an abandoned checkout that does not fit.");
                }
            }
        }
        out
    }

    fn orders(&self, source_id: &str, nodes: Vec<serde_json::Value>) -> Vec<Event> {
        const TOPIC: &str = "orders/import";
        let ctx = Ctx {
            settings: &self.settings,
            topic: TOPIC,
        };
        let mut out = Vec::new();
        for node in nodes {
            let o: GqlOrder = match serde_json::from_value(node) {
                Ok(o) => o,
                Err(err) => {
                    tracing::warn!(%source_id, error = %err, "Skipped an order that does not fit.");
                    continue;
                }
            };
            match ctx.order(&graphql::rest_order(&o)) {
                Ok(order) => {
                    let at = crate::verify::parse_time(&o.updated_at).unwrap_or(order.placed_at);
                    let id = order.order_id.clone();
                    out.push(self.event(
                        source_id,
                        TOPIC,
                        &id,
                        &o.updated_at,
                        EventKind::OrderPlaced(order),
                        at,
                    ));
                }
                Err(err) => {
                    tracing::warn!(%source_id, order = %o.id, error = %err, "Skipped an order that does not fit.");
                }
            }
        }
        out
    }
}

/// The search filter: records updated at or after `since`.
pub fn since_filter(since: DateTime<Utc>) -> String {
    format!(
        "updated_at:>='{}'",
        since.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

#[async_trait::async_trait]
impl Importer for ShopifyImporter {
    fn kind(&self) -> &'static str {
        "shopify"
    }

    async fn page(
        &self,
        source_id: &str,
        cursor: Option<&str>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ImportPage, PollError> {
        let phase = match cursor {
            None => Phase::Checkouts(None),
            Some(c) => Phase::parse(c).ok_or_else(|| PollError::Permanent {
                reason: format!("import cursor {c:?} is not a Shopify import cursor"),
            })?,
        };
        let filter = since_filter(since);
        match phase {
            Phase::Checkouts(after) => {
                let first = cursor.is_none();
                let data: CheckoutsData = self
                    .query(
                        &graphql::checkouts_query(),
                        serde_json::json!({
                            "first": PAGE_SIZE, "after": after, "query": filter, "counts": first,
                        }),
                        now,
                    )
                    .await?;
                let total = match (&data.abandoned_checkouts_count, &data.orders_count) {
                    (Some(a), Some(o)) => Some(a.count + o.count),
                    _ => None,
                };
                let conn = data.abandoned_checkouts;
                let records = conn.nodes.len() as u64;
                let events = self.checkouts(source_id, conn.nodes);
                let next = if conn.page_info.has_next_page {
                    Phase::Checkouts(conn.page_info.end_cursor)
                } else {
                    Phase::Orders(None)
                };
                Ok(ImportPage {
                    batch: PollBatch {
                        events,
                        cursor: Some(next.render()),
                        more: true,
                    },
                    records,
                    total,
                })
            }
            Phase::Orders(after) => {
                let data: OrdersData = self
                    .query(
                        &graphql::orders_query(),
                        serde_json::json!({ "first": PAGE_SIZE, "after": after, "query": filter }),
                        now,
                    )
                    .await?;
                let conn = data.orders;
                let records = conn.nodes.len() as u64;
                let events = self.orders(source_id, conn.nodes);
                let more = conn.page_info.has_next_page;
                let next = Phase::Orders(conn.page_info.end_cursor.filter(|_| more));
                Ok(ImportPage {
                    batch: PollBatch {
                        events,
                        cursor: Some(next.render()),
                        more,
                    },
                    records,
                    total: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_waits_follow_the_restore_rate() {
        for p in [
            Phase::Checkouts(None),
            Phase::Checkouts(Some("eyJ".into())),
            Phase::Orders(None),
            Phase::Orders(Some("a:b".into())),
        ] {
            assert_eq!(Phase::parse(&p.render()), Some(p));
        }
        assert_eq!(Phase::parse("carts:x"), None);
        assert_eq!(wait_for(150.0, 50.0), Duration::from_secs(3));
        assert_eq!(wait_for(-1.0, 50.0), Duration::ZERO);
        let b = Bucket {
            status: ThrottleStatus {
                maximum_available: 1000.0,
                currently_available: 100.0,
                restore_rate: 100.0,
            },
            at: Instant::now(),
            requested: 300.0,
        };
        let w = b.wait(b.at);
        assert_eq!(w, Duration::from_secs(2));
        assert_eq!(
            since_filter(
                DateTime::parse_from_rfc3339("2026-10-29T12:00:00Z")
                    .unwrap()
                    .into()
            ),
            "updated_at:>='2026-10-29T12:00:00Z'"
        );
    }
}
