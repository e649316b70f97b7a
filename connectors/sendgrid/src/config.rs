//! The `[channel.<id>]` table for `type = "sendgrid"`: [`SendGridSettings`] and its pure
//! validation (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// Where the SendGrid v3 API lives unless `base_url` says otherwise (EU subusers use
/// `https://api.eu.sendgrid.com`).
pub const DEFAULT_BASE_URL: &str = "https://api.sendgrid.com";

/// The category every message sent by the hub carries, besides the configured ones.
pub const HUB_CATEGORY: &str = "cartback";

/// SendGrid accepts at most 10 categories per message (the hub's own included).
pub const MAX_CATEGORIES: usize = 10;

/// A SendGrid email channel, also usable as the source of its Event Webhook.
///
/// `event_webhook_public_key` is the "Verification Key" SendGrid shows when the Signed Event
/// Webhook is enabled: base64 DER SubjectPublicKeyInfo of an ECDSA P-256 key. When it is set,
/// every event webhook must carry a valid signature. When it is **not** set, event webhooks are
/// refused (401), unless `allow_unsigned_events = true` says to accept them unsigned: then anyone
/// who knows the URL can forge bounces, opt-outs and resubscriptions, and [`Self::warnings`]
/// says so. Setting both is contradictory and fails [`Self::validate`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendGridSettings {
    /// An API key with the `mail.send` scope.
    pub api_key: Secret,
    /// `"Shop <shop@example.com>"` or `"shop@example.com"`.
    pub from: String,
    /// Same forms as `from`.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Defaults to [`DEFAULT_BASE_URL`].
    #[serde(default)]
    pub base_url: Option<String>,
    /// Extra categories (the hub always adds `"cartback"`; at most 10 in all).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Base64 DER SPKI ECDSA P-256 public key; when set, event webhooks must be signed.
    #[serde(default)]
    pub event_webhook_public_key: Option<String>,
    /// Accept event webhooks without a signature when no `event_webhook_public_key` is set
    /// (insecure: anyone who knows the URL can forge events). Off by default: without a key,
    /// event webhooks are refused.
    #[serde(default)]
    pub allow_unsigned_events: bool,
    /// Ask SendGrid to validate but not send (`mail_settings.sandbox_mode`).
    #[serde(default)]
    pub sandbox_mode: bool,
}

/// An email address with an optional display name, as SendGrid's `{email, name}` objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub email: String,
    pub name: Option<String>,
}

/// Parses `"Name <local@domain>"`, `"\"Name\" <local@domain>"`, `"<local@domain>"` or
/// `"local@domain"`.
pub fn parse_mailbox(raw: &str) -> Result<Mailbox, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.contains(['\r', '\n']) {
        return Err("contains a line break".into());
    }
    let (name, addr) = match s.rfind('<') {
        Some(open) => {
            let rest = &s[open + 1..];
            let addr = rest
                .strip_suffix('>')
                .ok_or("has '<' without a closing '>' at the end")?;
            let name = s[..open].trim().trim_matches('"').trim();
            (
                (!name.is_empty()).then(|| name.to_string()),
                addr.trim().to_string(),
            )
        }
        None if s.contains('>') => return Err("has '>' without '<'".into()),
        None => (None, s.to_string()),
    };
    let email = cartback_core::contact::clean_email(&addr)
        .filter(|e| !e.contains(['<', '>', '"', ',']))
        .ok_or_else(|| format!("{addr:?} is not an email address"))?;
    if !email
        .split_once('@')
        .is_some_and(|(_, domain)| domain.contains('.') || domain == "localhost")
    {
        return Err(format!("{email:?} has no domain"));
    }
    Ok(Mailbox { email, name })
}

impl SendGridSettings {
    /// Settings with `api_key`, `from` and every other field at its default.
    pub fn new(api_key: Secret, from: impl Into<String>) -> Self {
        SendGridSettings {
            api_key,
            from: from.into(),
            reply_to: None,
            base_url: None,
            categories: Vec::new(),
            event_webhook_public_key: None,
            allow_unsigned_events: false,
            sandbox_mode: false,
        }
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
    }

    /// `{base_url}/v3/mail/send`.
    pub fn mail_send_url(&self) -> String {
        format!("{}/v3/mail/send", self.base_url())
    }

    /// The categories sent with every message: the configured ones (trimmed, deduplicated, in
    /// order) followed by `"cartback"` unless already listed.
    pub fn effective_categories(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in self
            .categories
            .iter()
            .map(|c| c.trim())
            .chain([HUB_CATEGORY])
        {
            if !out.iter().any(|o| o == c) {
                out.push(c.to_string());
            }
        }
        out
    }

    /// The parsed `from`.
    pub fn from_mailbox(&self) -> Result<Mailbox, String> {
        parse_mailbox(&self.from).map_err(|e| format!("from {:?} {e}", self.from))
    }

    /// The parsed `reply_to`, if set.
    pub fn reply_to_mailbox(&self) -> Result<Option<Mailbox>, String> {
        self.reply_to
            .as_deref()
            .map(|r| parse_mailbox(r).map_err(|e| format!("reply_to {r:?} {e}")))
            .transpose()
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let key = self.api_key.expose();
        if key.trim().is_empty() {
            out.push(Problem::new("api_key", "must not be empty"));
        } else if key.trim() != key || key.contains(char::is_control) {
            out.push(Problem::new(
                "api_key",
                "must not contain spaces or line breaks",
            ));
        }
        if let Err(e) = parse_mailbox(&self.from) {
            out.push(Problem::new("from", format!("{:?} {e}", self.from)));
        }
        if let Some(r) = &self.reply_to {
            if let Err(e) = parse_mailbox(r) {
                out.push(Problem::new("reply_to", format!("{r:?} {e}")));
            }
        }
        if let Some(u) = &self.base_url {
            let u = u.trim();
            match u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"))
            {
                None => out.push(Problem::new(
                    "base_url",
                    format!("{u:?} must start with https:// or http://"),
                )),
                Some(rest)
                    if rest.trim_end_matches('/').is_empty()
                        || rest.contains(char::is_whitespace) =>
                {
                    out.push(Problem::new("base_url", format!("{u:?} has no host")))
                }
                Some(_) => {}
            }
        }
        for (i, c) in self.categories.iter().enumerate() {
            let t = c.trim();
            let at = format!("categories[{i}]");
            if t.is_empty() {
                out.push(Problem::new(at, "must not be an empty name"));
            } else if t.len() > 255 || t.contains(char::is_control) {
                out.push(Problem::new(
                    at,
                    format!("{t:?} must be at most 255 characters on one line"),
                ));
            }
        }
        let n = self.effective_categories().len();
        if n > MAX_CATEGORIES {
            out.push(Problem::new(
                "categories",
                format!(
                    "SendGrid accepts at most {MAX_CATEGORIES} categories and the hub adds \
                     {HUB_CATEGORY:?}: list at most {} (got {})",
                    MAX_CATEGORIES - 1,
                    self.categories.len()
                ),
            ));
        }
        out.extend(self.event_webhook_problem());
        out
    }

    /// The first of [`Self::problems`] as one line (`"api_key must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }

    /// The Event Webhook part of [`Self::problems`]: a key that parses, and not both a key and
    /// `allow_unsigned_events = true`.
    fn event_webhook_problem(&self) -> Option<Problem> {
        let k = self.event_webhook_public_key.as_ref()?;
        if self.allow_unsigned_events {
            return Some(Problem::new(
                "allow_unsigned_events",
                "= true contradicts event_webhook_public_key: \
                 with a key every event must be signed; remove allow_unsigned_events",
            ));
        }
        crate::verify::parse_public_key(k)
            .err()
            .map(|e| Problem::new("event_webhook_public_key", e))
    }

    /// Settings that are valid but insecure, as one line each (for `check-config` and start-up
    /// logging). Pure; empty when there is nothing to say.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.allow_unsigned_events && self.event_webhook_public_key.is_none() {
            out.push(
                "allow_unsigned_events = true: event webhooks are accepted without a signature, \
                 so anyone who knows the URL can forge bounces, opt-outs and resubscriptions; \
                 set event_webhook_public_key instead"
                    .to_string(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mailboxes() {
        assert_eq!(
            parse_mailbox("Shop <shop@example.com>"),
            Ok(Mailbox {
                email: "shop@example.com".into(),
                name: Some("Shop".into())
            })
        );
        assert_eq!(
            parse_mailbox(" \"Ann's Shop\" < ann@shop.io > "),
            Ok(Mailbox {
                email: "ann@shop.io".into(),
                name: Some("Ann's Shop".into())
            })
        );
        assert_eq!(
            parse_mailbox("shop@example.com"),
            Ok(Mailbox {
                email: "shop@example.com".into(),
                name: None
            })
        );
        assert_eq!(
            parse_mailbox("<shop@example.com>").map(|m| m.name),
            Ok(None)
        );
        for bad in [
            "",
            "Shop",
            "Shop <shop@example.com",
            "Shop shop@example.com>",
            "a@b@c.com",
            "Shop <>",
            "x@nodot",
            "Shop <a@b.com>\r\nBcc: x@y.com",
        ] {
            assert!(parse_mailbox(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn categories_include_the_hub_once() {
        let mut s = SendGridSettings::new(Secret::new("SG.x"), "a@b.co");
        s.categories = vec!["reminders".into(), "cartback".into(), " reminders ".into()];
        assert_eq!(s.effective_categories(), vec!["reminders", "cartback"]);
        s.validate().expect("valid");
        s.categories = (0..10).map(|i| format!("c{i}")).collect();
        assert!(s.validate().unwrap_err().contains("at most 9"));
        s.categories.pop();
        s.validate().expect("nine plus the hub's");
    }

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let mut s = SendGridSettings::new(Secret::new(" SG.x"), "Shop");
        s.reply_to = Some("nope".into());
        s.base_url = Some("api.sendgrid.com".into());
        s.categories = vec!["ok".into(), " ".into()];
        s.event_webhook_public_key = Some("bm90IGEga2V5".into());
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "api_key",
                "from",
                "reply_to",
                "base_url",
                "categories[1]",
                "event_webhook_public_key"
            ]
        );
        assert_eq!(
            s.validate(),
            Err("api_key must not contain spaces or line breaks".to_string())
        );
        s.allow_unsigned_events = true;
        assert_eq!(
            s.problems().last().map(|p| p.path.as_str()),
            Some("allow_unsigned_events")
        );
    }

    #[test]
    fn base_url_defaults_and_trims() {
        let mut s = SendGridSettings::new(Secret::new("SG.x"), "a@b.co");
        assert_eq!(s.mail_send_url(), "https://api.sendgrid.com/v3/mail/send");
        s.base_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(s.mail_send_url(), "http://127.0.0.1:9/v3/mail/send");
        s.base_url = Some("ftp://x".into());
        assert!(s.validate().is_err());
    }
}
