//! The `[channel.<id>]` table for `type = "webengage"`: [`WebEngageSettings`] and its pure
//! validation (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// The reminder's event unless `event_name` says otherwise.
pub const CART_ABANDONED: &str = "Cart Abandoned";

/// The purchase's event unless `converted_event_name` says otherwise.
pub const CART_RECOVERED: &str = "Cart Recovered";

/// WebEngage's event names must be shorter than 50 characters.
pub const MAX_EVENT_NAME_LEN: usize = 49;

/// Which id becomes WebEngage's `userId` (the id a known user is logged in with).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserId {
    /// The contact's email; the phone when there is none.
    #[default]
    Email,
    /// The hub's contact id.
    Hub,
    /// The shop platform's customer id (what a storefront SDK's `login` usually sets), else
    /// the email.
    Platform,
}

/// A WebEngage hand-off channel. `Debug` shows the key as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebEngageSettings {
    /// The account's licence code (Data Platform → Integrations → REST API).
    pub license_code: String,
    /// An account admin's REST API key (with Account Management and Update Data).
    pub api_key: Secret,
    /// The licence code's data centre: `"global"` (default), `"in"` or `"ksa"`.
    #[serde(default)]
    pub data_center: Option<String>,
    /// Overrides the data centre's host (tests point it at a local server).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The reminder's event (default [`CART_ABANDONED`]).
    #[serde(default)]
    pub event_name: Option<String>,
    /// The purchase's event (default [`CART_RECOVERED`]).
    #[serde(default)]
    pub converted_event_name: Option<String>,
    /// Which id is the WebEngage `userId` (default `email`).
    #[serde(default)]
    pub user_id: UserId,
}

impl WebEngageSettings {
    /// Settings for `license_code`, every other field at its default.
    pub fn new(license_code: impl Into<String>, api_key: Secret) -> Self {
        WebEngageSettings {
            license_code: license_code.into(),
            api_key,
            data_center: None,
            base_url: None,
            event_name: None,
            converted_event_name: None,
            user_id: UserId::default(),
        }
    }

    /// The API root without a trailing slash: `base_url`, else the data centre's host.
    pub fn base_url(&self) -> String {
        if let Some(b) = non_blank(self.base_url.as_deref()) {
            return b.trim_end_matches('/').to_string();
        }
        data_center_host(self.data_center.as_deref().unwrap_or("global"))
            .unwrap_or("https://api.webengage.com")
            .to_string()
    }

    /// `{base}/v1/accounts/{licence}/users`.
    pub fn users_url(&self) -> String {
        format!(
            "{}/v1/accounts/{}/users",
            self.base_url(),
            self.license_code.trim()
        )
    }

    /// `{base}/v1/accounts/{licence}/events`.
    pub fn events_url(&self) -> String {
        format!(
            "{}/v1/accounts/{}/events",
            self.base_url(),
            self.license_code.trim()
        )
    }

    /// The reminder's event name.
    pub fn event_name(&self) -> &str {
        non_blank(self.event_name.as_deref()).unwrap_or(CART_ABANDONED)
    }

    /// The purchase's event name.
    pub fn converted_event_name(&self) -> &str {
        non_blank(self.converted_event_name.as_deref()).unwrap_or(CART_RECOVERED)
    }

    /// Every problem, each at its key path (pure: no I/O).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let lc = self.license_code.trim();
        if lc.is_empty() {
            out.push(Problem::new("license_code", "must not be empty"));
        } else if !lc
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '~' || c == '-' || c == '_')
        {
            out.push(Problem::new(
                "license_code",
                format!(
                    "{lc:?} must be the licence code as WebEngage shows it (letters, digits, '~')"
                ),
            ));
        }
        out.extend(settings::secret("api_key", &self.api_key));
        if let Some(dc) = self.data_center.as_deref() {
            if data_center_host(dc).is_none() {
                out.push(Problem::new(
                    "data_center",
                    format!("{dc:?} is not a WebEngage data centre: \"global\", \"in\" or \"ksa\""),
                ));
            }
        }
        if let Some(raw) = self.base_url.as_deref() {
            out.extend(settings::site_url("base_url", raw).err());
        }
        for (key, value) in [
            ("event_name", &self.event_name),
            ("converted_event_name", &self.converted_event_name),
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

/// `"global"`/`"us"`, `"in"`/`"india"`, `"ksa"` → the REST API host.
pub fn data_center_host(raw: &str) -> Option<&'static str> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "global" | "us" | "default" => Some("https://api.webengage.com"),
        "in" | "india" => Some("https://api.in.webengage.com"),
        "ksa" | "sa" => Some("https://api.ksa.webengage.com"),
        _ => None,
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
            "must be shorter than 50 characters (WebEngage's limit)",
        ))
    } else if v.chars().any(char::is_control) {
        Some(Problem::new(key, "must not contain control characters"))
    } else if v.trim().to_ascii_lowercase().starts_with("we_") {
        Some(Problem::new(
            key,
            "must not start with we_ (WebEngage's own)",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_defaults() {
        let mut s = WebEngageSettings::new("~10a5cb78d", Secret::new("key-1234567890"));
        assert_eq!(
            s.users_url(),
            "https://api.webengage.com/v1/accounts/~10a5cb78d/users"
        );
        s.data_center = Some("IN".into());
        assert_eq!(
            s.events_url(),
            "https://api.in.webengage.com/v1/accounts/~10a5cb78d/events"
        );
        s.data_center = Some("ksa".into());
        assert_eq!(s.base_url(), "https://api.ksa.webengage.com");
        assert_eq!(s.event_name(), "Cart Abandoned");
        assert_eq!(s.converted_event_name(), "Cart Recovered");
        assert!(s.problems().is_empty());
    }
}
