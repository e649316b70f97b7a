//! The `[channel.<id>]` table for `type = "bloomreach"`: [`BloomreachSettings`] and its pure
//! validation (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// The instance's API root unless `base_url` says otherwise (Bloomreach's shared US instance;
/// EU and custom-domain instances have their own).
pub const DEFAULT_BASE_URL: &str = "https://api.exponea.com";

/// Bloomreach's cart event (its e-commerce tracking spec).
pub const CART_UPDATE: &str = "cart_update";

/// Bloomreach's purchase event.
pub const PURCHASE: &str = "purchase";

/// The longest event type accepted here.
pub const MAX_EVENT_NAME_LEN: usize = 128;

/// Which id becomes the customer's `registered` id (Bloomreach's hard id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerId {
    /// The contact's email (the usual `registered` id of a shop project).
    #[default]
    Email,
    /// The hub's contact id.
    Hub,
    /// The shop platform's customer id, else the email.
    Platform,
}

/// A Bloomreach Engagement hand-off channel. `Debug` shows the secret as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BloomreachSettings {
    /// The project token (Project settings → Access management → API).
    pub project_token: String,
    /// The private API key's id (the Basic auth user).
    pub api_key_id: String,
    /// The private API key's secret (the Basic auth password).
    pub api_secret: Secret,
    /// The instance's API root: [`DEFAULT_BASE_URL`] or your instance's / custom domain's.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The reminder's event type (default [`CART_UPDATE`]).
    #[serde(default)]
    pub event_name: Option<String>,
    /// The purchase's event type (default [`PURCHASE`]).
    #[serde(default)]
    pub converted_event_name: Option<String>,
    /// Which id is the customer's `registered` id (default `email`).
    #[serde(default)]
    pub customer_id: CustomerId,
}

impl BloomreachSettings {
    /// Settings for a project and key, every other field at its default.
    pub fn new(
        project_token: impl Into<String>,
        api_key_id: impl Into<String>,
        api_secret: Secret,
    ) -> Self {
        BloomreachSettings {
            project_token: project_token.into(),
            api_key_id: api_key_id.into(),
            api_secret,
            base_url: None,
            event_name: None,
            converted_event_name: None,
            customer_id: CustomerId::default(),
        }
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        non_blank(self.base_url.as_deref())
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
    }

    /// `{base}/track/v2/projects/{token}/customers`.
    pub fn customers_url(&self) -> String {
        format!(
            "{}/track/v2/projects/{}/customers",
            self.base_url(),
            self.project_token.trim()
        )
    }

    /// `{base}/track/v2/projects/{token}/customers/events`.
    pub fn events_url(&self) -> String {
        format!("{}/events", self.customers_url())
    }

    /// The reminder's event type.
    pub fn event_name(&self) -> &str {
        non_blank(self.event_name.as_deref()).unwrap_or(CART_UPDATE)
    }

    /// The purchase's event type.
    pub fn converted_event_name(&self) -> &str {
        non_blank(self.converted_event_name.as_deref()).unwrap_or(PURCHASE)
    }

    /// Every problem, each at its key path (pure: no I/O).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (key, value) in [
            ("project_token", &self.project_token),
            ("api_key_id", &self.api_key_id),
        ] {
            let v = value.trim();
            if v.is_empty() {
                out.push(Problem::new(key, "must not be empty"));
            } else if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                out.push(Problem::new(
                    key,
                    "must be as Bloomreach shows it (letters, digits, '-')",
                ));
            }
        }
        out.extend(settings::secret("api_secret", &self.api_secret));
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
    fn defaults() {
        let s = BloomreachSettings::new("12345678-aaaa", "key-1", Secret::new("secret-123456"));
        assert_eq!(
            s.events_url(),
            "https://api.exponea.com/track/v2/projects/12345678-aaaa/customers/events"
        );
        assert_eq!(s.event_name(), "cart_update");
        assert_eq!(s.converted_event_name(), "purchase");
        assert!(s.problems().is_empty());
    }
}
