//! The `[source.<id>]` table for `type = "hubspot"`.

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, SecretList};
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

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secrets("client_secret", &self.client_secret));
        if let Some(d) = self.max_age {
            out.extend(settings::positive("max_age", d.0));
        }
        out
    }

    /// The first of [`Self::problems`] as one line (`"client_secret must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: HubSpotSettings = serde_json::from_value(serde_json::json!({
            "client_secret": " ",
            "max_age": "0s"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["client_secret", "max_age"]);
        assert_eq!(
            s.validate(),
            Err("client_secret must not be empty".to_string())
        );
    }
}
