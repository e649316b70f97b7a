//! The `[source.<id>]` table for `type = "klaviyo"`.

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, SecretList};
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

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secrets("secret", &self.secret));
        out.extend(settings::positive("max_age", self.max_age()));
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
        let s: KlaviyoSettings = serde_json::from_value(serde_json::json!({
            "secret": ["pk_new", " "],
            "max_age": "0s"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["secret", "max_age"]);
        assert_eq!(s.validate(), Err("secret must not be empty".to_string()));
    }
}
