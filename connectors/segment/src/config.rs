//! The two `type = "segment"` tables: [`SegmentSettings`] for `[source.<id>]` (events in) and
//! [`SegmentChannelSettings`] for `[channel.<id>]` (the hand-off out), each with its pure
//! validation.

use cartback_core::{Currency, Problem};
use cartback_kit::{settings, Secret, SecretList};
use serde::Deserialize;

/// The currency assumed when a message has no `properties.currency`.
pub const DEFAULT_CURRENCY: &str = "USD";

/// A Segment source.
///
/// Segment has two kinds of write key. A **browser** source's key (analytics.js) ships in the
/// shop's pages: anyone can read it and send with it, for any address. What such a request says
/// about a shopper is a claim (`cartback_core::Trust::Claimed`): kept, shown, but never sent to
/// until a verified source (a signed platform webhook, a server key, a signed webhook) reports
/// the same address. A **server** source's key (the shop's backend) is a secret: believed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSettings {
    /// Browser write keys accepted on the Segment-compatible API (`/v1/*`): as the HTTP
    /// basic-auth user, or as the JSON body's `writeKey`. Public: contact details sent with them
    /// are claims. A list during a rotation.
    #[serde(default)]
    pub write_keys: Option<SecretList>,
    /// Server write keys (the shop's backend libraries), accepted the same way and believed.
    #[serde(default)]
    pub server_write_keys: Option<SecretList>,
    /// The shared secret of a Segment Webhooks destination pointed at `/webhooks/{id}`
    /// (`X-Signature`). Without it, webhook-mode requests must carry a write key instead.
    #[serde(default)]
    pub shared_secret: Option<SecretList>,
    /// ISO 4217 code for messages without `properties.currency` (default `"USD"`).
    #[serde(default)]
    pub default_currency: Option<String>,
}

impl SegmentSettings {
    /// Settings with browser `write_keys` and every other field at its default.
    pub fn new(write_keys: SecretList) -> Self {
        SegmentSettings {
            write_keys: Some(write_keys),
            server_write_keys: None,
            shared_secret: None,
            default_currency: None,
        }
    }

    /// Settings with `server_write_keys` and every other field at its default.
    pub fn server(server_write_keys: SecretList) -> Self {
        SegmentSettings {
            write_keys: None,
            server_write_keys: Some(server_write_keys),
            shared_secret: None,
            default_currency: None,
        }
    }

    /// Every write key with whether it is a server key.
    pub fn keys(&self) -> impl Iterator<Item = (&cartback_kit::Secret, bool)> {
        let browser = self
            .write_keys
            .iter()
            .flat_map(|l| l.iter().map(|k| (k, false)));
        let server = self
            .server_write_keys
            .iter()
            .flat_map(|l| l.iter().map(|k| (k, true)));
        browser.chain(server)
    }

    /// What works but is risky: only browser keys (public), so nobody becomes reachable from
    /// this source alone.
    pub fn warnings(&self) -> Vec<String> {
        if self.write_keys.is_some()
            && self.server_write_keys.is_none()
            && self.shared_secret.is_none()
        {
            vec!["only browser write_keys are configured: they are public, so shoppers they name are never sent to until a verified source (a server write key, a signed webhook, a platform) reports the same address".into()]
        } else {
            Vec::new()
        }
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (name, list) in [
            ("write_keys", &self.write_keys),
            ("server_write_keys", &self.server_write_keys),
            ("shared_secret", &self.shared_secret),
        ] {
            if let Some(list) = list {
                out.extend(settings::secrets(name, list));
            }
        }
        if self.write_keys.is_none()
            && self.server_write_keys.is_none()
            && self.shared_secret.is_none()
        {
            out.push(Problem::new(
                "",
                "give write_keys (browser sources), server_write_keys (server sources) or shared_secret (a Webhooks destination)",
            ));
        }
        if let (Some(b), Some(s)) = (&self.write_keys, &self.server_write_keys) {
            if b.iter().any(|k| s.iter().any(|t| t.expose() == k.expose())) {
                out.push(Problem::new(
                    "server_write_keys",
                    "must not repeat a key of write_keys: a key listed in both ships in a page, so it is never a server key",
                ));
            }
        }
        out.extend(settings::currency(
            "default_currency",
            self.default_currency.as_deref(),
        ));
        out
    }

    /// The first of [`Self::problems`] as one line (`"write_keys must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }

    /// The default currency; `USD` when unset (or unreadable, which `validate` reports).
    pub fn currency(&self) -> Currency {
        self.default_currency
            .as_deref()
            .and_then(|c| Currency::parse(c).ok())
            .unwrap_or_else(|| {
                Currency::parse(DEFAULT_CURRENCY).expect("USD is three ASCII letters")
            })
    }
}

/// Segment's Tracking API host unless `base_url` says otherwise (EU workspaces use their
/// regional host).
pub const DEFAULT_BASE_URL: &str = "https://api.segment.io";

/// The track event of a reminder hand-off: Ecommerce v2's `Checkout Started` (the spec has no
/// abandoned-cart event; abandoned-checkout automations downstream start from this one).
pub const DEFAULT_EVENT_NAME: &str = "Checkout Started";

/// The track event sent once a handed-off cart is bought: Ecommerce v2's `Order Completed`.
pub const DEFAULT_CONVERTED_EVENT_NAME: &str = "Order Completed";

/// Which id the messages carry as `userId`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserId {
    /// The shop platform's customer id as the source reported it (`ContactInfo::external_id`,
    /// the `userId` the shop's own tracking uses); an anonymous contact is sent with its
    /// `anonymousId`, a contact without either with `anonymousId = "cartback:<hub id>"`.
    #[default]
    Platform,
    /// The hub's contact id.
    Hub,
    /// None: always `anonymousId` (`cartback:<hub id>`), the email in `traits`.
    None,
}

/// A Segment hand-off channel: each reminder becomes one `POST /v1/batch` of an `identify` and a
/// `track`; a cart bought after it, one `track` the downstream automation exits on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentChannelSettings {
    /// The write key of a **server** source (an HTTP API source made for the hub), sent as the
    /// HTTP basic-auth user.
    pub write_key: Secret,
    /// Defaults to [`DEFAULT_BASE_URL`].
    #[serde(default)]
    pub base_url: Option<String>,
    /// The reminder's track event; defaults to [`DEFAULT_EVENT_NAME`].
    #[serde(default)]
    pub event_name: Option<String>,
    /// The bought cart's track event; defaults to [`DEFAULT_CONVERTED_EVENT_NAME`].
    #[serde(default)]
    pub converted_event_name: Option<String>,
    /// Which id is the `userId` (default `"platform"`).
    #[serde(default)]
    pub user_id: UserId,
}

impl SegmentChannelSettings {
    /// Settings with `write_key` and every other field at its default.
    pub fn new(write_key: Secret) -> Self {
        SegmentChannelSettings {
            write_key,
            base_url: None,
            event_name: None,
            converted_event_name: None,
            user_id: UserId::default(),
        }
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        or_default(self.base_url.as_deref(), DEFAULT_BASE_URL).trim_end_matches('/')
    }

    /// `{base_url}/v1/batch`.
    pub fn batch_url(&self) -> String {
        format!("{}/v1/batch", self.base_url())
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
        let key = self.write_key.expose();
        if key.trim().is_empty() {
            out.push(Problem::new("write_key", "must not be empty"));
        } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
            out.push(Problem::new(
                "write_key",
                "must be printable ASCII without spaces or line breaks",
            ));
        }
        if let Some(u) = &self.base_url {
            out.extend(base_url_problem("base_url", u));
        }
        for (key, name) in [
            ("event_name", &self.event_name),
            ("converted_event_name", &self.converted_event_name),
        ] {
            if let Some(n) = name {
                let n = n.trim();
                if n.is_empty() {
                    out.push(Problem::new(key, "must not be empty"));
                } else if n.contains(char::is_control) {
                    out.push(Problem::new(key, format!("{n:?} must be one line")));
                }
            }
        }
        if self
            .event_name()
            .eq_ignore_ascii_case(self.converted_event_name())
        {
            out.push(Problem::new(
                "converted_event_name",
                "must differ from event_name (the automation exits on it)",
            ));
        }
        out
    }

    /// The first of [`Self::problems`] as one line (`"write_key must not be empty"`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: SegmentSettings = serde_json::from_value(serde_json::json!({
            "write_keys": ["k1", " "],
            "server_write_keys": "k1",
            "shared_secret": " ",
            "default_currency": "dollars"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "write_keys",
                "shared_secret",
                "server_write_keys",
                "default_currency"
            ]
        );
        assert_eq!(
            s.validate(),
            Err("write_keys must not be empty".to_string())
        );
        let none: SegmentSettings = serde_json::from_value(serde_json::json!({})).expect("empty");
        assert_eq!(none.problems().len(), 1);
        assert_eq!(none.problems()[0].path, "");
    }

    fn channel(v: serde_json::Value) -> SegmentChannelSettings {
        serde_json::from_value(v).expect("the table parses")
    }

    #[test]
    fn channel_defaults() {
        let s = channel(serde_json::json!({"write_key": "wk_server_0123456789"}));
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.batch_url(), "https://api.segment.io/v1/batch");
        assert_eq!(s.event_name(), "Checkout Started");
        assert_eq!(s.converted_event_name(), "Order Completed");
        assert_eq!(s.user_id, UserId::Platform);
        assert!(!format!("{s:?}").contains("wk_server_0123456789"));
    }

    #[test]
    fn every_channel_problem_is_reported_at_its_key() {
        let s = channel(serde_json::json!({
            "write_key": "wk one",
            "base_url": "api.segment.io",
            "event_name": " ",
            "converted_event_name": "Order\nCompleted",
        }));
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "write_key",
                "base_url",
                "event_name",
                "converted_event_name"
            ]
        );
        let same = channel(serde_json::json!({
            "write_key": "wk_server_0123456789",
            "base_url": "http://127.0.0.1:9/",
            "event_name": "Cart Abandoned",
            "converted_event_name": "cart abandoned",
            "user_id": "hub",
        }));
        assert_eq!(
            same.validate(),
            Err(
                "converted_event_name must differ from event_name (the automation exits on it)"
                    .into()
            )
        );
        assert_eq!(same.batch_url(), "http://127.0.0.1:9/v1/batch");
    }

    #[test]
    fn channel_typos_are_refused_and_source_keys_are_not_channel_keys() {
        for bad in [
            serde_json::json!({"write_key": "wk_server_0123456789", "evnt_name": "x"}),
            serde_json::json!({"write_key": "wk_server_0123456789", "server_write_keys": "x"}),
        ] {
            let err = serde_json::from_value::<SegmentChannelSettings>(bad).expect_err("unknown");
            assert!(err.to_string().contains("unknown field"), "{err}");
        }
    }
}
