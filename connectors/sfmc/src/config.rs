//! The `[channel.<id>]` table for `type = "sfmc"`: [`SfmcSettings`] and its pure validation
//! (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// The auth host of a tenant: `https://{subdomain}.auth.marketingcloudapis.com`.
pub const AUTH_HOST_SUFFIX: &str = "auth.marketingcloudapis.com";

/// How many cart items the event's `Data` carries unless `max_items` says otherwise.
pub const DEFAULT_MAX_ITEMS: usize = 3;

/// The most items `max_items` may ask for (each is six data extension fields).
pub const MAX_ITEMS_LIMIT: usize = 10;

/// Which of the hub's ids becomes Marketing Cloud's `ContactKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKeyFrom {
    /// The shopper's email (the usual subscriber key of a shop that keys contacts by email).
    #[default]
    Email,
    /// The hub's contact id (a hand-off without one is refused, never keyed otherwise).
    ContactId,
    /// The shop platform's customer id (`contact.external_id`; refused when absent).
    ExternalId,
}

impl ContactKeyFrom {
    pub fn as_str(&self) -> &'static str {
        match self {
            ContactKeyFrom::Email => "email",
            ContactKeyFrom::ContactId => "contact_id",
            ContactKeyFrom::ExternalId => "external_id",
        }
    }
}

/// A Marketing Cloud hand-off channel. `Debug` shows the client secret as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SfmcSettings {
    /// The installed package's API integration (server-to-server) client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: Secret,
    /// The tenant subdomain (the part before `.auth.marketingcloudapis.com` in the package's
    /// "Authentication Base URI"). Required unless `auth_base_url` is given.
    #[serde(default)]
    pub subdomain: Option<String>,
    /// The business unit's MID (`account_id` of the token request); the package's default
    /// business unit when left out.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Space-separated scopes to ask for; the package's own when left out.
    #[serde(default)]
    pub scope: Option<String>,
    /// The journey's API entry event (Event Administration → the event's key).
    pub event_definition_key: String,
    /// An optional second event definition fired when a handed-off cart is bought (the
    /// journey's exit criteria or goal reads its data extension). Without it nothing is sent.
    #[serde(default)]
    pub converted_event_definition_key: Option<String>,
    /// Which id is the `ContactKey` (default `email`).
    #[serde(default)]
    pub contact_key: ContactKeyFrom,
    /// How many cart items the `Data` carries as `Item1Name`… (default 3, at most 10).
    #[serde(default)]
    pub max_items: Option<usize>,
    /// Overrides `https://{subdomain}.auth.marketingcloudapis.com` (tests point it at a local
    /// server).
    #[serde(default)]
    pub auth_base_url: Option<String>,
    /// Overrides the REST host the token answer names (`rest_instance_url`).
    #[serde(default)]
    pub rest_base_url: Option<String>,
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl SfmcSettings {
    /// Settings with the credentials, the subdomain, the entry event key and every other field
    /// at its default.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Secret,
        subdomain: impl Into<String>,
        event_definition_key: impl Into<String>,
    ) -> Self {
        SfmcSettings {
            client_id: client_id.into(),
            client_secret,
            subdomain: Some(subdomain.into()),
            account_id: None,
            scope: None,
            event_definition_key: event_definition_key.into(),
            converted_event_definition_key: None,
            contact_key: ContactKeyFrom::default(),
            max_items: None,
            auth_base_url: None,
            rest_base_url: None,
        }
    }

    /// The auth host without a trailing slash.
    pub fn auth_base_url(&self) -> String {
        match trimmed(&self.auth_base_url) {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!(
                "https://{}.{AUTH_HOST_SUFFIX}",
                trimmed(&self.subdomain).unwrap_or_default()
            ),
        }
    }

    /// `{auth host}/v2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/v2/token", self.auth_base_url())
    }

    /// The REST host override, without a trailing slash.
    pub fn rest_base_url(&self) -> Option<String> {
        trimmed(&self.rest_base_url).map(|u| u.trim_end_matches('/').to_string())
    }

    pub fn account_id(&self) -> Option<&str> {
        trimmed(&self.account_id)
    }

    pub fn scope(&self) -> Option<&str> {
        trimmed(&self.scope)
    }

    pub fn event_definition_key(&self) -> &str {
        self.event_definition_key.trim()
    }

    pub fn converted_event_definition_key(&self) -> Option<&str> {
        trimmed(&self.converted_event_definition_key)
    }

    pub fn max_items(&self) -> usize {
        self.max_items.unwrap_or(DEFAULT_MAX_ITEMS)
    }

    /// Every problem, each at its key path (pure: no I/O).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.client_id.trim().is_empty() {
            out.push(Problem::new("client_id", "must not be empty"));
        }
        out.extend(settings::secret("client_secret", &self.client_secret));
        match (trimmed(&self.subdomain), trimmed(&self.auth_base_url)) {
            (None, None) => out.push(Problem::new(
                "subdomain",
                "must be given: the tenant subdomain of the package's Authentication Base URI (https://<subdomain>.auth.marketingcloudapis.com/)",
            )),
            (Some(sub), _) => {
                let ok = sub
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !ok {
                    out.push(Problem::new(
                        "subdomain",
                        format!("{sub:?} must be the subdomain alone (lower-case letters, digits, \"-\"), e.g. \"mc563885gzs27c5t9-63k636ttgm\" of https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com/"),
                    ));
                }
            }
            (None, Some(_)) => {}
        }
        if let Some(mid) = self.account_id() {
            if !mid.bytes().all(|b| b.is_ascii_digit()) {
                out.push(Problem::new(
                    "account_id",
                    format!("{mid:?} must be the business unit's MID (digits)"),
                ));
            }
        }
        out.extend(event_key(
            "event_definition_key",
            Some(&self.event_definition_key),
        ));
        if self.converted_event_definition_key.is_some() {
            out.extend(event_key(
                "converted_event_definition_key",
                self.converted_event_definition_key.as_ref(),
            ));
        }
        if let Some(n) = self.max_items {
            if n > MAX_ITEMS_LIMIT {
                out.push(Problem::new(
                    "max_items",
                    format!("{n} is more than {MAX_ITEMS_LIMIT}"),
                ));
            }
        }
        for (key, raw) in [
            ("auth_base_url", &self.auth_base_url),
            ("rest_base_url", &self.rest_base_url),
        ] {
            if let Some(raw) = raw.as_deref() {
                out.extend(settings::site_url(key, raw).err());
            }
        }
        out
    }

    /// The first of [`Self::problems`] as one line.
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

/// An event definition key: not blank, no period (Journey Builder refuses one).
fn event_key(key: &str, value: Option<&String>) -> Option<Problem> {
    let v = value.map(|s| s.trim()).unwrap_or_default();
    if v.is_empty() {
        Some(Problem::new(key, "must not be empty"))
    } else if v.contains('.') {
        Some(Problem::new(
            key,
            format!("{v:?} must not contain a period (Journey Builder refuses such keys)"),
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: SfmcSettings = serde_json::from_value(serde_json::json!({
            "client_id": " ",
            "client_secret": " ",
            "subdomain": "mc123.auth.marketingcloudapis.com",
            "account_id": "MID-1",
            "event_definition_key": "APIEvent.cart",
            "converted_event_definition_key": "",
            "max_items": 11,
            "auth_base_url": "auth.example",
            "rest_base_url": "ftp://rest.example",
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "client_id",
                "client_secret",
                "subdomain",
                "account_id",
                "event_definition_key",
                "converted_event_definition_key",
                "max_items",
                "auth_base_url",
                "rest_base_url",
            ]
        );
    }

    #[test]
    fn a_subdomain_or_an_auth_url_is_needed() {
        let mut s = SfmcSettings::new("id", Secret::new("secret"), "", "APIEvent-cart");
        s.subdomain = None;
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["subdomain"]);
        s.auth_base_url = Some("http://127.0.0.1:9/".into());
        assert!(s.problems().is_empty());
        assert_eq!(s.token_url(), "http://127.0.0.1:9/v2/token");
    }

    #[test]
    fn defaults_and_urls() {
        let s = SfmcSettings::new(
            "client-1",
            Secret::new("secret-1234567890"),
            "mc563885gzs27c5t9-63k636ttgm",
            "APIEvent-cart-abandoned",
        );
        assert!(s.problems().is_empty());
        assert_eq!(
            s.token_url(),
            "https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com/v2/token"
        );
        assert_eq!(s.max_items(), 3);
        assert_eq!(s.contact_key, ContactKeyFrom::Email);
        assert_eq!(s.converted_event_definition_key(), None);
        assert_eq!(s.rest_base_url(), None);
    }
}
