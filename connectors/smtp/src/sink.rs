//! [`SmtpSink`]: hands a rendered reminder to an SMTP relay and classifies the relay's answer.
//!
//! The sink only says *whether* a failure is retryable; the outbox decides *when*. Errors never
//! carry the password or the message's subject or bodies.

use crate::config::{Security, SmtpSettings};
use crate::message::{build, message_id};
use cartback_core::{DeliveryError, OutboundMessage, Receipt, Sink, SinkContext};
use cartback_kit::plugin::BuildError;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// The SMTP email sink.
pub struct SmtpSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    host: String,
    port: u16,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpSink {
    /// Validates `settings` and builds the transport (no connection is opened until a delivery).
    pub fn new(settings: SmtpSettings, ctx: SinkContext) -> Result<Self, BuildError> {
        settings.validate()?;
        let security = settings.security_mode()?;
        let port = settings.effective_port()?;
        let from = settings.from_mailbox()?;
        let reply_to = settings.reply_to_mailbox()?;
        let host = settings.host.trim().to_string();
        let builder = match security {
            Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .map_err(|e| {
                    BuildError::Settings(format!("cannot set up STARTTLS for {host:?}: {e}"))
                })?,
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(|e| {
                BuildError::Settings(format!("cannot set up TLS for {host:?}: {e}"))
            })?,
        };
        let mut builder = builder.port(port).timeout(Some(ctx.timeout));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(SmtpSink {
            transport: builder.build(),
            from,
            reply_to,
            host,
            port,
            timeout: ctx.timeout,
        })
    }
}

#[async_trait::async_trait]
impl Sink for SmtpSink {
    fn kind(&self) -> &'static str {
        "smtp"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let email = build(message, &self.from, self.reply_to.as_ref())?;
        // lettre's timeout bounds each read and write; this bounds the whole conversation
        // (a relay that trickles bytes), with slack so that lettre's own, more precise error wins.
        let whole = self.timeout.saturating_mul(2);
        match tokio::time::timeout(whole, self.transport.send(email)).await {
            Ok(Ok(_response)) => Ok(Receipt {
                provider_message_id: Some(message_id(&message.id)),
            }),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(DeliveryError::Unknown {
                reason: format!(
                    "the SMTP conversation with {}:{} took longer than {whole:?}",
                    self.host, self.port
                ),
            }),
        }
    }
}

/// Maps a lettre error: a 5xx reply is permanent; a 4xx reply, a failed connect or TLS
/// handshake (nothing sent yet) are retryable; a timeout or a connection lost mid-conversation
/// is unknown (the relay may have accepted the message).
pub fn classify(err: &lettre::transport::smtp::Error) -> DeliveryError {
    let reason = err.to_string();
    if err.is_permanent() {
        return DeliveryError::Permanent { reason };
    }
    if err.is_transient() {
        return DeliveryError::Retryable {
            reason,
            retry_after: None,
        };
    }
    // lettre has no predicate for its connection kind; its message starts with this text.
    // Connect failures (refused, unreachable, DNS, connect timeout) happen before anything is sent.
    let connect_failed = reason.starts_with("Connection error") || io_kind_is_refused(err);
    if connect_failed || err.is_tls() {
        return DeliveryError::Retryable {
            reason,
            retry_after: None,
        };
    }
    if err.is_client() {
        // A configuration the relay cannot work with (no STARTTLS, no common AUTH mechanism).
        return DeliveryError::Permanent { reason };
    }
    // Timeouts, broken connections and unparsable replies once the conversation started: the
    // message may have been accepted.
    DeliveryError::Unknown { reason }
}

fn io_kind_is_refused(err: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            );
        }
        source = e.source();
    }
    false
}
