//! The `[channel.<id>]` table for `type = "smtp"`.

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
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

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let host = self.host.trim();
        if host.is_empty() || host.contains(['/', ' ', ':', '@']) {
            out.push(Problem::new(
                "host",
                format!(
                    "{:?} must be a bare host name such as \"smtp.example.com\"",
                    self.host
                ),
            ));
        }
        out.extend(self.security().err());
        if self.port == Some(0) {
            out.push(Problem::new("port", "must not be 0"));
        }
        match (&self.username, &self.password) {
            (Some(u), Some(_)) if u.trim().is_empty() => {
                out.push(Problem::new("username", "must not be empty"))
            }
            (Some(_), None) => out.push(Problem::new("password", "is not set but username is")),
            (None, Some(_)) => out.push(Problem::new("username", "is not set but password is")),
            _ => {}
        }
        out.extend(parse_mailbox("from", &self.from).err());
        if let Some(r) = &self.reply_to {
            out.extend(parse_mailbox("reply_to", r).err());
        }
        out
    }

    /// The first of [`Self::problems`] as one line (`"port must not be 0"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }

    fn security(&self) -> Result<Security, Problem> {
        Security::parse(&self.security).ok_or_else(|| {
            Problem::new(
                "security",
                format!(
                    "{:?} must be \"starttls\", \"tls\" or \"plain\"",
                    self.security
                ),
            )
        })
    }

    /// The parsed `security` mode.
    pub fn security_mode(&self) -> Result<Security, String> {
        self.security().map_err(|p| settings::line(&p))
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
        parse_mailbox("from", &self.from).map_err(|p| settings::line(&p))
    }

    /// `reply_to` parsed as a mailbox, when set.
    pub fn reply_to_mailbox(&self) -> Result<Option<Mailbox>, String> {
        self.reply_to
            .as_deref()
            .map(|r| parse_mailbox("reply_to", r).map_err(|p| settings::line(&p)))
            .transpose()
    }
}

fn parse_mailbox(field: &str, value: &str) -> Result<Mailbox, Problem> {
    value.trim().parse::<Mailbox>().map_err(|e| {
        Problem::new(
            field,
            format!("{value:?} is not an address such as \"Shop <shop@example.com>\": {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let mut s = SmtpSettings::new("smtp.example.com:587", "Shop");
        s.security = "ssl".into();
        s.port = Some(0);
        s.username = Some("shop".into());
        s.reply_to = Some("<nope".into());
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            ["host", "security", "port", "password", "from", "reply_to"]
        );
        assert_eq!(
            s.validate(),
            Err(
                "host \"smtp.example.com:587\" must be a bare host name such as \"smtp.example.com\""
                    .to_string()
            )
        );
        assert_eq!(
            SmtpSettings::new("smtp.example.com", "shop@example.com").problems(),
            Vec::new()
        );
    }
}
