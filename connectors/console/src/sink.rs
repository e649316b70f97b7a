//! [`ConsoleSink`]: prints each rendered message to standard output.

use crate::config::ConsoleSettings;
use async_trait::async_trait;
use cartback_core::{DeliveryError, OutboundMessage, Receipt, Sink};
use std::io::Write;

#[derive(Debug)]
pub struct ConsoleSink {
    settings: ConsoleSettings,
}

impl ConsoleSink {
    pub fn new(settings: ConsoleSettings) -> Self {
        ConsoleSink { settings }
    }
}

#[async_trait]
impl Sink for ConsoleSink {
    fn kind(&self) -> &'static str {
        "console"
    }

    async fn deliver(&self, m: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let to =
            m.to.email
                .as_deref()
                .or(m.to.phone.as_deref())
                .unwrap_or("(nobody)");
        let mut out = format!(
            "──── cartback console channel {} · message {}{}\nTo: {to}\n",
            m.channel_id,
            m.id,
            if m.test { " · TEST" } else { "" }
        );
        if let Some(s) = &m.subject {
            out.push_str(&format!("Subject: {s}\n"));
        }
        if let Some(t) = &m.text {
            out.push_str(&format!("\n{t}\n"));
        }
        if self.settings.show_html {
            if let Some(h) = &m.html {
                out.push_str(&format!("\n{h}\n"));
            }
        }
        out.push_str("────\n");
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(out.as_bytes())
            .and_then(|_| stdout.flush())
            .map_err(|e| DeliveryError::Retryable {
                reason: e.to_string(),
                retry_after: None,
            })?;
        Ok(Receipt {
            provider_message_id: Some(m.id.clone()),
        })
    }
}
