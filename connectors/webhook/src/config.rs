//! The `[channel.<id>]` table for `type = "webhook"`.

use crate::signature::signing_key;
use cartback_core::Problem;
use cartback_kit::{settings, Secret};
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

/// A webhook receiver. `Debug` shows the header names, never their values (API keys).
#[derive(Clone, Deserialize)]
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

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("secret", &self.secret)
            .field(
                "headers",
                &self
                    .headers
                    .keys()
                    .map(|k| (k, "***"))
                    .collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
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

    /// Every problem, each at its key path (`headers.X-Api-Key`; pure: no I/O): what
    /// `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(self.url().err());
        if let Err(e) = signing_key(&self.secret) {
            // signing_key's messages name the key first ("secret must not be empty").
            let message = e.strip_prefix("secret ").unwrap_or(&e);
            out.push(Problem::new("secret", message));
        }
        for (name, value) in &self.headers {
            let at = settings::key_path("headers", name);
            if http::HeaderName::try_from(name.as_str()).is_err() {
                out.push(Problem::new(at, "is not a valid header name"));
            } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                out.push(Problem::new(at, "is set by the sink itself"));
            } else if http::HeaderValue::try_from(value.as_str()).is_err() {
                out.push(Problem::new(at, "is not a valid header value"));
            }
        }
        out
    }

    /// The first of [`Self::problems`] as one line (`"url must not embed credentials; ..."`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }

    /// `url` parsed; only `http` and `https` URLs with a host and no credentials are accepted.
    pub fn parsed_url(&self) -> Result<reqwest::Url, String> {
        self.url().map_err(|p| settings::line(&p))
    }

    fn url(&self) -> Result<reqwest::Url, Problem> {
        let raw = &self.url;
        let url = reqwest::Url::parse(raw.trim())
            .map_err(|e| Problem::new("url", format!("{raw:?} is not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Problem::new(
                "url",
                format!("{raw:?} must be an http or https URL"),
            ));
        }
        match url.host_str() {
            Some(h) if !h.is_empty() => {}
            _ => return Err(Problem::new("url", format!("{raw:?} has no host"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Problem::new(
                "url",
                "must not embed credentials; use headers instead",
            ));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let mut s = WebhookSettings::new(
            "https://user:pass@example.com/hook",
            Secret::new("whsec_%%%"),
        );
        s.headers.insert("X-Key".into(), "a\r\nb".into());
        s.headers.insert("Bad Header".into(), "v".into());
        s.headers
            .insert("Webhook-Signature".into(), "forged".into());
        s.headers.insert("X-Fine".into(), "ok".into());
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "url",
                "secret",
                "headers.\"Bad Header\"",
                "headers.Webhook-Signature",
                "headers.X-Key"
            ]
        );
        assert_eq!(
            s.validate(),
            Err("url must not embed credentials; use headers instead".to_string())
        );
        assert_eq!(
            s.problems()[1].message,
            "starts with \"whsec_\" but the rest is not base64"
        );
    }

    #[test]
    fn debug_never_shows_header_values() {
        let mut s = WebhookSettings::new(
            "https://hooks.example/x",
            cartback_kit::Secret::new("whsec_c2VjcmV0LWtleS0xMjM0NTY3OA=="),
        );
        s.headers
            .insert("X-Api-Key".into(), "key-that-must-not-leak-123".into());
        let shown = format!("{s:?}");
        assert!(shown.contains("X-Api-Key"), "{shown}");
        assert!(!shown.contains("key-that-must-not-leak-123"), "{shown}");
    }
}
