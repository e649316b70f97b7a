//! The `[sink.<id>]` table for `type = "webhook"`.

use crate::signature::signing_key;
use cartback_kit::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Headers the sink sets itself; `headers` may not override them.
pub const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
];

/// A webhook receiver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where each message is posted: an `http` or `https` URL.
    pub url: String,
    /// A Standard Webhooks secret `whsec_<base64 key>`, or any other string used as raw key bytes.
    pub secret: Secret,
    /// Extra static headers sent with every request (an API key the receiver expects, say).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl WebhookSettings {
    /// Settings for `url` and `secret` without extra headers.
    pub fn new(url: impl Into<String>, secret: Secret) -> Self {
        WebhookSettings {
            url: url.into(),
            secret,
            headers: BTreeMap::new(),
        }
    }

    /// Pure validation (no I/O): what `check-config` reports.
    pub fn validate(&self) -> Result<(), String> {
        self.parsed_url()?;
        signing_key(&self.secret)?;
        for (name, value) in &self.headers {
            if http::HeaderName::try_from(name.as_str()).is_err() {
                return Err(format!("headers: {name:?} is not a valid header name"));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!("headers: {name:?} is set by the sink itself"));
            }
            if http::HeaderValue::try_from(value.as_str()).is_err() {
                return Err(format!(
                    "headers: the value of {name:?} is not a valid header value"
                ));
            }
        }
        Ok(())
    }

    /// `url` parsed; only `http` and `https` URLs with a host and no credentials are accepted.
    pub fn parsed_url(&self) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(self.url.trim())
            .map_err(|e| format!("url {:?} is not a valid URL: {e}", self.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("url {:?} must be an http or https URL", self.url));
        }
        match url.host_str() {
            Some(h) if !h.is_empty() => {}
            _ => return Err(format!("url {:?} has no host", self.url)),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("url must not embed credentials; use headers instead".into());
        }
        Ok(url)
    }
}
