//! The sink conformance suite (`cartback_testkit::conformance`) for SMTP, against the scripted
//! relay of `tests/common`: what each HTTP status of the suite means is answered as SMTP says
//! it (a 4xx reply for 429 and 5xx, a 5xx reply for other 4xx, at the end of DATA, so the message
//! did reach the relay), and SMTP has no `Retry-After`: retryable answers carry no delay.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{OutboundMessage, SinkContext};
use cartback_kit::Secret;
use cartback_smtp::SmtpSink;
use cartback_testkit::conformance::sink::{Answer, FakeProvider, SinkCase};
use common::{message, settings, Script, SmtpServer};
use std::net::SocketAddr;

const USER: &str = "relay-user";
const PASSWORD: &str = "smtp-pass-8c7b6a5d4e";

/// The relay's reply at the end of DATA to a message the suite has refused with `status`.
fn reply(status: u16) -> &'static str {
    match status {
        429 => "452 4.3.1 Too many messages, try again later",
        408 | 500..=599 => "451 4.3.0 Local error in processing, try again later",
        _ => "554 5.7.1 Message rejected",
    }
}

impl FakeProvider for SmtpServer {
    type Accept = ();
    const SAYS_WHEN: bool = false;

    async fn start(answer: Answer<()>) -> Self {
        let script = match answer {
            Answer::Accept(()) => Script::default(),
            Answer::Status { status, .. } => Script {
                data_reply: Some(reply(status)),
                ..Script::default()
            },
            Answer::Silent => Script {
                silent_after_data: true,
                ..Script::default()
            },
        };
        SmtpServer::start(script).await
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn received(&self) -> usize {
        self.transactions().len()
    }
}

struct Smtp;

impl SinkCase for Smtp {
    type Sink = SmtpSink;
    type Provider = SmtpServer;

    fn sink(&self, provider: SocketAddr, ctx: SinkContext) -> SmtpSink {
        let mut s = settings(provider);
        s.username = Some(USER.into());
        s.password = Some(Secret::new(PASSWORD));
        SmtpSink::new(s, ctx).unwrap()
    }

    fn message(&self) -> OutboundMessage {
        message()
    }

    fn accepted(&self) {}

    /// The Message-ID the sink sets (SMTP relays give none back).
    fn message_id(&self) -> Option<String> {
        Some("<0193a6f0-7c1e-7b7a-9f00-000000000001@cartback>".into())
    }

    fn credentials(&self) -> Vec<String> {
        vec![PASSWORD.into()]
    }
}

cartback_testkit::sink_conformance!(smtp, Smtp);

/// The suite's sink does log in: its password is one the relay sees.
#[test]
fn the_relay_sees_the_password() {
    cartback_testkit::conformance::block_on(async {
        let relay = SmtpServer::start(Script::default()).await;
        let sink = Smtp.sink(relay.addr, common::ctx(std::time::Duration::from_secs(10)));
        cartback_core::Sink::deliver(&sink, &message())
            .await
            .unwrap();
        assert_eq!(relay.logins(), vec![format!("{USER}:{PASSWORD}")]);
    });
}
