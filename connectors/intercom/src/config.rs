//! The `[channel.<id>]` table for `type = "intercom"`: [`IntercomSettings`] and its pure
//! validation (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// The `Intercom-Version` sent unless `api_version` says otherwise (the newest version the
/// official Node SDK names).
pub const DEFAULT_API_VERSION: &str = "2.11";

/// The reminder's event name unless `event_name` says otherwise.
pub const DEFAULT_EVENT_NAME: &str = "abandoned-cart";

/// The purchase's event name unless `converted_event_name` says otherwise.
pub const DEFAULT_CONVERTED_EVENT_NAME: &str = "cart-recovered";

/// Where the workspace's data lives: Intercom hosts each region apart, and a token works only
/// against its own region's host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    #[default]
    Us,
    Eu,
    Au,
}

impl Region {
    pub fn base_url(&self) -> &'static str {
        match self {
            Region::Us => "https://api.intercom.io",
            Region::Eu => "https://api.eu.intercom.io",
            Region::Au => "https://api.au.intercom.io",
        }
    }
}

/// What a contact the hub creates is: a `user` (default) or a `lead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactRole {
    #[default]
    User,
    Lead,
}

impl ContactRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            ContactRole::User => "user",
            ContactRole::Lead => "lead",
        }
    }
}

/// An Intercom hand-off channel. `Debug` shows the token as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntercomSettings {
    /// An access token with write permission for contacts and events (Developer Hub → your
    /// app → Authentication), sent as `Authorization: Bearer`.
    pub access_token: Secret,
    /// The workspace's region (default `us`).
    #[serde(default)]
    pub region: Region,
    /// Overrides the region's host (tests point it at a local server).
    #[serde(default)]
    pub base_url: Option<String>,
    /// `Intercom-Version` (default [`DEFAULT_API_VERSION`]).
    #[serde(default)]
    pub api_version: Option<String>,
    /// The role of a contact the hub creates (default `user`).
    #[serde(default)]
    pub role: ContactRole,
    /// The reminder's event (default [`DEFAULT_EVENT_NAME`]).
    #[serde(default)]
    pub event_name: Option<String>,
    /// The purchase's event (default [`DEFAULT_CONVERTED_EVENT_NAME`]).
    #[serde(default)]
    pub converted_event_name: Option<String>,
}

impl IntercomSettings {
    /// Settings with `access_token` and every other field at its default.
    pub fn new(access_token: Secret) -> Self {
        IntercomSettings {
            access_token,
            region: Region::default(),
            base_url: None,
            api_version: None,
            role: ContactRole::default(),
            event_name: None,
            converted_event_name: None,
        }
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        non_blank(self.base_url.as_deref())
            .unwrap_or(self.region.base_url())
            .trim_end_matches('/')
    }

    pub fn api_version(&self) -> &str {
        non_blank(self.api_version.as_deref()).unwrap_or(DEFAULT_API_VERSION)
    }

    pub fn event_name(&self) -> &str {
        non_blank(self.event_name.as_deref()).unwrap_or(DEFAULT_EVENT_NAME)
    }

    pub fn converted_event_name(&self) -> &str {
        non_blank(self.converted_event_name.as_deref()).unwrap_or(DEFAULT_CONVERTED_EVENT_NAME)
    }

    /// Every problem, each at its key path (pure: no I/O).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secret("access_token", &self.access_token));
        if let Some(raw) = self.base_url.as_deref() {
            out.extend(settings::site_url("base_url", raw).err());
        }
        if let Some(v) = self.api_version.as_deref() {
            let ok = v == "Unstable"
                || v.split_once('.').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && a.bytes().all(|c| c.is_ascii_digit())
                        && b.bytes().all(|c| c.is_ascii_digit())
                });
            if !ok {
                out.push(Problem::new(
                    "api_version",
                    format!("{v:?} must be an Intercom API version such as \"2.11\""),
                ));
            }
        }
        for (key, value) in [
            ("event_name", &self.event_name),
            ("converted_event_name", &self.converted_event_name),
        ] {
            if let Some(v) = value.as_deref() {
                if v.trim().is_empty() {
                    out.push(Problem::new(
                        key,
                        "must not be empty (leave it out for the default)",
                    ));
                } else if v.chars().count() > 255 || v.chars().any(char::is_control) {
                    out.push(Problem::new(
                        key,
                        "must be at most 255 characters, without control characters",
                    ));
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: IntercomSettings = serde_json::from_value(serde_json::json!({
            "access_token": " ",
            "base_url": "api.intercom.io",
            "api_version": "v2",
            "event_name": "",
            "converted_event_name": "x".repeat(256),
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "access_token",
                "base_url",
                "api_version",
                "event_name",
                "converted_event_name"
            ]
        );
    }

    #[test]
    fn regions_and_defaults() {
        let mut s = IntercomSettings::new(Secret::new("tok-1234567890"));
        assert!(s.problems().is_empty());
        assert_eq!(s.base_url(), "https://api.intercom.io");
        assert_eq!(s.api_version(), "2.11");
        assert_eq!(s.event_name(), "abandoned-cart");
        assert_eq!(s.converted_event_name(), "cart-recovered");
        s.region = Region::Eu;
        assert_eq!(s.base_url(), "https://api.eu.intercom.io");
        s.region = Region::Au;
        assert_eq!(s.base_url(), "https://api.au.intercom.io");
        s.base_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(s.base_url(), "http://127.0.0.1:9");
    }
}
