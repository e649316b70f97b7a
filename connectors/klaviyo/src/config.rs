//! The two `type = "klaviyo"` tables: [`KlaviyoSettings`] for `[source.<id>]` (webhooks in)
//! and [`KlaviyoChannelSettings`] for `[channel.<id>]` (the hand-off out), each with its pure
//! validation.

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, Secret, SecretList};
use serde::Deserialize;
use std::time::Duration;

/// How far `Klaviyo-Timestamp` may be from the time of receipt when `max_age` is unset.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// A Klaviyo source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KlaviyoSettings {
    /// The system webhook's `secret_key`; flow webhooks send the same value in
    /// `X-Cartback-Secret`. A list during a rotation.
    pub secret: SecretList,
    /// Signed deliveries whose `Klaviyo-Timestamp` is further than this from now are refused
    /// (default `"10m"`).
    #[serde(default)]
    pub max_age: Option<HumanDuration>,
}

impl KlaviyoSettings {
    /// Settings with `secret` and every other field at its default.
    pub fn new(secret: SecretList) -> Self {
        KlaviyoSettings {
            secret,
            max_age: None,
        }
    }

    /// The timestamp window: `max_age`, else 10 minutes.
    pub fn max_age(&self) -> Duration {
        self.max_age.map_or(DEFAULT_MAX_AGE, |d| d.0)
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secrets("secret", &self.secret));
        out.extend(settings::positive("max_age", self.max_age()));
        out
    }

    /// The first of [`Self::problems`] as one line (`"secret must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

/// Klaviyo's API host (one global host) unless `base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://a.klaviyo.com";

/// The API revision the event body is written for (the `revision` header).
pub const DEFAULT_REVISION: &str = "2026-07-15";

/// The metric a reminder hand-off is sent as: Klaviyo's abandoned-checkout convention, the
/// metric its "Abandoned Cart" flow template is triggered by.
pub const DEFAULT_EVENT_NAME: &str = "Started Checkout";

/// The metric sent once a handed-off cart is bought, for the flow's exit filter.
pub const DEFAULT_CONVERTED_EVENT_NAME: &str = "Cartback Cart Recovered";

/// Klaviyo wants metric names shorter than this.
pub const MAX_METRIC_NAME_CHARS: usize = 128;

/// What the profile's `external_id` is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalId {
    /// The hub's contact id (the same across every shop platform the hub reads).
    #[default]
    Hub,
    /// The shop platform's customer id, as the source reported it (`ContactInfo::external_id`).
    Platform,
    /// None: the profile is matched on email and phone only.
    None,
}

/// A Klaviyo hand-off channel: each reminder becomes one event (`POST /api/events`) that a
/// Klaviyo flow is triggered by; a cart bought after it becomes a second event the flow exits on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KlaviyoChannelSettings {
    /// A private API key (`pk_...`) with the `events:write` scope.
    pub api_key: Secret,
    /// Defaults to [`DEFAULT_BASE_URL`].
    #[serde(default)]
    pub base_url: Option<String>,
    /// The `revision` header (`YYYY-MM-DD`, maybe `.suffix`); defaults to [`DEFAULT_REVISION`].
    #[serde(default)]
    pub revision: Option<String>,
    /// The metric of a reminder; defaults to [`DEFAULT_EVENT_NAME`].
    #[serde(default)]
    pub event_name: Option<String>,
    /// The metric of a bought cart; defaults to [`DEFAULT_CONVERTED_EVENT_NAME`].
    #[serde(default)]
    pub converted_event_name: Option<String>,
    /// What the profile's `external_id` is (default `"hub"`).
    #[serde(default)]
    pub external_id: ExternalId,
}

impl KlaviyoChannelSettings {
    /// Settings with `api_key` and every other field at its default.
    pub fn new(api_key: Secret) -> Self {
        KlaviyoChannelSettings {
            api_key,
            base_url: None,
            revision: None,
            event_name: None,
            converted_event_name: None,
            external_id: ExternalId::default(),
        }
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        or_default(self.base_url.as_deref(), DEFAULT_BASE_URL).trim_end_matches('/')
    }

    /// `{base_url}/api/events`.
    pub fn events_url(&self) -> String {
        format!("{}/api/events", self.base_url())
    }

    pub fn revision(&self) -> &str {
        or_default(self.revision.as_deref(), DEFAULT_REVISION)
    }

    pub fn event_name(&self) -> &str {
        or_default(self.event_name.as_deref(), DEFAULT_EVENT_NAME)
    }

    pub fn converted_event_name(&self) -> &str {
        or_default(
            self.converted_event_name.as_deref(),
            DEFAULT_CONVERTED_EVENT_NAME,
        )
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let key = self.api_key.expose();
        if key.trim().is_empty() {
            out.push(Problem::new("api_key", "must not be empty"));
        } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
            out.push(Problem::new(
                "api_key",
                "must be printable ASCII without spaces or line breaks",
            ));
        }
        if let Some(u) = &self.base_url {
            out.extend(base_url_problem("base_url", u));
        }
        if let Some(r) = &self.revision {
            if !is_revision(r) {
                out.push(Problem::new(
                    "revision",
                    format!("{r:?} must be a date such as {DEFAULT_REVISION:?}"),
                ));
            }
        }
        for (key, name) in [
            ("event_name", &self.event_name),
            ("converted_event_name", &self.converted_event_name),
        ] {
            if let Some(n) = name {
                out.extend(metric_name_problem(key, n));
            }
        }
        if self.event_name() == self.converted_event_name() {
            out.push(Problem::new(
                "converted_event_name",
                "must differ from event_name (the flow exits on it)",
            ));
        }
        out
    }

    /// The first of [`Self::problems`] as one line (`"api_key must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

/// `value` trimmed, or `default` when it is unset or blank.
fn or_default<'a>(value: Option<&'a str>, default: &'a str) -> &'a str {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(default)
}

/// An `http(s)://host[/path]` URL, else the problem at `key`.
fn base_url_problem(key: &str, raw: &str) -> Option<Problem> {
    let u = raw.trim();
    match u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
    {
        None => Some(Problem::new(
            key,
            format!("{u:?} must start with https:// or http://"),
        )),
        Some(rest)
            if rest.trim_end_matches('/').is_empty() || rest.contains(char::is_whitespace) =>
        {
            Some(Problem::new(key, format!("{u:?} has no host")))
        }
        Some(rest) if rest.contains(['?', '#', '@']) => Some(Problem::new(
            key,
            format!("{u:?} must not have credentials, a query or a fragment"),
        )),
        Some(_) => None,
    }
}

/// `YYYY-MM-DD`, maybe followed by `.suffix` (letters, digits).
fn is_revision(raw: &str) -> bool {
    let (date, suffix) = raw.split_once('.').unwrap_or((raw, ""));
    let b = date.as_bytes();
    let date_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    let suffix_ok = !raw.contains('.')
        || (!suffix.is_empty() && suffix.bytes().all(|c| c.is_ascii_alphanumeric()));
    date_ok && suffix_ok
}

/// A metric name Klaviyo takes: not blank, one line, shorter than 128 characters.
fn metric_name_problem(key: &str, name: &str) -> Option<Problem> {
    let n = name.trim();
    if n.is_empty() {
        Some(Problem::new(key, "must not be empty"))
    } else if n.contains(char::is_control) || n.chars().count() >= MAX_METRIC_NAME_CHARS {
        Some(Problem::new(
            key,
            format!("{n:?} must be one line shorter than {MAX_METRIC_NAME_CHARS} characters"),
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
        let s: KlaviyoSettings = serde_json::from_value(serde_json::json!({
            "secret": ["pk_new", " "],
            "max_age": "0s"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["secret", "max_age"]);
        assert_eq!(s.validate(), Err("secret must not be empty".to_string()));
    }

    fn channel(v: serde_json::Value) -> KlaviyoChannelSettings {
        serde_json::from_value(v).expect("the table parses")
    }

    #[test]
    fn channel_defaults() {
        let s = channel(serde_json::json!({"api_key": "pk_live_0123456789"}));
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.events_url(), "https://a.klaviyo.com/api/events");
        assert_eq!(s.revision(), DEFAULT_REVISION);
        assert_eq!(s.event_name(), "Started Checkout");
        assert_eq!(s.converted_event_name(), "Cartback Cart Recovered");
        assert_eq!(s.external_id, ExternalId::Hub);
        assert!(!format!("{s:?}").contains("pk_live_0123456789"));
    }

    #[test]
    fn every_channel_problem_is_reported_at_its_key() {
        let s = channel(serde_json::json!({
            "api_key": " pk_x",
            "base_url": "a.klaviyo.com",
            "revision": "2026-7-15",
            "event_name": " ",
            "converted_event_name": "x".repeat(128),
        }));
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "api_key",
                "base_url",
                "revision",
                "event_name",
                "converted_event_name"
            ]
        );
        let same = channel(serde_json::json!({
            "api_key": "pk_live_0123456789",
            "base_url": "http://127.0.0.1:9/",
            "revision": "2026-07-15.pre",
            "event_name": "Cart Left",
            "converted_event_name": " Cart Left ",
            "external_id": "platform",
        }));
        assert_eq!(
            same.validate(),
            Err("converted_event_name must differ from event_name (the flow exits on it)".into())
        );
        assert_eq!(same.events_url(), "http://127.0.0.1:9/api/events");
        assert_eq!(same.event_name(), "Cart Left");
    }

    #[test]
    fn channel_typos_are_refused() {
        let err = serde_json::from_value::<KlaviyoChannelSettings>(serde_json::json!({
            "api_key": "pk_live_0123456789",
            "event_nmae": "x",
        }))
        .expect_err("unknown key");
        assert!(
            err.to_string().contains("unknown field `event_nmae`"),
            "{err}"
        );
        for bad in ["2026-07-15.", "2026/07/15", "20260715", "2026-07-15.a b"] {
            assert!(!is_revision(bad), "{bad}");
        }
    }
}
