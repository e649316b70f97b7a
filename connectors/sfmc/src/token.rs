//! [`TokenCache`]: the OAuth2 client-credentials token of one channel, shared by every delivery.
//!
//! - One fetch at a time: the cache is a `tokio::sync::Mutex` held across the fetch, so many
//!   deliveries that find no fresh token wait for the one fetch and all use its token.
//! - Kept until shortly before it expires: [`REFRESH_MARGIN_SECS`] before `expires_in` runs out
//!   (half its life for a token shorter than twice the margin).
//! - Dropped when refused: [`TokenCache::refused`] forgets the token a 401 came back for (only
//!   that one: a token another delivery already replaced stays), so the next [`TokenCache::get`]
//!   fetches a new one.
//!
//! A token request that fails in transport never sent the event, so it is always retryable.

use crate::config::SfmcSettings;
use crate::payload::{TokenAnswer, TokenError, TokenRequest};
use cartback_core::{Clock, DeliveryError};
use cartback_kit::http::{permanent, status_error};
use cartback_kit::Secret;
use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::sync::Arc;
use tokio::sync::Mutex;

/// A token is fetched again this long before it expires.
pub const REFRESH_MARGIN_SECS: u64 = 60;

/// The lifetime assumed when the answer gives no `expires_in` (a token lives 20 minutes and
/// the auth host says about 1080 s).
pub const DEFAULT_EXPIRES_IN_SECS: u64 = 1080;

/// A token and where it is used. `Debug` shows the token as `Secret(***)`.
#[derive(Debug, Clone)]
pub struct Token {
    pub access_token: Secret,
    /// The REST host, without a trailing slash.
    pub rest_base_url: String,
    /// When it is fetched again.
    pub refresh_at: DateTime<Utc>,
    /// Which fetch it came from (1 for the first), so a refusal forgets only this one.
    pub fetch: u64,
}

#[derive(Debug, Default)]
struct Slot {
    token: Option<Token>,
    fetches: u64,
}

/// The channel's token. `Debug` shows no credential.
#[derive(Debug)]
pub struct TokenCache {
    settings: SfmcSettings,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    slot: Mutex<Slot>,
}

impl TokenCache {
    pub fn new(settings: SfmcSettings, client: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        TokenCache {
            settings,
            client,
            clock,
            slot: Mutex::new(Slot::default()),
        }
    }

    /// A fresh token: the cached one, or one fetched now (other callers wait for that fetch).
    pub async fn get(&self) -> Result<Token, DeliveryError> {
        let mut slot = self.slot.lock().await;
        if let Some(token) = slot.token.as_ref() {
            if self.clock.now() < token.refresh_at {
                return Ok(token.clone());
            }
        }
        slot.token = None;
        let fetch = slot.fetches + 1;
        let token = self.fetch(fetch).await?;
        slot.fetches = fetch;
        slot.token = Some(token.clone());
        Ok(token)
    }

    /// Forgets `token` after the REST host refused it (unless a newer one replaced it already).
    pub async fn refused(&self, token: &Token) {
        let mut slot = self.slot.lock().await;
        if slot.token.as_ref().is_some_and(|t| t.fetch == token.fetch) {
            slot.token = None;
        }
    }

    /// How many tokens were fetched so far.
    pub async fn fetches(&self) -> u64 {
        self.slot.lock().await.fetches
    }

    async fn fetch(&self, fetch: u64) -> Result<Token, DeliveryError> {
        let s = &self.settings;
        let body = TokenRequest {
            grant_type: "client_credentials",
            client_id: s.client_id.trim(),
            client_secret: s.client_secret.expose().trim(),
            account_id: s.account_id(),
            scope: s.scope(),
        };
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| permanent(format!("cannot encode the token request: {e}")))?;
        let response = self
            .client
            .post(s.token_url())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable {
                reason: format!("the token request failed (the event was not sent): {e}"),
                retry_after: None,
            })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(token_refused(status, &headers, &text, self.clock.now()));
        }
        let answer: TokenAnswer =
            serde_json::from_str(&text).map_err(|e| DeliveryError::Retryable {
                reason: format!("the auth host's token answer could not be read: {e}"),
                retry_after: None,
            })?;
        let rest_base_url = match (s.rest_base_url(), answer.rest_instance_url.as_deref()) {
            (Some(url), _) => url,
            (None, Some(url)) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_string(),
            _ => {
                return Err(permanent(
                    "the token answer names no rest_instance_url: set rest_base_url to the package's REST Base URI",
                ))
            }
        };
        let lifetime = answer.expires_in.unwrap_or(DEFAULT_EXPIRES_IN_SECS);
        let keep = lifetime
            .saturating_sub(REFRESH_MARGIN_SECS)
            .max(lifetime / 2);
        tracing::debug!(
            fetch,
            expires_in = lifetime,
            "Fetched a Marketing Cloud access token."
        );
        Ok(Token {
            access_token: answer.access_token,
            rest_base_url,
            refresh_at: self.clock.now()
                + chrono::Duration::seconds(i64::try_from(keep).unwrap_or(i64::MAX / 2_000)),
            fetch,
        })
    }
}

/// What a refused token request means: 401/403, and 400 `invalid_client` / `unauthorized_client`
/// / `invalid_grant`, are a refused credential; another 400 names the error; 429 and 5xx are
/// retryable by the kit's table.
pub fn token_refused(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    now: DateTime<Utc>,
) -> DeliveryError {
    let parsed = serde_json::from_str::<TokenError>(body).unwrap_or_default();
    let said = parsed.describe().unwrap_or_else(|| excerpt(body));
    let credential = matches!(status, 401 | 403)
        || matches!(
            parsed.error.as_deref(),
            Some("invalid_client" | "unauthorized_client" | "invalid_grant")
        );
    if credential {
        return permanent(format!(
            "credential refused: HTTP {status} from the auth host: Marketing Cloud did not accept the client id and secret (or the MID / scope): {}",
            excerpt(&said)
        ));
    }
    match status_error(status, headers, &said, now) {
        DeliveryError::Retryable {
            reason,
            retry_after,
        } => DeliveryError::Retryable {
            reason: format!("{reason} (the token request)"),
            retry_after,
        },
        DeliveryError::Permanent { reason } => permanent(format!("{reason} (the token request)")),
        other => other,
    }
}

pub(crate) fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out.replace(['\n', '\r'], " ")
}
