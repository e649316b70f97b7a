//! Who a cart belongs to: identity, reachability and per-channel consent.

use serde::{Deserialize, Serialize};

/// Marketing consent for one channel, as the platform reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// The platform said nothing.
    #[default]
    Unknown,
    /// Never subscribed (or double opt-in still pending).
    NotSubscribed,
    /// Opted in to marketing on this channel.
    Subscribed,
    /// Opted out, bounced as invalid, or redacted: never contact on this channel.
    Unsubscribed,
}

impl Consent {
    pub fn as_str(&self) -> &'static str {
        match self {
            Consent::Unknown => "unknown",
            Consent::NotSubscribed => "not_subscribed",
            Consent::Subscribed => "subscribed",
            Consent::Unsubscribed => "unsubscribed",
        }
    }

    pub fn parse(s: &str) -> Consent {
        match s {
            "not_subscribed" => Consent::NotSubscribed,
            "subscribed" => Consent::Subscribed,
            "unsubscribed" => Consent::Unsubscribed,
            _ => Consent::Unknown,
        }
    }

    /// Merges a newer report into what is known: `Unknown` never overwrites a known state.
    pub fn merge(self, newer: Consent) -> Consent {
        if newer == Consent::Unknown {
            self
        } else {
            newer
        }
    }
}

/// A contact as a source reports it. Every field is optional: sources know different things.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContactInfo {
    /// The email as given (trimmed); match on [`normalize_email`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 (`+15555550100`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// BCP 47 tag such as `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// IANA zone such as `Europe/Paris`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub email_consent: Consent,
    #[serde(default)]
    pub sms_consent: Consent,
    /// The platform's own customer id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl ContactInfo {
    /// True when the contact can be told apart from others (email or phone).
    pub fn is_identified(&self) -> bool {
        self.email.is_some() || self.phone.is_some()
    }

    pub fn email_norm(&self) -> Option<String> {
        self.email.as_deref().map(normalize_email)
    }
}

/// The longest email address accepted (RFC 5321: 256 for the path, less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Emails are trimmed and lower-cased for matching (kept as given for sending).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Returns a trimmed email if it looks like one (`local@domain`), else `None`.
pub fn clean_email(email: &str) -> Option<String> {
    let e = email.trim();
    let (local, domain) = e.split_once('@')?;
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || e.len() > MAX_EMAIL_LEN
        || e.contains(char::is_whitespace)
    {
        return None;
    }
    Some(e.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number could not be parsed: {0}")]
    Unparseable(String),
    #[error("phone number is not a valid number")]
    Invalid,
    #[error("phone number has no country code and no default region was given")]
    NoRegion,
    #[error("unknown region {0:?}")]
    BadRegion(String),
}

/// Normalizes a phone number to E.164. Numbers without a leading `+` (or `00`) need
/// `default_region` (ISO 3166 alpha-2, such as `US` or `FR`).
pub fn normalize_phone(raw: &str, default_region: Option<&str>) -> Result<String, PhoneError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    if trimmed.len() > 64 {
        return Err(PhoneError::Unparseable("too long".into()));
    }
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let candidate = if let Some(rest) = trimmed.strip_prefix("00") {
        format!("+{rest}")
    } else {
        trimmed.to_string()
    };
    let region = match (international, default_region) {
        (true, _) => None,
        (false, Some(r)) => Some(
            r.trim()
                .to_ascii_uppercase()
                .parse::<phonenumber::country::Id>()
                .map_err(|_| PhoneError::BadRegion(r.to_string()))?,
        ),
        (false, None) => return Err(PhoneError::NoRegion),
    };
    let parsed = phonenumber::parse(region, &candidate)
        .map_err(|e| PhoneError::Unparseable(e.to_string()))?;
    if !phonenumber::is_valid(&parsed) {
        return Err(PhoneError::Invalid);
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_phones_to_e164() {
        assert_eq!(
            normalize_phone("+1 (415) 867-5309", None).unwrap(),
            "+14158675309"
        );
        assert_eq!(
            normalize_phone("(415) 867-5309", Some("US")).unwrap(),
            "+14158675309"
        );
        assert_eq!(
            normalize_phone("06 12 34 56 78", Some("fr")).unwrap(),
            "+33612345678"
        );
        assert_eq!(
            normalize_phone("0033 6 12 34 56 78", None).unwrap(),
            "+33612345678"
        );
        assert_eq!(
            normalize_phone("+44 20 7946 0958", Some("US")).unwrap(),
            "+442079460958"
        );
    }

    #[test]
    fn rejects_bad_phones() {
        assert_eq!(normalize_phone("  ", None), Err(PhoneError::Empty));
        assert_eq!(
            normalize_phone("4158675309", None),
            Err(PhoneError::NoRegion)
        );
        assert!(normalize_phone("+1 123", None).is_err());
        assert!(normalize_phone("not a phone", Some("US")).is_err());
        assert!(matches!(
            normalize_phone("4158675309", Some("XX")),
            Err(PhoneError::BadRegion(_))
        ));
        assert!(normalize_phone(&"9".repeat(200), Some("US")).is_err());
    }

    #[test]
    fn normalizes_emails() {
        assert_eq!(
            normalize_email("  Ann.Lee@Example.COM "),
            "ann.lee@example.com"
        );
        assert_eq!(clean_email(" Ann@x.io "), Some("Ann@x.io".to_string()));
        assert_eq!(clean_email("nope"), None);
        assert_eq!(clean_email("a@b@c"), None);
        assert_eq!(clean_email("@b"), None);
    }

    #[test]
    fn consent_merge_keeps_known_state() {
        assert_eq!(
            Consent::Subscribed.merge(Consent::Unknown),
            Consent::Subscribed
        );
        assert_eq!(
            Consent::Subscribed.merge(Consent::Unsubscribed),
            Consent::Unsubscribed
        );
        assert_eq!(
            Consent::parse(Consent::NotSubscribed.as_str()),
            Consent::NotSubscribed
        );
    }
}
