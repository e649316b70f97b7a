//! The two HubSpot tables: `[source.<id>]` with `type = "hubspot"` ([`HubSpotSettings`]: contact
//! webhooks in) and `[channel.<id>]` with `type = "hubspot"` ([`HubSpotChannelSettings`]: the
//! hand-off of abandoned carts to HubSpot contacts and, optionally, a custom behavioral event).

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, Secret, SecretList};
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

/// HubSpot's API host (platforms-out.md section 2).
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// The date-based API version the hand-off calls (`/crm/objects/2026-03/...`, `/events/2026-03/...`).
pub const DEFAULT_API_VERSION: &str = "2026-03";

/// Standard contact properties the sink writes itself; `properties.*` may not name them.
pub const STANDARD_PROPERTIES: &[&str] = &["email", "firstname", "lastname", "phone"];

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_string()
}

/// The hand-off channel: each abandoned cart becomes an upsert of the HubSpot contact (by
/// email) with the cart in contact properties a workflow enrols on, plus a custom behavioral
/// event when `event_name` is set. `Debug` never shows the token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotChannelSettings {
    /// A private app's access token (or a service key), sent as `Authorization: Bearer`.
    /// Scopes: `crm.objects.contacts.write` (and the custom-event send scope with `event_name`).
    pub access_token: Secret,
    /// `https://api.hubapi.com` unless a test or a proxy says otherwise.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// `"2026-03"` (date-based paths) or `"v3"` (the legacy paths, supported until 2027-09).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The custom event's fully qualified name (`pe<HubID>_cart_abandoned`), sent with each
    /// abandoned cart; none: contact properties only (custom events need an Enterprise hub).
    #[serde(default)]
    pub event_name: Option<String>,
    /// The event sent when a handed-off cart is bought (`pe<HubID>_cart_recovered`); none: the
    /// status property alone tells the workflow.
    #[serde(default)]
    pub converted_event_name: Option<String>,
    /// The contact properties the cart is written to.
    #[serde(default)]
    pub properties: ContactProperties,
    /// How many contacts one upsert request carries when several hand-offs are due at once
    /// (1 to 100, HubSpot's batch limit): fewer requests against the account's rate limit.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
}

/// HubSpot's batch upsert takes at most 100 inputs.
pub const MAX_BATCH: u32 = 100;

fn default_batch_size() -> u32 {
    MAX_BATCH
}

/// The internal names of the contact properties the hand-off writes. Each must exist in
/// HubSpot (Settings › Properties › Contact properties) before the first hand-off; set one to
/// `""` to leave that value out. The last three are off unless named.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContactProperties {
    /// The tracked recovery link (single-line text).
    pub cart_url: String,
    /// The cart total in decimal units (number).
    pub cart_value: String,
    /// ISO 4217 code (single-line text).
    pub cart_currency: String,
    /// The item titles, `, `-separated (multi-line text).
    pub cart_items: String,
    /// When the hub handed the cart off (date picker with time: `datetime`).
    pub cart_at: String,
    /// The step's discount code, `""` when none (single-line text).
    pub discount_code: String,
    /// The hub's cart id (single-line text).
    pub cart_id: String,
    /// `abandoned` at hand-off, `recovered` once bought: what a workflow enrols on and exits on.
    pub status: String,
    /// The order id that recovered the cart (single-line text).
    pub order_id: String,
    /// The hub's contact id (off by default).
    pub contact_id: String,
    /// The hub's email consent: `subscribed`, `not_subscribed`, `unsubscribed`, `unknown` (off
    /// by default).
    pub email_consent: String,
    /// The hub's SMS consent, same values (off by default).
    pub sms_consent: String,
}

impl Default for ContactProperties {
    fn default() -> Self {
        ContactProperties {
            cart_url: "last_abandoned_cart_url".into(),
            cart_value: "last_abandoned_cart_value".into(),
            cart_currency: "last_abandoned_cart_currency".into(),
            cart_items: "last_abandoned_cart_items".into(),
            cart_at: "last_abandoned_cart_at".into(),
            discount_code: "last_abandoned_cart_discount_code".into(),
            cart_id: "last_abandoned_cart_id".into(),
            status: "last_abandoned_cart_status".into(),
            order_id: "last_abandoned_cart_order_id".into(),
            contact_id: String::new(),
            email_consent: String::new(),
            sms_consent: String::new(),
        }
    }
}

impl ContactProperties {
    /// Every `(key, property name)` pair, in the order of the table, unset ones included.
    pub fn entries(&self) -> [(&'static str, &str); 12] {
        [
            ("cart_url", &self.cart_url),
            ("cart_value", &self.cart_value),
            ("cart_currency", &self.cart_currency),
            ("cart_items", &self.cart_items),
            ("cart_at", &self.cart_at),
            ("discount_code", &self.discount_code),
            ("cart_id", &self.cart_id),
            ("status", &self.status),
            ("order_id", &self.order_id),
            ("contact_id", &self.contact_id),
            ("email_consent", &self.email_consent),
            ("sms_consent", &self.sms_consent),
        ]
    }
}

/// Whether `name` reads as a HubSpot internal property name: a lower-case letter, then
/// lower-case letters, digits and `_`.
pub fn is_property_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl HubSpotChannelSettings {
    /// Settings with `access_token` and every other field at its default.
    pub fn new(access_token: Secret) -> Self {
        HubSpotChannelSettings {
            access_token,
            base_url: default_base_url(),
            api_version: default_api_version(),
            event_name: None,
            converted_event_name: None,
            properties: ContactProperties::default(),
            batch_size: default_batch_size(),
        }
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secret("access_token", &self.access_token));
        out.extend(self.base().err());
        if !is_api_version(&self.api_version) {
            out.push(Problem::new(
                "api_version",
                format!(
                    "{:?} must be a date version such as \"2026-03\", or \"v3\"",
                    self.api_version
                ),
            ));
        }
        for (key, name) in [
            ("event_name", &self.event_name),
            ("converted_event_name", &self.converted_event_name),
        ] {
            if let Some(n) = name {
                if n.trim().is_empty() || n.chars().any(char::is_whitespace) {
                    out.push(Problem::new(
                        key,
                        "must be the event's fully qualified name, without spaces (pe<HubID>_<name>)",
                    ));
                }
            }
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            out.push(Problem::new(
                "batch_size",
                format!(
                    "{} is out of range: HubSpot upserts 1 to {MAX_BATCH} contacts per request",
                    self.batch_size
                ),
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (key, name) in self.properties.entries() {
            if name.is_empty() {
                continue;
            }
            let at = format!("properties.{key}");
            if !is_property_name(name) {
                out.push(Problem::new(
                    at,
                    format!(
                        "{name:?} is not a HubSpot internal name (lower-case letters, digits, _)"
                    ),
                ));
            } else if STANDARD_PROPERTIES.contains(&name) {
                out.push(Problem::new(
                    at,
                    format!("{name:?} is written by the sink itself"),
                ));
            } else if seen.contains(&name) {
                out.push(Problem::new(
                    at,
                    format!("{name:?} is already used by another key"),
                ));
            }
            seen.push(name);
        }
        out
    }

    /// The first of [`Self::problems`] as one line.
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }

    /// What works but may not be meant: an event name that is not fully qualified.
    pub fn warnings(&self) -> Vec<String> {
        [
            ("event_name", &self.event_name),
            ("converted_event_name", &self.converted_event_name),
        ]
        .into_iter()
        .filter_map(|(key, name)| {
            let n = name.as_deref()?;
            (!is_qualified_event_name(n)).then(|| {
                format!(
                    "{key} {n:?} does not look like a fully qualified HubSpot event name \
                     (pe<HubID>_<name>, shown on the event's page in HubSpot)"
                )
            })
        })
        .collect()
    }

    /// `base_url` parsed: http(s), a host, no credentials, query or fragment.
    pub fn base(&self) -> Result<reqwest::Url, Problem> {
        base_url("base_url", &self.base_url)
    }

    /// The contact batch upsert endpoint for `api_version`.
    pub fn upsert_path(&self) -> String {
        match self.api_version.as_str() {
            "v3" => "/crm/v3/objects/contacts/batch/upsert".to_string(),
            v => format!("/crm/objects/{v}/contacts/batch/upsert"),
        }
    }

    /// The custom event occurrence endpoint for `api_version`.
    pub fn event_path(&self) -> String {
        match self.api_version.as_str() {
            "v3" => "/events/v3/send".to_string(),
            v => format!("/events/{v}/send"),
        }
    }
}

fn is_api_version(v: &str) -> bool {
    let b = v.as_bytes();
    v == "v3"
        || (b.len() == 7 && b[4] == b'-' && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit))
}

/// `pe<digits>_<rest>`: the shape of HubSpot's fully qualified custom event names.
pub fn is_qualified_event_name(name: &str) -> bool {
    name.strip_prefix("pe")
        .and_then(|rest| rest.split_once('_'))
        .is_some_and(|(id, tail)| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !tail.is_empty()
        })
}

/// An API base URL at `key`: http(s), a host, no credentials, query or fragment.
pub fn base_url(key: &str, raw: &str) -> Result<reqwest::Url, Problem> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| Problem::new(key, format!("{raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(Problem::new(key, format!("{raw:?} must be an http(s) URL")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Problem::new(key, "must not embed credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Problem::new(
            key,
            format!("{raw:?} must not have a query or fragment"),
        ));
    }
    Ok(url)
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

    #[test]
    fn the_channel_reports_every_problem_at_its_key() {
        let s: HubSpotChannelSettings = serde_json::from_value(serde_json::json!({
            "access_token": " ",
            "base_url": "ftp://api.example",
            "api_version": "2026",
            "event_name": "cart abandoned",
            "converted_event_name": "",
            "properties": {
                "cart_url": "Cart URL",
                "cart_value": "email",
                "cart_items": "last_abandoned_cart_currency"
            }
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
                "converted_event_name",
                "properties.cart_url",
                "properties.cart_value",
                "properties.cart_items",
            ]
        );
    }

    #[test]
    fn the_channel_defaults_and_paths() {
        let mut s = HubSpotChannelSettings::new(Secret::new("pat-na1-0000"));
        assert_eq!(s.problems(), Vec::new());
        assert_eq!(s.base_url, "https://api.hubapi.com");
        assert_eq!(
            s.upsert_path(),
            "/crm/objects/2026-03/contacts/batch/upsert"
        );
        assert_eq!(s.event_path(), "/events/2026-03/send");
        s.api_version = "v3".into();
        assert_eq!(s.upsert_path(), "/crm/v3/objects/contacts/batch/upsert");
        assert_eq!(s.event_path(), "/events/v3/send");
        assert!(s.warnings().is_empty());
        s.event_name = Some("cart_abandoned".into());
        s.converted_event_name = Some("pe123_cart_recovered".into());
        assert_eq!(s.warnings().len(), 1, "{:?}", s.warnings());
        assert!(!format!("{s:?}").contains("pat-na1-0000"));
    }

    #[test]
    fn a_typo_in_the_channel_table_is_refused() {
        let e = serde_json::from_value::<HubSpotChannelSettings>(serde_json::json!({
            "access_token": "t", "event_nmae": "pe1_x"
        }))
        .expect_err("unknown key");
        assert!(e.to_string().contains("event_nmae"), "{e}");
        let e = serde_json::from_value::<HubSpotChannelSettings>(serde_json::json!({
            "access_token": "t", "properties": { "cart_ulr": "x" }
        }))
        .expect_err("unknown key");
        assert!(e.to_string().contains("cart_ulr"), "{e}");
    }
}
