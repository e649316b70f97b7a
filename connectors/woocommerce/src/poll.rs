//! [`WooPoller`]: reads `GET {store_url}/wp-json/wc/v3/orders` by modification time, as a
//! backstop for webhooks (WooCommerce core never retries a failed delivery).
//!
//! Each request asks for `modified_after=<cursor − 1 s>&dates_are_gmt=true&orderby=modified&
//! order=asc&per_page=100&page=N` with HTTP basic auth (consumer key and secret). Orders are
//! translated exactly like webhook bodies, with the same event ids
//! (`order:<id>:<date_modified_gmt>`), so an order seen both ways is applied once.
//!
//! # Cursor
//! The cursor is the last `date_modified_gmt` seen (`2026-11-20T15:04:05`). `modified_after` is
//! exclusive and has one-second resolution, so the request starts one second earlier: orders
//! modified in the same second as the last one seen, but cut off by a page boundary, are read
//! again rather than lost (their event ids make the re-read a no-op). When a full page ends on the
//! cursor's own second (more than a page of orders modified within one second), the cursor gains a
//! page suffix (`2026-11-20T15:04:05#2`) so the next request reads the next page instead of
//! repeating this one. No cursor: start 24 hours before `now`.

use crate::config::WooSettings;
use crate::payload::WooOrder;
use crate::source::{format_gmt, parse_gmt, Ctx, OrderOutcome};
use cartback_core::{PollBatch, PollError, Poller};
use cartback_kit::http::{poll_status_error, poll_transport_error};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Orders per request (the REST API's maximum).
pub const PER_PAGE: usize = 100;
/// The topic polled events carry (for logs and metrics).
pub const POLL_TOPIC: &str = "order.polled";
/// How far back a source without a cursor starts.
pub const INITIAL_LOOKBACK: Duration = Duration::from_secs(24 * 3600);
const TIMEOUT: Duration = Duration::from_secs(30);

/// The WooCommerce REST reader.
#[derive(Debug)]
pub struct WooPoller {
    settings: WooSettings,
    client: reqwest::Client,
}

impl WooPoller {
    pub fn new(settings: WooSettings) -> Self {
        let client = cartback_kit::http::client(TIMEOUT).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "Could not build the HTTP client; using defaults.");
            reqwest::Client::new()
        });
        WooPoller { settings, client }
    }

    fn orders_url(&self, after: DateTime<Utc>, page: u32) -> Result<url::Url, PollError> {
        let base = self
            .settings
            .base_url()
            .ok_or_else(|| PollError::Permanent {
                reason: "store_url is not set".into(),
            })?;
        let mut url = url::Url::parse(&format!("{base}/wp-json/wc/v3/orders")).map_err(|e| {
            PollError::Permanent {
                reason: format!("store_url is not a URL: {e}"),
            }
        })?;
        url.query_pairs_mut()
            .append_pair("modified_after", &format_gmt(after))
            .append_pair("dates_are_gmt", "true")
            .append_pair("orderby", "modified")
            .append_pair("order", "asc")
            .append_pair("per_page", &PER_PAGE.to_string())
            .append_pair("page", &page.to_string());
        Ok(url)
    }
}

/// A parsed cursor: the last modification time seen and the page to read at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub modified: DateTime<Utc>,
    pub page: u32,
}

impl Cursor {
    pub fn parse(s: &str) -> Option<Cursor> {
        let (time, page) = match s.trim().split_once('#') {
            Some((t, p)) => (t, p.parse::<u32>().ok().filter(|p| *p >= 1)?),
            None => (s.trim(), 1),
        };
        Some(Cursor {
            modified: parse_gmt(time)?,
            page,
        })
    }

    pub fn render(&self) -> String {
        if self.page <= 1 {
            format_gmt(self.modified)
        } else {
            format!("{}#{}", format_gmt(self.modified), self.page)
        }
    }
}

#[async_trait::async_trait]
impl Poller for WooPoller {
    fn kind(&self) -> &'static str {
        "woocommerce"
    }

    fn interval(&self) -> Duration {
        self.settings.interval()
    }

    async fn poll(
        &self,
        source_id: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<PollBatch, PollError> {
        let (Some(key), Some(secret)) =
            (&self.settings.consumer_key, &self.settings.consumer_secret)
        else {
            return Err(PollError::Permanent {
                reason: "consumer_key and consumer_secret are not set".into(),
            });
        };
        let start = match cursor {
            Some(c) => Cursor::parse(c).ok_or_else(|| PollError::Permanent {
                reason: format!("stored cursor {c:?} is not a WooCommerce cursor"),
            })?,
            None => Cursor {
                modified: now - chrono::Duration::from_std(INITIAL_LOOKBACK).unwrap_or_default(),
                page: 1,
            },
        };
        let url = self.orders_url(start.modified - chrono::Duration::seconds(1), start.page)?;
        let response = self
            .client
            .get(url)
            .basic_auth(key.expose(), Some(secret.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| poll_transport_error("request", &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| poll_transport_error("reading the response", &e))?;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&body);
            return Err(poll_status_error(status, &headers, &text, now));
        }
        let orders: Vec<serde_json::Value> =
            serde_json::from_slice(&body).map_err(|e| PollError::Permanent {
                reason: format!("the orders endpoint did not answer a JSON array: {e}"),
            })?;
        let full = orders.len() >= PER_PAGE;
        let ctx = Ctx {
            settings: &self.settings,
            topic: POLL_TOPIC,
        };
        let mut events = Vec::new();
        let mut last = None;
        for value in orders {
            let order: WooOrder = match serde_json::from_value(value) {
                Ok(o) => o,
                Err(err) => {
                    tracing::warn!(%source_id, error = %err, "Skipped an order that does not fit.");
                    continue;
                }
            };
            if let Some(t) = order.date_modified_gmt.as_deref().and_then(parse_gmt) {
                last = Some(last.map_or(t, |l: DateTime<Utc>| l.max(t)));
            }
            match ctx.order(source_id, &order) {
                Ok(OrderOutcome::Event(e)) => events.push(*e),
                Ok(OrderOutcome::Ignored { .. }) => {}
                Err(err) => {
                    tracing::warn!(%source_id, order_id = %order.id.0, error = %err, "Skipped an order that does not fit.");
                }
            }
        }
        let next = match last {
            Some(t) if t > start.modified => Cursor {
                modified: t,
                page: 1,
            },
            // Nothing newer than the cursor: a full page means more orders share its second.
            _ if full => Cursor {
                modified: start.modified,
                page: start.page + 1,
            },
            _ => Cursor {
                modified: start.modified,
                page: 1,
            },
        };
        Ok(PollBatch {
            events,
            cursor: Some(next.render()),
            more: full,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor::parse("2026-11-20T15:04:05").expect("cursor");
        assert_eq!((c.page, c.render().as_str()), (1, "2026-11-20T15:04:05"));
        let c = Cursor::parse("2026-11-20T15:04:05#3").expect("cursor");
        assert_eq!(c.page, 3);
        assert_eq!(c.render(), "2026-11-20T15:04:05#3");
        assert_eq!(Cursor::parse("2026-11-20T15:04:05#0"), None);
        assert_eq!(Cursor::parse("soon"), None);
    }
}
