//! The `[source.<id>]` table for `type = "hubspot"`.

use cartback_core::duration::HumanDuration;
use cartback_kit::SecretList;
use serde::Deserialize;
use std::time::Duration;

/// HubSpot's own limit on `X-HubSpot-Request-Timestamp` age (the SDKs' `MAX_ALLOWED_TIMESTAMP`).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// A HubSpot app's webhook subscription.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotSettings {
    /// The app's client secret (app settings › Auth); a list during a rotation.
    pub client_secret: SecretList,
    /// v3 requests whose `X-HubSpot-Request-Timestamp` is further than this from receipt are
    /// refused (default `"5m"`).
    #[serde(default)]
    pub max_age: Option<HumanDuration>,
}

impl HubSpotSettings {
    /// Settings with `client_secret` and every other field at its default.
    pub fn new(client_secret: SecretList) -> Self {
        HubSpotSettings {
            client_secret,
            max_age: None,
        }
    }

    /// The replay window, defaulted.
    pub fn max_age(&self) -> Duration {
        self.max_age.map(|d| d.as_std()).unwrap_or(DEFAULT_MAX_AGE)
    }

    /// Pure validation (no I/O): what `check-config` reports.
    pub fn validate(&self) -> Result<(), String> {
        if self
            .client_secret
            .iter()
            .any(|s| s.expose().trim().is_empty())
        {
            return Err("client_secret must not be empty".into());
        }
        if self.max_age.is_some_and(|d| d.0.is_zero()) {
            return Err("max_age must be longer than zero".into());
        }
        Ok(())
    }
}
