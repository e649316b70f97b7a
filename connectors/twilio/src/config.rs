//! The `[channel.<id>]` / `[source.<id>]` table for `type = "twilio"`, and its pure validation.

use cartback_kit::Secret;
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

    /// Pure validation (no I/O): what `check-config` reports. Never mentions the auth token.
    pub fn validate(&self) -> Result<(), String> {
        if !is_sid(&self.account_sid, "AC") {
            return Err(format!(
                "account_sid {:?} must be \"AC\" followed by 32 hex digits",
                self.account_sid
            ));
        }
        if self.auth_token.expose().trim().is_empty() {
            return Err("auth_token must not be empty".into());
        }
        match (&self.from, &self.messaging_service_sid) {
            (Some(_), Some(_)) => {
                return Err("set either from or messaging_service_sid, not both".into())
            }
            (None, None) => return Err("one of from or messaging_service_sid is required".into()),
            (Some(from), None) => {
                if !is_sender(from) {
                    return Err(format!(
                        "from {from:?} must be an E.164 number (\"+15017122661\"), a short code \
                         or an alphanumeric sender id"
                    ));
                }
            }
            (None, Some(mg)) => {
                if !is_sid(mg, "MG") {
                    return Err(format!(
                        "messaging_service_sid {mg:?} must be \"MG\" followed by 32 hex digits"
                    ));
                }
            }
        }
        if let Some(raw) = &self.base_url {
            match url::Url::parse(raw.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => return Err(format!("base_url {raw:?} must be an http(s) URL")),
            }
        }
        Ok(())
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
    fn sids() {
        assert!(is_sid("AC0123456789abcdef0123456789ABCDEF", "AC"));
        assert!(!is_sid("AC0123456789abcdef0123456789ABCDE", "AC"));
        assert!(!is_sid("MG0123456789abcdef0123456789abcdef", "AC"));
        assert!(!is_sid("AC0123456789abcdef0123456789abcdeg", "AC"));
    }
}
