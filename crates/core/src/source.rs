//! The `Source` trait: how a platform's inbound request becomes normalized events.
//!
//! A request must be verified before it can be translated: [`Source::translate`] takes a
//! [`Verified`], and only [`verify`] in this module constructs one.

use crate::event::Event;
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// The raw inbound HTTP request, exactly as received.
#[derive(Debug, Clone)]
pub struct InboundRequest {
    /// The configured id of the source (the `{source_id}` in `/webhooks/{source_id}`).
    pub source_id: String,
    pub method: http::Method,
    /// The full public URL the platform called (from `server.public_url` plus path and query);
    /// platforms that sign the URL (HubSpot, Twilio) verify against it.
    pub url: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub received_at: DateTime<Utc>,
}

impl InboundRequest {
    /// A header as a string, if present and valid UTF-8. Names are case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first present header among `names`.
    pub fn first_header(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.header(n))
    }
}

/// A request whose signature has been checked.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    request: &'a InboundRequest,
}

impl<'a> Verified<'a> {
    pub fn request(&self) -> &'a InboundRequest {
        self.request
    }
}

impl std::ops::Deref for Verified<'_> {
    type Target = InboundRequest;
    fn deref(&self) -> &InboundRequest {
        self.request
    }
}

/// Verifies `request` with `source`; the only way to obtain a [`Verified`].
pub fn verify<'a>(
    source: &dyn Source,
    request: &'a InboundRequest,
) -> Result<Verified<'a>, VerifyError> {
    source.verify(request)?;
    Ok(Verified { request })
}

/// Why a signature check failed. Every variant answers 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing signature header {0}")]
    MissingHeader(String),
    #[error("signature header {0} is malformed")]
    MalformedHeader(String),
    #[error("signature does not match")]
    Mismatch,
    #[error("timestamp is outside the replay window")]
    Stale,
    #[error("missing credentials")]
    MissingCredentials,
}

/// Why a verified request could not be translated. Answers 400 with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("payload does not fit topic {topic}: {reason}")]
    Schema { topic: String, reason: String },
    #[error("missing header {0}")]
    MissingHeader(String),
    #[error("{0}")]
    Invalid(String),
}

/// The normalized result of one inbound request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Translation {
    /// Delivery ids of this request (any of which already seen makes the request a duplicate).
    pub delivery_ids: Vec<String>,
    /// The topic as the platform named it.
    pub topic: String,
    pub events: Vec<Event>,
    /// Set when the topic is one the hub does not use: answered 200 so the platform does not retry.
    pub ignored: Option<String>,
}

impl Translation {
    pub fn ignored(topic: impl Into<String>, reason: impl Into<String>) -> Self {
        Translation {
            topic: topic.into(),
            ignored: Some(reason.into()),
            ..Default::default()
        }
    }
}

/// How far the hub believes what a request says about who a shopper is.
///
/// A key that ships in a shop's page (a Segment browser write key) is public: anyone can send
/// with it, for any address. What such a request says is a claim: its emails and phones are
/// stored, but never sent to until a [`Trust::Verified`] source reports the same address, and
/// its consent claims are ignored (see docs/SECURITY.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Signed by the platform, or sent with a key only the shop's servers hold.
    #[default]
    Verified,
    /// Sent with a key anyone can read: contact details are claims until vouched for.
    Claimed,
}

impl Trust {
    pub fn as_str(&self) -> &'static str {
        match self {
            Trust::Verified => "verified",
            Trust::Claimed => "claimed",
        }
    }
}

/// An answer given before any signature check (WooCommerce's unsigned creation ping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// A platform that sends the hub carts, orders and contacts.
pub trait Source: Send + Sync + std::fmt::Debug {
    /// The config `type` (`"shopify"`).
    fn kind(&self) -> &'static str;

    /// Extra paths at the root of the hub this source answers besides `/webhooks/{source_id}`
    /// (the Segment-compatible `/v1/batch`, `/v1/track`, ...). `POST` only. When several sources
    /// mount the same path, the first whose `verify` accepts the request takes it.
    fn mounts(&self) -> Vec<String> {
        Vec::new()
    }

    /// A reply to give before verification, for platforms that send an unsigned handshake.
    fn handshake(&self, _request: &InboundRequest) -> Option<Handshake> {
        None
    }

    /// Checks the signature over the raw body and headers. Never parses the body first.
    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError>;

    /// What [`Source::verify`] checks, for the 401 a caller with a wrong signature reads: the
    /// header, the algorithm, what is signed and which setting holds the key (never the key
    /// itself). `url` is the URL the request came to (for platforms that sign the URL).
    fn scheme(&self, _url: &str) -> String {
        format!(
            "the signature scheme of a `{}` source (docs/CONNECTORS.md)",
            self.kind()
        )
    }

    /// Translates a verified request into normalized events.
    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError>;

    /// How far this verified request is believed about who a shopper is: [`Trust::Verified`]
    /// unless the credential it carries is public (a browser write key).
    fn trust(&self, _request: Verified<'_>) -> Trust {
        Trust::Verified
    }
}

/// What one poll of a platform's API returned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollBatch {
    /// Normalized events; each `event_id` must be stable (the store dedupes on it).
    pub events: Vec<Event>,
    /// Where the next poll starts; stored in the same transaction as `events`.
    pub cursor: Option<String>,
    /// True when the platform has more right now (poll again without waiting).
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    /// Try again later (network, 429, 5xx), after `retry_after` when the platform said.
    #[error("retryable: {reason}")]
    Retryable {
        reason: String,
        retry_after: Option<std::time::Duration>,
    },
    /// Will not work until the configuration changes (401, 403, 404).
    #[error("permanent: {reason}")]
    Permanent { reason: String },
}

/// A platform the hub reads through its API (Magento, WooCommerce without webhooks, backfills).
#[async_trait::async_trait]
pub trait Poller: Send + Sync + std::fmt::Debug {
    /// The config `type`.
    fn kind(&self) -> &'static str;

    /// How long to wait between polls when nothing more is pending.
    fn interval(&self) -> std::time::Duration;

    /// Reads what changed since `cursor` (`None`: from the configured start). `source_id` goes into
    /// every event; `now` is the engine clock.
    async fn poll(
        &self,
        source_id: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<PollBatch, PollError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct AlwaysNo;
    impl Source for AlwaysNo {
        fn kind(&self) -> &'static str {
            "no"
        }
        fn verify(&self, _: &InboundRequest) -> Result<(), VerifyError> {
            Err(VerifyError::Mismatch)
        }
        fn translate(&self, _: Verified<'_>) -> Result<Translation, TranslateError> {
            Ok(Translation::default())
        }
    }

    #[test]
    fn verify_gates_translation() {
        let req = InboundRequest {
            source_id: "s".into(),
            method: http::Method::POST,
            url: "http://x/webhooks/s".into(),
            headers: http::HeaderMap::new(),
            body: Bytes::from_static(b"{}"),
            received_at: Utc::now(),
        };
        assert_eq!(verify(&AlwaysNo, &req).unwrap_err(), VerifyError::Mismatch);
    }
}
