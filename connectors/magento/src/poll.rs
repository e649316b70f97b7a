//! [`MagentoPoller`]: reads quotes (`GET /V1/carts/search`, then `/V1/carts/{id}/totals` for
//! each usable one) and orders (`GET /V1/orders`) by time, with the integration's bearer token.
//!
//! # Requests
//! Quotes: `searchCriteria` filter group 0 `updated_at gteq <cursor>`, filter group 1
//! `is_active eq 1` (groups are ANDed), sorted by `updated_at` then `entity_id` ascending (the
//! second key keeps ties in a stable order across pages), `pageSize` and `currentPage`. Orders:
//! the same with `created_at`. Magento times are UTC `YYYY-MM-DD HH:MM:SS`. One page of each kind
//! is read per poll, never more than `page_size` records per request.
//!
//! # Cursor
//! One string holds both positions: `q=<updated_at>;qp=<page>;o=<created_at>;op=<page>`
//! (`q=2026-11-20 15:04:05;qp=1;o=2026-11-20 14:58:10;op=1`). No cursor: both start 24 hours
//! before `now`. After each page:
//! - a short page: the position moves to the last time seen, page 1;
//! - a full page whose last time is newer than the position: the position moves to that time,
//!   page 1 (`more = true`). Records sharing that second are read again (their event ids make the
//!   re-read a no-op), but none is skipped when records change between polls, which an offset
//!   into a moving result set would do;
//! - a full page entirely at the position's own second (more than a page of records within one
//!   second): the time stays and the page number advances (`more = true`).
//!
//! Magento clamps `currentPage` to the last page (asking page 3 of 2 answers page 2 again), so
//! `total_count` decides whether a page is full and a page past the end is read as empty.
//!
//! # Events
//! An active quote with items and an email → `CheckoutStarted`, key `quote:<id>`,
//! `checkout_token` = the quote id, event id `quote:<id>:<updated_at>`. An order →
//! `OrderPlaced` with `checkout_token` = its `quote_id` (so it converts the quote's cart), event id
//! `order:<entity_id>`; canceled orders are skipped. Amounts become exact money with
//! [`to_money`] (see `payload.rs`).

use crate::config::MagentoSettings;
pub use crate::cursor::{advance, format_time, parse_time, Cursor, Position};
pub use crate::payload::{to_money, to_quantity};
use crate::payload::{
    Address, CartItem, ErrorBody, MagentoCart, MagentoOrder, SearchResult, Totals,
};
use cartback_core::contact::clean_email;
use cartback_core::{
    CartSnapshot, ContactInfo, Currency, Event, EventKind, LineItem, Order, PollBatch, PollError,
    Poller,
};
use cartback_kit::http::{poll_status_error, poll_transport_error};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The topic polled quote events carry (for logs and metrics).
pub const QUOTE_TOPIC: &str = "quote.polled";
/// The topic polled order events carry.
pub const ORDER_TOPIC: &str = "order.polled";
pub use crate::cursor::INITIAL_LOOKBACK;
const TIMEOUT: Duration = Duration::from_secs(30);

/// The Magento REST reader.
#[derive(Debug)]
pub struct MagentoPoller {
    settings: MagentoSettings,
    client: reqwest::Client,
}

/// A non-2xx answer (status and the error as the poll reports it).
struct Failed {
    status: u16,
    error: PollError,
}

/// One page of a search and what it means for the cursor.
struct Page {
    items: Vec<serde_json::Value>,
    full: bool,
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl MagentoPoller {
    pub fn new(settings: MagentoSettings) -> Self {
        let client = cartback_kit::http::client(TIMEOUT).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "Could not build the HTTP client; using defaults.");
            reqwest::Client::new()
        });
        MagentoPoller { settings, client }
    }

    pub fn settings(&self) -> &MagentoSettings {
        &self.settings
    }

    fn url(&self, path: &str) -> Result<url::Url, PollError> {
        url::Url::parse(&format!("{}/{path}", self.settings.rest_url())).map_err(|e| {
            PollError::Permanent {
                reason: format!("base_url does not give a REST URL: {e}"),
            }
        })
    }

    /// `{rest}/{resource}?searchCriteria…` for records whose `field` is at or after `pos.since`,
    /// with `extra` equality filters each in its own (ANDed) filter group.
    pub fn search_url(
        &self,
        resource: &str,
        field: &str,
        pos: Position,
        extra: &[(&str, &str)],
    ) -> Result<url::Url, PollError> {
        let mut url = self.url(resource)?;
        {
            let mut q = url.query_pairs_mut();
            let g = "searchCriteria[filter_groups]";
            q.append_pair(&format!("{g}[0][filters][0][field]"), field)
                .append_pair(
                    &format!("{g}[0][filters][0][value]"),
                    &format_time(pos.since),
                )
                .append_pair(&format!("{g}[0][filters][0][condition_type]"), "gteq");
            for (i, (f, v)) in extra.iter().enumerate() {
                let n = i + 1;
                q.append_pair(&format!("{g}[{n}][filters][0][field]"), f)
                    .append_pair(&format!("{g}[{n}][filters][0][value]"), v)
                    .append_pair(&format!("{g}[{n}][filters][0][condition_type]"), "eq");
            }
            q.append_pair("searchCriteria[sortOrders][0][field]", field)
                .append_pair("searchCriteria[sortOrders][0][direction]", "ASC")
                .append_pair("searchCriteria[sortOrders][1][field]", "entity_id")
                .append_pair("searchCriteria[sortOrders][1][direction]", "ASC")
                .append_pair(
                    "searchCriteria[pageSize]",
                    &self.settings.page_size().to_string(),
                )
                .append_pair("searchCriteria[currentPage]", &pos.page.to_string());
        }
        Ok(url)
    }

    /// GETs `url` with the bearer token: the body of a 2xx answer, else the classified failure.
    async fn get(&self, url: url::Url, now: DateTime<Utc>) -> Result<Vec<u8>, Failed> {
        let response = self
            .client
            .get(url)
            .bearer_auth(self.settings.access_token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Failed {
                status: 0,
                error: poll_transport_error("request", &e),
            })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| Failed {
            status,
            error: poll_transport_error("reading the response", &e),
        })?;
        if (200..300).contains(&status) {
            return Ok(body.to_vec());
        }
        let message =
            ErrorBody::parse(&body).unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        Err(Failed {
            status,
            error: poll_status_error(status, &headers, &message, now),
        })
    }

    async fn search(
        &self,
        resource: &str,
        field: &str,
        pos: Position,
        extra: &[(&str, &str)],
        now: DateTime<Utc>,
    ) -> Result<Page, PollError> {
        let url = self.search_url(resource, field, pos, extra)?;
        let body = self.get(url, now).await.map_err(|f| f.error)?;
        let result: SearchResult =
            serde_json::from_slice(&body).map_err(|e| PollError::Permanent {
                reason: format!("{resource} did not answer a search result: {e}"),
            })?;
        let size = u64::from(self.settings.page_size());
        let before = u64::from(pos.page - 1) * size;
        let (items, full) = match result.total_count {
            // Past the end: Magento answered its last page again.
            Some(total) if pos.page > 1 && before >= total => (Vec::new(), false),
            Some(total) => {
                let full = result.items.len() as u64 >= size && before + size < total;
                (result.items, full)
            }
            None => {
                let full = result.items.len() as u64 >= size;
                (result.items, full)
            }
        };
        Ok(Page { items, full })
    }

    fn phone(&self, address: Option<&Address>) -> Option<String> {
        let address = address?;
        let raw = non_empty(address.telephone.as_deref())?;
        let region = non_empty(address.country_id.as_deref())
            .or(non_empty(self.settings.default_phone_region.as_deref()));
        cartback_core::normalize_phone(raw, region).ok()
    }

    fn product_url(&self, item: &CartItem) -> Option<String> {
        let template = self.settings.product_url_template.as_deref()?;
        let mut url = template.replace("{base_url}", self.settings.base());
        if url.contains("{sku}") {
            let sku = non_empty(item.sku.as_deref())?;
            let encoded: String = url::form_urlencoded::byte_serialize(sku.as_bytes())
                .collect::<String>()
                .replace('+', "%20");
            url = url.replace("{sku}", &encoded);
        }
        if url.contains("{product_id}") {
            url = url.replace("{product_id}", item.product_id()?);
        }
        Some(url)
    }

    /// The contact of a quote: a guest's email is on the billing address, a customer's on
    /// `customer`.
    fn quote_contact(&self, cart: &MagentoCart) -> Option<ContactInfo> {
        let customer = cart.customer.clone().unwrap_or_default();
        let billing = cart.billing_address.as_ref();
        let customer_id = customer.id.as_ref().and_then(|i| i.non_zero());
        let guest = cart.customer_is_guest.is_some_and(|g| g.0) || customer_id.is_none();
        let billing_email = billing.and_then(|b| b.email.as_deref());
        let customer_email = customer.email.as_deref();
        let (first, second) = if guest {
            (billing_email, customer_email)
        } else {
            (customer_email, billing_email)
        };
        let email = first
            .and_then(clean_email)
            .or_else(|| second.and_then(clean_email))?;
        Some(ContactInfo {
            email: Some(email),
            phone: self.phone(billing),
            first_name: non_empty(customer.firstname.as_deref())
                .or(billing.and_then(|b| non_empty(b.firstname.as_deref())))
                .map(str::to_string),
            last_name: non_empty(customer.lastname.as_deref())
                .or(billing.and_then(|b| non_empty(b.lastname.as_deref())))
                .map(str::to_string),
            external_id: if guest {
                None
            } else {
                customer_id.map(str::to_string)
            },
            ..ContactInfo::default()
        })
    }

    fn cart_line(
        &self,
        item: &CartItem,
        totals: &Totals,
        currency: Currency,
    ) -> Result<LineItem, String> {
        let label = item.item_id.as_ref().map_or("?", |i| i.0.as_str());
        let quantity = item
            .qty
            .as_ref()
            .and_then(to_quantity)
            .ok_or_else(|| format!("item {label} has no usable qty"))?;
        let price = item
            .price
            .as_ref()
            .ok_or_else(|| format!("item {label} has no price"))?;
        let unit_price =
            to_money(price, currency).map_err(|e| format!("item {label} price: {e}"))?;
        let row_total = totals
            .items
            .iter()
            .find(|t| t.item_id.is_some() && t.item_id == item.item_id)
            .and_then(|t| t.row_total.as_ref())
            .and_then(|a| to_money(a, currency).ok());
        let line_price = match row_total {
            Some(m) => m,
            None => unit_price
                .checked_mul(i64::from(quantity))
                .ok_or_else(|| format!("item {label} line price overflows"))?,
        };
        let title = non_empty(item.name.as_deref())
            .or(non_empty(item.sku.as_deref()))
            .unwrap_or("Item")
            .to_string();
        Ok(LineItem {
            product_id: item.product_id().map(str::to_string),
            variant_id: None,
            sku: non_empty(item.sku.as_deref()).map(str::to_string),
            title,
            variant_title: None,
            quantity,
            unit_price,
            line_price,
            url: self.product_url(item),
            image_url: None,
        })
    }

    /// A quote and its totals as a `CheckoutStarted` event.
    pub fn quote_event(
        &self,
        source_id: &str,
        cart: &MagentoCart,
        contact: ContactInfo,
        totals: &Totals,
    ) -> Result<Event, String> {
        let id = &cart.id.0;
        let updated_at = cart
            .updated_at
            .as_deref()
            .or(cart.created_at.as_deref())
            .and_then(parse_time)
            .ok_or("no usable updated_at")?;
        let code = non_empty(totals.quote_currency_code.as_deref())
            .or(cart
                .currency
                .as_ref()
                .and_then(|c| non_empty(c.quote_currency_code.as_deref())))
            .ok_or("no quote_currency_code")?;
        let currency = Currency::parse(code).map_err(|e| e.to_string())?;
        let total = totals
            .grand_total
            .as_ref()
            .ok_or("totals have no grand_total")
            .and_then(|a| to_money(a, currency).map_err(|_| "grand_total is not an amount"))?;
        let subtotal = match &totals.subtotal {
            Some(a) => Some(to_money(a, currency).map_err(|e| format!("subtotal: {e}"))?),
            None => None,
        };
        let items = cart
            .items
            .iter()
            .map(|i| self.cart_line(i, totals, currency))
            .collect::<Result<Vec<_>, _>>()?;
        let recovery_url = self
            .settings
            .recovery_url
            .as_deref()
            .map(|u| u.trim().replace("{quote_id}", id));
        let snapshot = CartSnapshot {
            key: format!("quote:{id}"),
            cart_token: None,
            checkout_token: Some(id.clone()),
            platform_id: Some(id.clone()),
            contact: Some(contact),
            items,
            currency,
            subtotal,
            total,
            recovery_url,
            updated_at,
            completed_at: None,
        };
        Ok(Event {
            source_id: source_id.to_string(),
            event_id: format!("quote:{id}:{}", format_time(updated_at)),
            topic: QUOTE_TOPIC.to_string(),
            occurred_at: updated_at,
            kind: EventKind::CheckoutStarted(snapshot),
        })
    }

    /// An order as an `OrderPlaced` event; `Ok(None)` for a canceled order.
    pub fn order_event(&self, source_id: &str, o: &MagentoOrder) -> Result<Option<Event>, String> {
        if o.state.as_deref() == Some("canceled") || o.status.as_deref() == Some("canceled") {
            return Ok(None);
        }
        let placed_at = o
            .created_at
            .as_deref()
            .and_then(parse_time)
            .ok_or("no usable created_at")?;
        let code = non_empty(o.order_currency_code.as_deref()).ok_or("no order_currency_code")?;
        let currency = Currency::parse(code).map_err(|e| e.to_string())?;
        let total = o
            .grand_total
            .as_ref()
            .ok_or("no grand_total")
            .and_then(|a| to_money(a, currency).map_err(|_| "grand_total is not an amount"))?;
        let billing = o.billing_address.as_ref();
        let guest = o.customer_is_guest.is_some_and(|g| g.0);
        let email = o
            .customer_email
            .as_deref()
            .and_then(clean_email)
            .or_else(|| {
                billing
                    .and_then(|b| b.email.as_deref())
                    .and_then(clean_email)
            });
        let contact = ContactInfo {
            email,
            phone: self.phone(billing),
            first_name: non_empty(o.customer_firstname.as_deref())
                .or(billing.and_then(|b| non_empty(b.firstname.as_deref())))
                .map(str::to_string),
            last_name: non_empty(o.customer_lastname.as_deref())
                .or(billing.and_then(|b| non_empty(b.lastname.as_deref())))
                .map(str::to_string),
            external_id: if guest {
                None
            } else {
                o.customer_id
                    .as_ref()
                    .and_then(|i| i.non_zero())
                    .map(str::to_string)
            },
            ..ContactInfo::default()
        };
        let mut items = Vec::new();
        for line in o.items.iter().filter(|l| l.parent_item_id.is_none()) {
            let (Some(quantity), Some(price)) = (
                line.qty_ordered.as_ref().and_then(to_quantity),
                line.price.as_ref().and_then(|p| to_money(p, currency).ok()),
            ) else {
                continue;
            };
            let line_price = line
                .row_total
                .as_ref()
                .and_then(|a| to_money(a, currency).ok())
                .or_else(|| price.checked_mul(i64::from(quantity)))
                .unwrap_or(price);
            items.push(LineItem {
                product_id: line
                    .product_id
                    .as_ref()
                    .and_then(|i| i.non_zero())
                    .map(str::to_string),
                variant_id: None,
                sku: non_empty(line.sku.as_deref()).map(str::to_string),
                title: non_empty(line.name.as_deref())
                    .or(non_empty(line.sku.as_deref()))
                    .unwrap_or("Item")
                    .to_string(),
                variant_title: None,
                quantity,
                unit_price: price,
                line_price,
                url: None,
                image_url: None,
            });
        }
        let entity_id = &o.entity_id.0;
        let increment = non_empty(o.increment_id.as_deref()).map(str::to_string);
        let order = Order {
            order_id: increment.clone().unwrap_or_else(|| entity_id.clone()),
            name: increment,
            checkout_token: o
                .quote_id
                .as_ref()
                .and_then(|q| q.non_zero())
                .map(str::to_string),
            cart_token: None,
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            total,
            items,
            placed_at,
            test: false,
        };
        Ok(Some(Event {
            source_id: source_id.to_string(),
            event_id: format!("order:{entity_id}"),
            topic: ORDER_TOPIC.to_string(),
            occurred_at: placed_at,
            kind: EventKind::OrderPlaced(order),
        }))
    }

    /// One page of quotes: events, the next position and whether more are waiting.
    async fn poll_quotes(
        &self,
        source_id: &str,
        pos: Position,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Event>, Position, bool), PollError> {
        let page = self
            .search(
                "carts/search",
                "updated_at",
                pos,
                &[("is_active", "1")],
                now,
            )
            .await?;
        let mut events = Vec::new();
        let mut last: Option<DateTime<Utc>> = None;
        for value in page.items {
            let seen = ["updated_at", "created_at"]
                .iter()
                .find_map(|f| value.get(*f).and_then(|v| v.as_str()).and_then(parse_time));
            if let Some(t) = seen {
                last = Some(last.map_or(t, |l| l.max(t)));
            }
            let cart: MagentoCart = match serde_json::from_value(value) {
                Ok(c) => c,
                Err(err) => {
                    tracing::warn!(%source_id, error = %err, "Skipped a quote that does not fit.");
                    continue;
                }
            };
            let quote_id = cart.id.0.as_str();
            if !quote_id.bytes().all(|b| b.is_ascii_digit()) {
                tracing::warn!(%source_id, "Skipped a quote whose id is not a number.");
                continue;
            }
            if cart.is_active.is_some_and(|a| !a.0) || cart.items.is_empty() {
                tracing::debug!(%source_id, %quote_id, "Skipped an inactive or empty quote.");
                continue;
            }
            let Some(contact) = self.quote_contact(&cart) else {
                tracing::debug!(%source_id, %quote_id, "Skipped a quote without an email.");
                continue;
            };
            let url = self.url(&format!("carts/{quote_id}/totals"))?;
            let totals: Totals = match self.get(url, now).await {
                Ok(body) => serde_json::from_slice(&body).map_err(|e| PollError::Permanent {
                    reason: format!("carts/{quote_id}/totals did not answer totals: {e}"),
                })?,
                Err(Failed { status: 404, .. }) => {
                    tracing::debug!(%source_id, %quote_id, "Skipped a quote deleted since the search.");
                    continue;
                }
                Err(f) => return Err(f.error),
            };
            match self.quote_event(source_id, &cart, contact, &totals) {
                Ok(e) => events.push(e),
                Err(reason) => {
                    tracing::warn!(%source_id, %quote_id, %reason, "Skipped a quote that does not fit.");
                }
            }
        }
        Ok((events, advance(pos, last, page.full), page.full))
    }

    /// One page of orders: events, the next position and whether more are waiting.
    async fn poll_orders(
        &self,
        source_id: &str,
        pos: Position,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Event>, Position, bool), PollError> {
        let page = self.search("orders", "created_at", pos, &[], now).await?;
        let mut events = Vec::new();
        let mut last: Option<DateTime<Utc>> = None;
        for value in page.items {
            if let Some(t) = value
                .get("created_at")
                .and_then(|v| v.as_str())
                .and_then(parse_time)
            {
                last = Some(last.map_or(t, |l| l.max(t)));
            }
            let order: MagentoOrder = match serde_json::from_value(value) {
                Ok(o) => o,
                Err(err) => {
                    tracing::warn!(%source_id, error = %err, "Skipped an order that does not fit.");
                    continue;
                }
            };
            match self.order_event(source_id, &order) {
                Ok(Some(e)) => events.push(e),
                Ok(None) => {}
                Err(reason) => {
                    tracing::warn!(%source_id, order_id = %order.entity_id, %reason, "Skipped an order that does not fit.");
                }
            }
        }
        Ok((events, advance(pos, last, page.full), page.full))
    }
}

#[async_trait::async_trait]
impl Poller for MagentoPoller {
    fn kind(&self) -> &'static str {
        "magento"
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
        let start = match cursor {
            Some(c) => Cursor::parse(c).ok_or_else(|| PollError::Permanent {
                reason: format!("stored cursor {c:?} is not a Magento cursor"),
            })?,
            None => Cursor::start(now),
        };
        let (mut events, quotes, quotes_more) =
            self.poll_quotes(source_id, start.quotes, now).await?;
        let (orders_events, orders, orders_more) =
            self.poll_orders(source_id, start.orders, now).await?;
        tracing::debug!(
            %source_id,
            quotes = events.len(),
            orders = orders_events.len(),
            "Polled Magento."
        );
        events.extend(orders_events);
        Ok(PollBatch {
            events,
            cursor: Some(Cursor { quotes, orders }.render()),
            more: quotes_more || orders_more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).expect("time")
    }

    #[test]
    fn cursors_round_trip() {
        let c =
            Cursor::parse("q=2026-11-20 15:04:05;qp=2;o=2026-11-20 14:00:00;op=1").expect("cursor");
        assert_eq!(c.quotes.since, t("2026-11-20 15:04:05"));
        assert_eq!(c.quotes.page, 2);
        assert_eq!(c.orders.page, 1);
        assert_eq!(
            c.render(),
            "q=2026-11-20 15:04:05;qp=2;o=2026-11-20 14:00:00;op=1"
        );
        assert_eq!(
            Cursor::parse("q=2026-11-20 15:04:05;o=2026-11-20 14:00:00")
                .map(|c| c.render())
                .as_deref(),
            Some("q=2026-11-20 15:04:05;qp=1;o=2026-11-20 14:00:00;op=1")
        );
        for bad in [
            "",
            "soon",
            "q=2026-11-20 15:04:05",
            "q=2026-11-20 15:04:05;qp=0;o=2026-11-20 14:00:00",
            "q=x;o=2026-11-20 14:00:00",
            "q=2026-11-20 15:04:05;o=2026-11-20 14:00:00;z=1",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn positions_advance() {
        let pos = Position {
            since: t("2026-11-20 10:00:00"),
            page: 1,
        };
        let later = t("2026-11-20 11:00:00");
        assert_eq!(
            advance(pos, Some(later), true),
            Position {
                since: later,
                page: 1
            }
        );
        assert_eq!(
            advance(pos, Some(pos.since), true),
            Position {
                since: pos.since,
                page: 2
            }
        );
        assert_eq!(
            advance(pos, Some(later), false),
            Position {
                since: later,
                page: 1
            }
        );
        assert_eq!(advance(pos, None, false), pos);
        let paged = Position { page: 3, ..pos };
        assert_eq!(advance(paged, None, false), pos);
    }

    #[test]
    fn times_parse() {
        assert_eq!(format_time(t("2026-11-20 15:04:05")), "2026-11-20 15:04:05");
        assert_eq!(t("2026-11-20T15:04:05"), t("2026-11-20 15:04:05"));
        assert_eq!(t("2026-11-20T16:04:05+01:00"), t("2026-11-20 15:04:05"));
        assert_eq!(parse_time("0000-00-00 00:00:00"), None);
    }
}
