//! The `[source.<id>]` table for `type = "woocommerce"`.

use cartback_core::duration::HumanDuration;
use cartback_kit::{Secret, SecretList};
use serde::Deserialize;
use std::time::Duration;

/// How often the REST API is polled when `poll_interval` is not set.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// A WooCommerce store: webhooks (`secret`), REST polling (`store_url` + keys), or both.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WooSettings {
    /// The webhook secret (WooCommerce › Settings › Advanced › Webhooks); a list during a
    /// rotation. Required unless the source only polls.
    #[serde(default)]
    pub secret: Option<SecretList>,
    /// The store's base URL (`https://shop.example`). Enables recovery URLs and, with the REST
    /// keys, polling.
    #[serde(default)]
    pub store_url: Option<String>,
    /// REST API consumer key (`ck_...`), read-only is enough.
    #[serde(default)]
    pub consumer_key: Option<Secret>,
    /// REST API consumer secret (`cs_...`).
    #[serde(default)]
    pub consumer_secret: Option<Secret>,
    /// Time between polls when nothing more is pending (default `"5m"`).
    #[serde(default)]
    pub poll_interval: Option<HumanDuration>,
    /// ISO 3166 country for phones without a `+country` prefix; else the billing country is used.
    #[serde(default)]
    pub default_phone_region: Option<String>,
}

impl WooSettings {
    /// Webhook-only settings with `secret` and every other field at its default.
    pub fn new(secret: SecretList) -> Self {
        WooSettings {
            secret: Some(secret),
            ..WooSettings::default()
        }
    }

    /// Whether the REST API can be polled (store URL and both keys set).
    pub fn polls(&self) -> bool {
        self.store_url.is_some() && self.consumer_key.is_some() && self.consumer_secret.is_some()
    }

    /// The poll interval, defaulted.
    pub fn interval(&self) -> Duration {
        self.poll_interval
            .map(|d| d.as_std())
            .unwrap_or(DEFAULT_POLL_INTERVAL)
    }

    /// `store_url` without trailing slashes.
    pub fn base_url(&self) -> Option<&str> {
        self.store_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/'))
            .filter(|u| !u.is_empty())
    }

    /// Pure validation (no I/O): what `check-config` reports.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(secret) = &self.secret {
            if secret.iter().any(|s| s.expose().trim().is_empty()) {
                return Err("secret must not be empty".into());
            }
        }
        match (&self.consumer_key, &self.consumer_secret) {
            (Some(_), None) => return Err("consumer_key needs consumer_secret".into()),
            (None, Some(_)) => return Err("consumer_secret needs consumer_key".into()),
            _ => {}
        }
        if let Some(raw) = &self.store_url {
            let parsed = url::Url::parse(raw.trim())
                .map_err(|e| format!("store_url {raw:?} is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
                return Err(format!(
                    "store_url {raw:?} must be an http(s) URL such as \"https://shop.example\""
                ));
            }
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(format!(
                    "store_url {raw:?} must not have a query or fragment"
                ));
            }
        } else if self.consumer_key.is_some() {
            return Err("consumer_key and consumer_secret need store_url".into());
        }
        if self.secret.is_none() && !self.polls() {
            return Err(
                "set secret (webhooks), or store_url with consumer_key and consumer_secret (polling)"
                    .into(),
            );
        }
        if let Some(d) = &self.poll_interval {
            if d.0.is_zero() {
                return Err("poll_interval must be longer than zero".into());
            }
        }
        if let Some(r) = &self.default_phone_region {
            let two_letters =
                r.trim().len() == 2 && r.trim().bytes().all(|b| b.is_ascii_alphabetic());
            let known = !matches!(
                cartback_core::normalize_phone("1", Some(r)),
                Err(cartback_core::PhoneError::BadRegion(_))
            );
            if !two_letters || !known {
                return Err(format!(
                    "default_phone_region {r:?} is not an ISO 3166 two-letter country code"
                ));
            }
        }
        Ok(())
    }
}
