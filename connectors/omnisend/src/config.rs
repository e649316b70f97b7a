//! The `[channel.<id>]` table for `type = "omnisend"`: [`OmnisendSettings`] and its pure
//! validation (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// Where Omnisend's API lives unless `base_url` says otherwise (one host for every brand).
pub const DEFAULT_BASE_URL: &str = "https://api.omnisend.com";

/// The recommended event Omnisend's checkout-abandonment automation starts on.
pub const STARTED_CHECKOUT: &str = "started checkout";

/// The recommended event that cancels the checkout-abandonment automation.
pub const PLACED_ORDER: &str = "placed order";

/// The longest event name accepted here (Omnisend lists names in its automation picker).
pub const MAX_EVENT_NAME_LEN: usize = 128;

/// An Omnisend hand-off channel. `Debug` shows the key as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OmnisendSettings {
    /// An API key (Store settings → Integrations & API → API keys) with the events write scope.
    pub api_key: Secret,
    /// Defaults to [`DEFAULT_BASE_URL`]; tests point it at a local server.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The event a reminder hand-off sends (default [`STARTED_CHECKOUT`]). Another name makes it
    /// a custom event: the automation must then start on that custom event.
    #[serde(default)]
    pub event_name: Option<String>,
    /// The event sent when a handed-off cart was bought (default [`PLACED_ORDER`]).
    #[serde(default)]
    pub converted_event_name: Option<String>,
    /// The event's `origin` (default `"api"`, what Omnisend asks of custom stores).
    #[serde(default)]
    pub origin: Option<String>,
}

impl OmnisendSettings {
    /// Settings with `api_key` and every other field at its default.
    pub fn new(api_key: Secret) -> Self {
        OmnisendSettings {
            api_key,
            base_url: None,
            event_name: None,
            converted_event_name: None,
            origin: None,
        }
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        non_blank(self.base_url.as_deref())
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
    }

    /// `{base_url}/v5/events`.
    pub fn events_url(&self) -> String {
        format!("{}/v5/events", self.base_url())
    }

    /// The reminder's event name.
    pub fn event_name(&self) -> &str {
        non_blank(self.event_name.as_deref()).unwrap_or(STARTED_CHECKOUT)
    }

    /// The purchase's event name.
    pub fn converted_event_name(&self) -> &str {
        non_blank(self.converted_event_name.as_deref()).unwrap_or(PLACED_ORDER)
    }

    /// The events' `origin`.
    pub fn origin(&self) -> &str {
        non_blank(self.origin.as_deref()).unwrap_or("api")
    }

    /// Every problem, each at its key path (pure: no I/O).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secret("api_key", &self.api_key));
        if let Some(raw) = self.base_url.as_deref() {
            out.extend(settings::site_url("base_url", raw).err());
        }
        for (key, value) in [
            ("event_name", &self.event_name),
            ("converted_event_name", &self.converted_event_name),
            ("origin", &self.origin),
        ] {
            out.extend(name_problem(key, value.as_deref()));
        }
        out
    }

    /// The first of [`Self::problems`] as one line.
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn name_problem(key: &str, value: Option<&str>) -> Option<Problem> {
    let v = value?;
    if v.trim().is_empty() {
        Some(Problem::new(
            key,
            "must not be empty (leave it out for the default)",
        ))
    } else if v.chars().count() > MAX_EVENT_NAME_LEN {
        Some(Problem::new(
            key,
            format!("must be at most {MAX_EVENT_NAME_LEN} characters"),
        ))
    } else if v.chars().any(char::is_control) {
        Some(Problem::new(key, "must not contain control characters"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: OmnisendSettings = serde_json::from_value(serde_json::json!({
            "api_key": " ",
            "base_url": "ftp://api.omnisend.com",
            "event_name": "",
            "converted_event_name": "x".repeat(129),
            "origin": "a\nb",
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "api_key",
                "base_url",
                "event_name",
                "converted_event_name",
                "origin"
            ]
        );
    }

    #[test]
    fn defaults() {
        let s = OmnisendSettings::new(Secret::new("key-1234567890"));
        assert_eq!(s.events_url(), "https://api.omnisend.com/v5/events");
        assert_eq!(s.event_name(), "started checkout");
        assert_eq!(s.converted_event_name(), "placed order");
        assert_eq!(s.origin(), "api");
        assert!(s.problems().is_empty());
    }
}
