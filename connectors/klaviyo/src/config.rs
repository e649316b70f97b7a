//! The `[source.<id>]` table for `type = "klaviyo"`.

use cartback_core::duration::HumanDuration;
use cartback_kit::SecretList;
use serde::Deserialize;
use std::time::Duration;

/// How far `Klaviyo-Timestamp` may be from the time of receipt when `max_age` is unset.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// A Klaviyo source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KlaviyoSettings {
    /// The system webhook's `secret_key`; flow webhooks send the same value in
    /// `X-Cartback-Secret`. A list during a rotation.
    pub secret: SecretList,
    /// Signed deliveries whose `Klaviyo-Timestamp` is further than this from now are refused
    /// (default `"10m"`).
    #[serde(default)]
    pub max_age: Option<HumanDuration>,
}

impl KlaviyoSettings {
    /// Settings with `secret` and every other field at its default.
    pub fn new(secret: SecretList) -> Self {
        KlaviyoSettings {
            secret,
            max_age: None,
        }
    }

    /// The timestamp window: `max_age`, else 10 minutes.
    pub fn max_age(&self) -> Duration {
        self.max_age.map_or(DEFAULT_MAX_AGE, |d| d.0)
    }

    /// Pure validation (no I/O): what `check-config` reports.
    pub fn validate(&self) -> Result<(), String> {
        if self.secret.iter().any(|s| s.expose().trim().is_empty()) {
            return Err("secret must not be empty".into());
        }
        if self.max_age().is_zero() {
            return Err("max_age must be longer than zero".into());
        }
        Ok(())
    }
}
