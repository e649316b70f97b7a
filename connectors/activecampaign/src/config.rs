//! The `[channel.<id>]` table for `type = "activecampaign"`: [`ActiveCampaignSettings`] and its
//! pure validation (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// Contact custom fields the hub fills on each hand-off (`contact/sync`'s `fieldValues`), each
/// the id of a field created in ActiveCampaign (Contacts → Manage Fields): what an abandoned
/// cart has no place for. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactFields {
    /// The step's discount code.
    #[serde(default)]
    pub discount_code: Option<String>,
    /// The hub's tracked recovery link (also the abandoned cart's `orderUrl`).
    #[serde(default)]
    pub recovery_url: Option<String>,
    /// The hub's cart id.
    #[serde(default)]
    pub cart_id: Option<String>,
    /// The flow that handed the cart off.
    #[serde(default)]
    pub flow_id: Option<String>,
    /// Its step (counting from 0).
    #[serde(default)]
    pub step: Option<String>,
    /// Its A/B variant.
    #[serde(default)]
    pub variant: Option<String>,
}

impl ContactFields {
    /// `(key, field id)` for every field configured.
    pub fn configured(&self) -> Vec<(&'static str, &str)> {
        [
            ("discount_code", &self.discount_code),
            ("recovery_url", &self.recovery_url),
            ("cart_id", &self.cart_id),
            ("flow_id", &self.flow_id),
            ("step", &self.step),
            ("variant", &self.variant),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v.trim())))
        .collect()
    }
}

/// An ActiveCampaign hand-off channel. `Debug` shows the token as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveCampaignSettings {
    /// The account's own API URL (Settings → Developer → URL), `https://<account>.api-us1.com`;
    /// `/api/3` is added by the hub (given with it, it is taken off).
    pub base_url: String,
    /// The API key of a user (Settings → Developer → Key), sent as `Api-Token`.
    pub api_token: Secret,
    /// The id of the Deep Data e-commerce connection the carts belong to (docs/CONNECTORS.md
    /// shows how to create one).
    pub connection_id: String,
    /// Contact custom fields to fill (discount code, recovery link, flow, ...).
    #[serde(default)]
    pub contact_fields: ContactFields,
}

impl ActiveCampaignSettings {
    /// Settings for `base_url`, `api_token` and `connection_id`, no contact fields.
    pub fn new(
        base_url: impl Into<String>,
        api_token: Secret,
        connection_id: impl Into<String>,
    ) -> Self {
        ActiveCampaignSettings {
            base_url: base_url.into(),
            api_token,
            connection_id: connection_id.into(),
            contact_fields: ContactFields::default(),
        }
    }

    /// `{base_url}/api/3`, without a trailing slash.
    pub fn api_root(&self) -> String {
        let base = self.base_url.trim().trim_end_matches('/');
        let base = base.strip_suffix("/api/3").unwrap_or(base);
        format!("{}/api/3", base.trim_end_matches('/'))
    }

    pub fn connection_id(&self) -> &str {
        self.connection_id.trim()
    }

    /// Every problem, each at its key path (pure: no I/O).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        match settings::site_url("base_url", &self.base_url) {
            Err(p) => out.push(p),
            Ok(url) if url.scheme() != "https" && !is_local(&url) => out.push(Problem::new(
                "base_url",
                "must be https (ActiveCampaign serves its API over HTTPS only)",
            )),
            Ok(_) => {}
        }
        out.extend(settings::secret("api_token", &self.api_token));
        let id = self.connection_id();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            out.push(Problem::new(
                "connection_id",
                format!("{id:?} must be the numeric id of a Deep Data connection"),
            ));
        }
        for (key, field) in self.contact_fields.configured() {
            if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
                out.push(Problem::new(
                    settings::key_path("contact_fields", key),
                    format!("{field:?} must be the numeric id of a contact custom field"),
                ));
            }
        }
        out
    }

    /// The first of [`Self::problems`] as one line.
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

/// A loopback URL (a local proxy, a test server) may be plain http.
fn is_local(url: &reqwest::Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: ActiveCampaignSettings = serde_json::from_value(serde_json::json!({
            "base_url": "http://acme.api-us1.com",
            "api_token": " ",
            "connection_id": "shop",
            "contact_fields": {"discount_code": "DISCOUNT", "step": "7"},
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "base_url",
                "api_token",
                "connection_id",
                "contact_fields.discount_code"
            ]
        );
    }

    #[test]
    fn the_api_root_is_the_accounts_url_and_api_3() {
        for given in [
            "https://acme.api-us1.com",
            "https://acme.api-us1.com/",
            "https://acme.api-us1.com/api/3",
            "https://acme.api-us1.com/api/3/",
        ] {
            let s = ActiveCampaignSettings::new(given, Secret::new("key-1234567890"), "1");
            assert!(s.problems().is_empty(), "{given}");
            assert_eq!(s.api_root(), "https://acme.api-us1.com/api/3", "{given}");
        }
    }
}
