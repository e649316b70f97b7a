//! The `[sink.<id>]` table for `type = "smtp"`.

use cartback_kit::Secret;
use lettre::message::Mailbox;
use serde::Deserialize;

fn starttls() -> String {
    "starttls".to_string()
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with `STARTTLS` (required); default port 587.
    StartTls,
    /// TLS from the first byte ("SMTPS"); default port 465.
    Tls,
    /// No encryption at all: only for a relay on localhost or in tests; default port 25.
    Plain,
}

impl Security {
    pub fn parse(s: &str) -> Option<Security> {
        match s.trim().to_ascii_lowercase().as_str() {
            "starttls" => Some(Security::StartTls),
            "tls" => Some(Security::Tls),
            "plain" => Some(Security::Plain),
            _ => None,
        }
    }

    pub fn default_port(&self) -> u16 {
        match self {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::Plain => 25,
        }
    }
}

/// An SMTP relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// The relay's host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Defaults by `security`: 465 for `tls`, 587 for `starttls`, 25 for `plain`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `"starttls"` (default), `"tls"` or `"plain"`.
    #[serde(default = "starttls")]
    pub security: String,
    /// SMTP AUTH user; set together with `password`, or neither.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// The sender, `"Shop <shop@example.com>"` or a bare address.
    pub from: String,
    #[serde(default)]
    pub reply_to: Option<String>,
}

impl SmtpSettings {
    /// Settings for `host` and `from`, every other field at its default.
    pub fn new(host: impl Into<String>, from: impl Into<String>) -> Self {
        SmtpSettings {
            host: host.into(),
            port: None,
            security: starttls(),
            username: None,
            password: None,
            from: from.into(),
            reply_to: None,
        }
    }

    /// Pure validation (no I/O): what `check-config` reports.
    pub fn validate(&self) -> Result<(), String> {
        let host = self.host.trim();
        if host.is_empty() || host.contains(['/', ' ', ':', '@']) {
            return Err(format!(
                "host {:?} must be a bare host name such as \"smtp.example.com\"",
                self.host
            ));
        }
        self.security_mode()?;
        if self.port == Some(0) {
            return Err("port must not be 0".into());
        }
        match (&self.username, &self.password) {
            (Some(u), Some(_)) if u.trim().is_empty() => {
                return Err("username must not be empty".into())
            }
            (Some(_), None) => return Err("username is set but password is not".into()),
            (None, Some(_)) => return Err("password is set but username is not".into()),
            _ => {}
        }
        self.from_mailbox()?;
        self.reply_to_mailbox()?;
        Ok(())
    }

    /// The parsed `security` mode.
    pub fn security_mode(&self) -> Result<Security, String> {
        Security::parse(&self.security).ok_or_else(|| {
            format!(
                "security {:?} must be \"starttls\", \"tls\" or \"plain\"",
                self.security
            )
        })
    }

    /// `port`, or the default for the security mode.
    pub fn effective_port(&self) -> Result<u16, String> {
        Ok(match self.port {
            Some(p) => p,
            None => self.security_mode()?.default_port(),
        })
    }

    /// `from` parsed as a mailbox.
    pub fn from_mailbox(&self) -> Result<Mailbox, String> {
        parse_mailbox("from", &self.from)
    }

    /// `reply_to` parsed as a mailbox, when set.
    pub fn reply_to_mailbox(&self) -> Result<Option<Mailbox>, String> {
        self.reply_to
            .as_deref()
            .map(|r| parse_mailbox("reply_to", r))
            .transpose()
    }
}

fn parse_mailbox(field: &str, value: &str) -> Result<Mailbox, String> {
    value.trim().parse::<Mailbox>().map_err(|e| {
        format!("{field} {value:?} is not an address such as \"Shop <shop@example.com>\": {e}")
    })
}
