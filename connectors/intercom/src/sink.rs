//! [`IntercomSink`]: the requests of one hand-off, and the classification of Intercom's answers.
//!
//! 1. The contact: `POST /contacts` (role, the hub's id as `external_id`, email, phone, name,
//!    email opt-out as the hub knows it). When one exists, Intercom answers `409 conflict`
//!    naming its id; the sink then updates it (`PUT /contacts/{id}`, without role or
//!    `external_id`, so the shop's own id stays). A conflict naming no id falls back to
//!    `POST /contacts/search` by email (or phone).
//! 2. The event: `POST /events` with Intercom's contact `id`, the event name, `created_at` and
//!    the cart as metadata within Intercom's limits ([`crate::payload::Metadata`]).
//!
//! `created_at` is the second the hub composed the message (read from its UUIDv7 id), so a
//! retry repeats the same event and Intercom's de-duplication (same contact, name, time and
//! metadata) keeps one. `Authorization: Bearer`, `Intercom-Version`. The sink only says
//! *whether* a failure is retryable; the outbox decides *when*. Errors never carry the token.

use crate::config::IntercomSettings;
use crate::payload::{ContactAnswer, ContactBody, ErrorList, EventBody, Metadata, SearchAnswer};
use cartback_core::{DeliveryError, OutboundMessage, Purpose, Receipt, Sink, SinkContext};
use cartback_kit::http::{permanent, status_error, transport_error};
use cartback_kit::plugin::BuildError;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde::Serialize;
use std::time::Duration;

/// The header naming the API version.
pub const VERSION_HEADER: &str = "intercom-version";

/// What one hand-off sends: the contact (created or updated), then the event (its `id` filled
/// in from the contact).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub contact: ContactBody,
    pub event: EventBody,
}

/// The Intercom hand-off sink.
#[derive(Debug)]
pub struct IntercomSink {
    settings: IntercomSettings,
    /// `Bearer <token>`, marked sensitive (its `Debug` never shows it).
    bearer: HeaderValue,
    version: HeaderValue,
    client: reqwest::Client,
}

impl IntercomSink {
    /// Validates `settings` and builds the HTTP client (timeout `ctx.timeout`).
    pub fn new(settings: IntercomSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let mut bearer =
            HeaderValue::try_from(format!("Bearer {}", settings.access_token.expose().trim()))
                .map_err(|_| {
                    BuildError::Settings("access_token cannot be sent as a header value".into())
                })?;
        bearer.set_sensitive(true);
        let version = HeaderValue::try_from(settings.api_version())
            .map_err(|_| BuildError::Settings("api_version is not a header value".into()))?;
        let client = cartback_kit::http::client(ctx.timeout)
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(IntercomSink {
            settings,
            bearer,
            version,
            client,
        })
    }

    /// What `message` becomes, as of `now` (when its id carries no time); the event's `id` is
    /// empty until the contact is known. An error when it can never be sent.
    pub fn plan(
        &self,
        message: &OutboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Plan, DeliveryError> {
        let cart = message
            .cart
            .as_ref()
            .ok_or_else(|| permanent("the hand-off has no cart"))?;
        let mut info = message.contact.clone().unwrap_or_default();
        if info.email.is_none() {
            info.email = message.to.email.clone();
        }
        if info.phone.is_none() {
            info.phone = message.to.phone.clone();
        }
        if info.email.is_none() && info.phone.is_none() {
            return Err(permanent(
                "the contact has no email or phone for Intercom to identify it by",
            ));
        }
        let name = match (&info.first_name, &info.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.clone()),
            (None, Some(l)) => Some(l.clone()),
            (None, None) => message.to.name.clone(),
        };
        let meta = |k: &str| message.metadata.get(k).map(String::as_str);
        let hub_id = meta("contact_id").or(cart.contact_id.as_deref());
        let contact = ContactBody::create(&info, name, self.settings.role.as_str(), hub_id);

        let mut m = Metadata::default();
        m.text("cart_id", Some(meta("cart_id").unwrap_or(&cart.id)));
        let (event_name, at) = match &message.purpose {
            Purpose::Reminder => {
                m.link("cart_url", cart.recovery_url.as_deref());
                m.price("cart_total", cart.total);
                m.number(
                    "item_count",
                    cart.items.iter().map(|i| i64::from(i.quantity)).sum(),
                );
                m.text("discount_code", message.discount_code.as_deref());
                (
                    self.settings.event_name(),
                    composed_at(&message.id).unwrap_or(now),
                )
            }
            Purpose::Converted {
                order_id,
                total,
                placed_at,
            } => {
                m.text("order_id", Some(order_id));
                m.price("order_total", total.unwrap_or(cart.total));
                m.number("order_date", placed_at.timestamp());
                (self.settings.converted_event_name(), *placed_at)
            }
        };
        m.text("flow_id", meta("flow_id"));
        m.text("step", meta("step"));
        m.text("variant", meta("variant"));
        m.text("message_id", Some(&message.id));
        if message.test {
            m.text("test", Some("true"));
        }
        if message.purpose == Purpose::Reminder {
            m.items(cart);
        }
        Ok(Plan {
            contact,
            event: EventBody {
                event_name: event_name.to_string(),
                created_at: at.timestamp(),
                id: String::new(),
                metadata: m.into_map(),
            },
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url())
    }

    async fn send<T: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &T,
    ) -> Result<(u16, HeaderMap, Vec<u8>), DeliveryError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| permanent(format!("cannot encode the request: {e}")))?;
        let response = self
            .client
            .request(method, self.url(path))
            .header(AUTHORIZATION, self.bearer.clone())
            .header(VERSION_HEADER, self.version.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // A success whose body cannot be read is still a success; a refusal is read for its reason.
        let body = response.bytes().await.unwrap_or_default().to_vec();
        Ok((status, headers, body))
    }

    /// Creates the contact, or updates the one that exists; its Intercom id.
    async fn upsert(&self, contact: &ContactBody) -> Result<String, DeliveryError> {
        let (status, headers, body) = self.send(Method::POST, "/contacts", contact).await?;
        match status {
            200..=299 => return contact_id(&body, "contact create"),
            409 => {}
            _ => return Err(refused(status, &headers, &body, "contact create")),
        }
        let named = serde_json::from_slice::<ErrorList>(&body)
            .ok()
            .and_then(|e| e.conflicting_id());
        let id = match named {
            Some(id) => id,
            None => self.search(contact).await?,
        };
        let (status, headers, body) = self
            .send(
                Method::PUT,
                &format!("/contacts/{id}"),
                &contact.for_update(),
            )
            .await?;
        if (200..=299).contains(&status) {
            Ok(contact_id(&body, "contact update").unwrap_or(id))
        } else {
            Err(refused(status, &headers, &body, "contact update"))
        }
    }

    /// The id of the contact with this email (or phone): the fallback when a conflict names none.
    async fn search(&self, contact: &ContactBody) -> Result<String, DeliveryError> {
        let (field, value) = match (&contact.email, &contact.phone) {
            (Some(e), _) => ("email", e),
            (None, Some(p)) => ("phone", p),
            (None, None) => return Err(permanent("nothing to find the contact by")),
        };
        let query = serde_json::json!({"query": {"field": field, "operator": "=", "value": value}});
        let (status, headers, body) = self.send(Method::POST, "/contacts/search", &query).await?;
        if !(200..=299).contains(&status) {
            return Err(refused(status, &headers, &body, "contact search"));
        }
        serde_json::from_slice::<SearchAnswer>(&body)
            .ok()
            .and_then(|a| a.data.into_iter().next())
            .map(|c| c.id)
            .ok_or_else(|| DeliveryError::Retryable {
                reason: format!(
                    "Intercom said the contact exists but its search by {field} found none yet"
                ),
                retry_after: None,
            })
    }
}

#[async_trait::async_trait]
impl Sink for IntercomSink {
    fn kind(&self) -> &'static str {
        "intercom"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let Plan { contact, mut event } = self.plan(message, Utc::now())?;
        event.id = self.upsert(&contact).await?;
        let (status, headers, body) = self.send(Method::POST, "/events", &event).await?;
        if (200..=299).contains(&status) {
            // 202 with an empty body: Intercom gives no id for an event.
            Ok(Receipt::default())
        } else {
            Err(refused(status, &headers, &body, "event"))
        }
    }
}

/// When the hub composed the message: the time in its UUIDv7 id (stable across retries).
pub fn composed_at(message_id: &str) -> Option<DateTime<Utc>> {
    let id = uuid::Uuid::parse_str(message_id).ok()?;
    if id.get_version_num() != 7 {
        return None;
    }
    let (secs, _) = id.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

fn contact_id(body: &[u8], what: &str) -> Result<String, DeliveryError> {
    serde_json::from_slice::<ContactAnswer>(body)
        .map(|c| c.id)
        // Nothing but an upsert went out: sending the whole hand-off again is safe.
        .map_err(|_| DeliveryError::Retryable {
            reason: format!("the {what} was accepted, but its answer carries no contact id"),
            retry_after: None,
        })
}

/// What a non-2xx answer means: 401/403 the token was refused; 400/404/422 the named
/// parameter was refused; 429 retryable after `Retry-After` or `X-RateLimit-Reset`; the rest
/// by the kit's table.
pub fn refused(status: u16, headers: &HeaderMap, body: &[u8], what: &str) -> DeliveryError {
    let now = Utc::now();
    let text = String::from_utf8_lossy(body);
    let said = serde_json::from_slice::<ErrorList>(body)
        .ok()
        .and_then(|e| e.describe())
        .unwrap_or_else(|| text.to_string());
    match status {
        401 | 403 => permanent(format!(
            "credential refused: HTTP {status} on the {what}: Intercom did not accept the access token (it needs write access to contacts and events, in this workspace's region): {}",
            excerpt(&said)
        )),
        400 | 404 | 422 => permanent(format!("HTTP {status} on the {what}: {}", excerpt(&said))),
        429 => DeliveryError::Retryable {
            reason: format!("HTTP 429 on the {what}: {}", excerpt(&said)),
            retry_after: cartback_kit::http::retry_after(headers, now)
                .or_else(|| rate_limit_reset(headers, now)),
        },
        _ => match status_error(status, headers, &said, now) {
            DeliveryError::Retryable {
                reason,
                retry_after,
            } => DeliveryError::Retryable {
                reason: format!("{reason} (the {what})"),
                retry_after,
            },
            DeliveryError::Permanent { reason } => permanent(format!("{reason} (the {what})")),
            other => other,
        },
    }
}

/// `X-RateLimit-Reset` (Unix seconds when the window resets) as a wait from `now`, at least a
/// second, at most a day.
fn rate_limit_reset(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let reset: i64 = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let secs = (reset - now.timestamp()).clamp(1, 86_400);
    Some(Duration::from_secs(secs as u64))
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_dates_the_event() {
        let id = uuid::Uuid::now_v7().to_string();
        let at = composed_at(&id).unwrap();
        assert!((Utc::now() - at).num_seconds().abs() <= 1);
        assert_eq!(composed_at("7d0c6a8e-3b1e-4f7a-9c3e-2b9f8f2c0001"), None);
        assert_eq!(composed_at("not-a-uuid"), None);
    }

    #[test]
    fn rate_limit_reset_is_a_wait() {
        let now = Utc::now();
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&(now.timestamp() + 8).to_string()).unwrap(),
        );
        assert_eq!(rate_limit_reset(&h, now), Some(Duration::from_secs(8)));
        match refused(429, &h, b"{}", "event") {
            DeliveryError::Retryable { retry_after, .. } => {
                let d = retry_after.unwrap();
                assert!(
                    d <= Duration::from_secs(8) && d >= Duration::from_secs(6),
                    "{d:?}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
