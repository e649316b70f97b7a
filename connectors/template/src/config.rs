//! The `[source.<id>]` table for `type = "template"`.

use cartback_core::duration::HumanDuration;
use cartback_core::{Currency, Problem};
use cartback_kit::SecretList;
use serde::Deserialize;
use std::time::Duration;

fn default_max_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(5 * 60))
}

/// An Acme source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    /// The webhook signing secret; a list during a rotation.
    pub secret: SecretList,
    /// Deliveries whose `X-Acme-Timestamp` is further than this from now are refused.
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
    /// ISO 4217 code for bodies without a currency (default `"USD"`).
    #[serde(default)]
    pub default_currency: Option<String>,
}

impl TemplateSettings {
    /// Settings with `secret` and every other field at its default.
    pub fn new(secret: SecretList) -> Self {
        TemplateSettings {
            secret,
            max_age: default_max_age(),
            default_currency: None,
        }
    }

    /// Every problem, each at its key path (pure: no I/O). `cartback_kit::settings` has the
    /// checks connectors share (secrets, durations, currencies, phone regions, site URLs).
    pub fn problems(&self) -> Vec<Problem> {
        use cartback_kit::settings;
        [
            settings::secrets("secret", &self.secret),
            settings::positive("max_age", self.max_age.0),
            settings::currency("default_currency", self.default_currency.as_deref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The currency for bodies without one.
    pub fn currency(&self) -> Currency {
        self.default_currency
            .as_deref()
            .and_then(|c| Currency::parse(c).ok())
            .unwrap_or_else(|| Currency::parse("USD").expect("USD is three ASCII letters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: TemplateSettings = serde_json::from_value(
            serde_json::json!({ "secret": " ", "max_age": "0s", "default_currency": "dollars" }),
        )
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["secret", "max_age", "default_currency"]);
    }
}
