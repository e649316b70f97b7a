//! The `[channel.<id>]` / `[source.<id>]` table for `type = "twilio"`, and its pure validation.

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// Where the Twilio REST API lives unless `base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

fn default_true() -> bool {
    true
}

/// A Twilio Programmable Messaging account used as an SMS sink (and as the source of its status
/// callbacks and inbound STOP / START replies).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    /// `AC` followed by 32 hex digits.
    pub account_sid: String,
    /// The account's auth token: the Basic-auth password and the `X-Twilio-Signature` key.
    pub auth_token: Secret,
    /// The sender: an E.164 number (`+15017122661`), a short code or an alphanumeric sender id.
    /// Exactly one of `from` and `messaging_service_sid` is required.
    #[serde(default)]
    pub from: Option<String>,
    /// A Messaging Service (`MG` followed by 32 hex digits) that picks the sender.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// The API root, `https://api.twilio.com` by default (tests point it at a mock).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Ask Twilio to POST delivery reports to this channel's webhook URL (default `true`).
    #[serde(default = "default_true")]
    pub status_callback: bool,
}

impl TwilioSettings {
    /// Settings sending from the number `from`, with every other field at its default.
    pub fn with_from(
        account_sid: impl Into<String>,
        auth_token: Secret,
        from: impl Into<String>,
    ) -> Self {
        TwilioSettings {
            account_sid: account_sid.into(),
            auth_token,
            from: Some(from.into()),
            messaging_service_sid: None,
            base_url: None,
            status_callback: true,
        }
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/'))
            .unwrap_or(DEFAULT_BASE_URL)
    }

    /// `{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`.
    pub fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url(),
            self.account_sid.trim()
        )
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports. Never
    /// mentions the auth token.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !is_sid(&self.account_sid, "AC") {
            out.push(Problem::new(
                "account_sid",
                format!(
                    "{:?} must be \"AC\" followed by 32 hex digits",
                    self.account_sid
                ),
            ));
        }
        out.extend(settings::secret("auth_token", &self.auth_token));
        match (&self.from, &self.messaging_service_sid) {
            (Some(_), Some(_)) => out.push(Problem::new(
                "messaging_service_sid",
                "must not be set together with from: set either, not both",
            )),
            (None, None) => out.push(Problem::new(
                "",
                "one of from or messaging_service_sid is required",
            )),
            (Some(from), None) => {
                if !is_sender(from) {
                    out.push(Problem::new(
                        "from",
                        format!(
                            "{from:?} must be an E.164 number (\"+15017122661\"), a short code \
                             or an alphanumeric sender id"
                        ),
                    ));
                }
            }
            (None, Some(mg)) => {
                if !is_sid(mg, "MG") {
                    out.push(Problem::new(
                        "messaging_service_sid",
                        format!("{mg:?} must be \"MG\" followed by 32 hex digits"),
                    ));
                }
            }
        }
        if let Some(raw) = &self.base_url {
            match url::Url::parse(raw.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => out.push(Problem::new(
                    "base_url",
                    format!("{raw:?} must be an http(s) URL"),
                )),
            }
        }
        out
    }

    /// The first of [`Self::problems`] as one line (`"auth_token must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

/// `prefix` followed by exactly 32 hex digits (Twilio's resource sids).
fn is_sid(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An E.164 number (`+` and 8 to 15 digits, optionally `whatsapp:`-prefixed), a short code (3 to 8
/// digits) or an alphanumeric sender id (1 to 11 letters, digits or spaces, at least one letter).
fn is_sender(s: &str) -> bool {
    let s = s.strip_prefix("whatsapp:").unwrap_or(s);
    if let Some(digits) = s.strip_prefix('+') {
        return (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return (3..=8).contains(&s.len());
    }
    (1..=11).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders() {
        assert!(is_sender("+15017122661"));
        assert!(is_sender("whatsapp:+15017122661"));
        assert!(is_sender("12345"));
        assert!(is_sender("CartBack"));
        assert!(!is_sender("+1 501 712 2661"));
        assert!(!is_sender("15017122661123"));
        assert!(!is_sender("An overly long name"));
        assert!(!is_sender(""));
    }

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let mut s = TwilioSettings::with_from("AC123", Secret::new(" "), "+1 501 712 2661");
        s.base_url = Some("ftp://x".into());
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["account_sid", "auth_token", "from", "base_url"]);
        assert_eq!(
            s.validate(),
            Err("account_sid \"AC123\" must be \"AC\" followed by 32 hex digits".to_string())
        );
    }

    #[test]
    fn sids() {
        assert!(is_sid("AC0123456789abcdef0123456789ABCDEF", "AC"));
        assert!(!is_sid("AC0123456789abcdef0123456789ABCDE", "AC"));
        assert!(!is_sid("MG0123456789abcdef0123456789abcdef", "AC"));
        assert!(!is_sid("AC0123456789abcdef0123456789abcdeg", "AC"));
    }
}
