//! The `[channel.<id>]` table for `type = "mailerlite"`: [`MailerLiteSettings`] and its pure
//! validation (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where MailerLite's API lives unless `base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://connect.mailerlite.com/api";

/// The cart's custom fields, by the name the hub gives each; the default MailerLite field key is
/// the same name. `fields.<name> = "other_key"` renames one, `""` leaves it out.
pub const FIELDS: &[&str] = &[
    "cart_id",
    "cart_url",
    "cart_total",
    "cart_currency",
    "cart_items",
    "cart_image_url",
    "cart_status",
    "discount_code",
    "order_id",
    "flow_id",
    "flow_step",
    "flow_variant",
];

/// A MailerLite hand-off channel. `Debug` shows the token as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailerLiteSettings {
    /// An API token (Integrations → MailerLite API → Generate new token).
    pub api_token: Secret,
    /// The id of the group whose automation ("when a subscriber joins a group") sends.
    pub group_id: String,
    /// Field key renames (`cart_url = "abandoned_cart_link"`), `""` to leave a field out.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Defaults to [`DEFAULT_BASE_URL`]; tests point it at a local server.
    #[serde(default)]
    pub base_url: Option<String>,
}

impl MailerLiteSettings {
    /// Settings with `api_token` and `group_id`, every other field at its default.
    pub fn new(api_token: Secret, group_id: impl Into<String>) -> Self {
        MailerLiteSettings {
            api_token,
            group_id: group_id.into(),
            fields: BTreeMap::new(),
            base_url: None,
        }
    }

    /// The API root (ending in `/api` by default) without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
    }

    /// `{base}/subscribers`.
    pub fn subscribers_url(&self) -> String {
        format!("{}/subscribers", self.base_url())
    }

    /// `{base}/subscribers/{id}/groups/{group_id}`.
    pub fn membership_url(&self, subscriber_id: &str) -> String {
        format!(
            "{}/subscribers/{}/groups/{}",
            self.base_url(),
            subscriber_id,
            self.group_id.trim()
        )
    }

    /// The MailerLite key of the hub's field `name`, `None` when it is left out.
    pub fn field_key(&self, name: &str) -> Option<String> {
        match self.fields.get(name) {
            Some(key) if key.trim().is_empty() => None,
            Some(key) => Some(key.trim().to_string()),
            None => Some(name.to_string()),
        }
    }

    /// Every problem, each at its key path (pure: no I/O).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secret("api_token", &self.api_token));
        let group = self.group_id.trim();
        if group.is_empty() {
            out.push(Problem::new("group_id", "must not be empty"));
        } else if !group.bytes().all(|b| b.is_ascii_digit()) {
            out.push(Problem::new(
                "group_id",
                format!("{group:?} must be the group's id (digits, as the group's page shows it), not its name"),
            ));
        }
        for (name, key) in &self.fields {
            let path = format!("fields.{name}");
            if !FIELDS.contains(&name.as_str()) {
                out.push(Problem::new(
                    path,
                    format!("is not a cart field; the fields are {}", FIELDS.join(", ")),
                ));
            } else if !key
                .trim()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                out.push(Problem::new(
                    path,
                    format!("{key:?} must be a MailerLite field key (lower case, digits, '_'), or \"\" to leave it out"),
                ));
            }
        }
        if let Some(raw) = self.base_url.as_deref() {
            out.extend(settings::site_url("base_url", raw).err());
        }
        out
    }

    /// The first of [`Self::problems`] as one line.
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_renames() {
        let mut s = MailerLiteSettings::new(Secret::new("t-1234567890"), "111222333");
        assert_eq!(
            s.subscribers_url(),
            "https://connect.mailerlite.com/api/subscribers"
        );
        assert_eq!(
            s.membership_url("42"),
            "https://connect.mailerlite.com/api/subscribers/42/groups/111222333"
        );
        assert_eq!(s.field_key("cart_url").as_deref(), Some("cart_url"));
        s.fields.insert("cart_url".into(), "abandoned_link".into());
        s.fields.insert("flow_variant".into(), "".into());
        assert_eq!(s.field_key("cart_url").as_deref(), Some("abandoned_link"));
        assert_eq!(s.field_key("flow_variant"), None);
        assert!(s.problems().is_empty());
    }
}
