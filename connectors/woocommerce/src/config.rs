//! The `[source.<id>]` table for `type = "woocommerce"`.

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, Secret, SecretList};
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

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(secret) = &self.secret {
            out.extend(settings::secrets("secret", secret));
        }
        match (&self.consumer_key, &self.consumer_secret) {
            (Some(_), None) => out.push(Problem::new("consumer_key", "needs consumer_secret")),
            (None, Some(_)) => out.push(Problem::new("consumer_secret", "needs consumer_key")),
            _ => {}
        }
        if let Some(raw) = &self.store_url {
            out.extend(settings::site_url("store_url", raw).err());
        } else if self.consumer_key.is_some() {
            out.push(Problem::new(
                "store_url",
                "must be set: consumer_key and consumer_secret need it",
            ));
        }
        if self.secret.is_none() && !self.polls() {
            out.push(Problem::new(
                "",
                "set secret (webhooks), or store_url with consumer_key and consumer_secret (polling)",
            ));
        }
        if let Some(d) = self.poll_interval {
            out.extend(settings::positive("poll_interval", d.0));
        }
        out.extend(settings::phone_region(
            "default_phone_region",
            self.default_phone_region.as_deref(),
        ));
        out
    }

    /// The first of [`Self::problems`] as one line (`"secret must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: WooSettings = serde_json::from_value(serde_json::json!({
            "secret": " ",
            "store_url": "https://shop.example/?a=1",
            "consumer_key": "ck_1",
            "poll_interval": "0s",
            "default_phone_region": "USA"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "secret",
                "consumer_key",
                "store_url",
                "poll_interval",
                "default_phone_region"
            ]
        );
        assert_eq!(s.validate(), Err("secret must not be empty".to_string()));
        let nothing = WooSettings::default().problems();
        assert_eq!(nothing.len(), 1);
        assert_eq!(nothing[0].path, "");
    }
}
