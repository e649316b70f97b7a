//! The `[channel.<id>]` table for `type = "moengage"`: [`MoEngageSettings`] and its pure
//! validation (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// The event a reminder sends unless `event_name` says otherwise (MoEngage has no standard
/// abandoned-cart event; this is the name of its documented example).
pub const CART_ABANDONED: &str = "Cart Abandoned";

/// The event a purchase of a handed-off cart sends unless `converted_event_name` says otherwise.
pub const CART_RECOVERED: &str = "Cart Recovered";

/// The longest event name accepted here.
pub const MAX_EVENT_NAME_LEN: usize = 128;

/// The data centres MoEngage documents: `DC-0N` is `https://api-0N.moengage.com`.
pub const DATA_CENTERS: &[&str] = &["01", "02", "03", "04", "05", "06", "101"];

/// Which id becomes MoEngage's `customer_id` (the user's unique `ID` in MoEngage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerId {
    /// The contact's email (MoEngage's own examples use it); the phone when there is none.
    #[default]
    Email,
    /// The hub's contact id.
    Hub,
    /// The shop platform's customer id (what a storefront SDK's `login` usually sets), else the
    /// email.
    Platform,
}

/// A MoEngage hand-off channel. `Debug` shows the key as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoEngageSettings {
    /// The Workspace ID (Settings → Account → APIs; earlier "App ID"): the Basic auth user,
    /// the `MOE-APPKEY` header and the last path segment.
    #[serde(alias = "app_id")]
    pub workspace_id: String,
    /// The Data API key (Settings → Account → APIs → API keys → Data): the Basic auth password.
    pub api_key: Secret,
    /// The workspace's data centre: `"01"`…`"06"` (the N of `dashboard-0N.moengage.com`),
    /// `"DC-02"`, or a region name (`us`, `eu`, `india`, `singapore`, `indonesia`).
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
    /// Which id is the MoEngage `customer_id` (default `email`).
    #[serde(default)]
    pub customer_id: CustomerId,
}

impl MoEngageSettings {
    /// Settings for `workspace_id` at data centre `data_center`, every other field at its
    /// default.
    pub fn new(workspace_id: impl Into<String>, api_key: Secret, data_center: &str) -> Self {
        MoEngageSettings {
            workspace_id: workspace_id.into(),
            api_key,
            data_center: Some(data_center.to_string()),
            base_url: None,
            event_name: None,
            converted_event_name: None,
            customer_id: CustomerId::default(),
        }
    }

    /// The data centre's number (`"01"`…), when `data_center` names one.
    pub fn data_center_number(&self) -> Option<&'static str> {
        data_center_number(self.data_center.as_deref()?)
    }

    /// The API root without a trailing slash: `base_url`, else the data centre's host.
    pub fn base_url(&self) -> String {
        if let Some(b) = non_blank(self.base_url.as_deref()) {
            return b.trim_end_matches('/').to_string();
        }
        let n = self.data_center_number().unwrap_or("01");
        format!("https://api-{n}.moengage.com")
    }

    /// `{base}/v1/customer/{workspace_id}`.
    pub fn customer_url(&self) -> String {
        format!(
            "{}/v1/customer/{}",
            self.base_url(),
            self.workspace_id.trim()
        )
    }

    /// `{base}/v1/event/{workspace_id}`.
    pub fn event_url(&self) -> String {
        format!("{}/v1/event/{}", self.base_url(), self.workspace_id.trim())
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
        let ws = self.workspace_id.trim();
        if ws.is_empty() {
            out.push(Problem::new("workspace_id", "must not be empty"));
        } else if !ws
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(Problem::new(
                "workspace_id",
                "must be the Workspace ID as MoEngage shows it (letters, digits, '_' or '-')",
            ));
        }
        out.extend(settings::secret("api_key", &self.api_key));
        match self.data_center.as_deref() {
            Some(dc) if data_center_number(dc).is_none() => out.push(Problem::new(
                "data_center",
                format!(
                    "{dc:?} is not a MoEngage data centre: use \"01\" to \"06\" (the N of \
                     dashboard-0N.moengage.com) or us, eu, india, singapore, indonesia"
                ),
            )),
            None if non_blank(self.base_url.as_deref()).is_none() => out.push(Problem::new(
                "data_center",
                "must be set: \"01\" to \"06\", the N of your dashboard-0N.moengage.com",
            )),
            _ => {}
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

/// `"01"`, `"1"`, `"DC-01"`, `"dc01"`, `"eu"` … → the data centre's number.
pub fn data_center_number(raw: &str) -> Option<&'static str> {
    let s = raw.trim().to_ascii_lowercase();
    let by_name = match s.as_str() {
        "us" => Some("01"),
        "eu" => Some("02"),
        "in" | "india" => Some("03"),
        "sg" | "singapore" => Some("05"),
        "id" | "indonesia" => Some("06"),
        _ => None,
    };
    if by_name.is_some() {
        return by_name;
    }
    let digits = s
        .trim_start_matches("dc")
        .trim_start_matches(['-', '_', ' '])
        .trim_start_matches('0');
    DATA_CENTERS
        .iter()
        .copied()
        .find(|n| n.trim_start_matches('0') == digits && !digits.is_empty())
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
    } else if v.trim().to_ascii_lowercase().starts_with("moe_") {
        Some(Problem::new(
            key,
            "must not start with moe_ (MoEngage's own)",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_centres_by_number_and_name() {
        for (raw, n) in [
            ("01", "01"),
            ("1", "01"),
            ("DC-02", "02"),
            ("dc03", "03"),
            ("dc-04", "04"),
            ("eu", "02"),
            ("India", "03"),
            ("singapore", "05"),
            ("indonesia", "06"),
            ("101", "101"),
        ] {
            assert_eq!(data_center_number(raw), Some(n), "{raw}");
        }
        for raw in ["07", "0", "", "dc-", "mars", "10"] {
            assert_eq!(data_center_number(raw), None, "{raw}");
        }
    }

    #[test]
    fn defaults() {
        let s = MoEngageSettings::new("WS123", Secret::new("key-1234567890"), "DC-03");
        assert_eq!(
            s.customer_url(),
            "https://api-03.moengage.com/v1/customer/WS123"
        );
        assert_eq!(s.event_url(), "https://api-03.moengage.com/v1/event/WS123");
        assert_eq!(s.event_name(), "Cart Abandoned");
        assert_eq!(s.converted_event_name(), "Cart Recovered");
        assert_eq!(s.customer_id, CustomerId::Email);
        assert!(s.problems().is_empty());
    }
}
