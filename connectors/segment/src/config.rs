//! The `[source.<id>]` table for `type = "segment"`.

use cartback_core::{Currency, Problem};
use cartback_kit::{settings, SecretList};
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
}
