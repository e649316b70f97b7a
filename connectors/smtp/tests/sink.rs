//! The sink against a scripted SMTP listener: the exact envelope and message, and refusals at
//! `RCPT TO`. Refusals after DATA, closed ports and silent relays are the sink suite's
//! (`tests/conformance.rs`).
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{DeliveryError, Sink};
use cartback_smtp::SmtpSink;
use common::{ctx, message, settings, Script, SmtpServer};
use std::time::Duration;

fn sink(server: &SmtpServer, timeout: Duration) -> SmtpSink {
    SmtpSink::new(settings(server.addr), ctx(timeout)).unwrap()
}

/// The header block of a recorded message, unfolded, as (lower-case name, value) pairs.
fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    let head = data.split("\r\n\r\n").next()?;
    head.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn sends_envelope_headers_and_both_parts() {
    let server = SmtpServer::start(Script::default()).await;
    let sink = sink(&server, Duration::from_secs(5));
    assert_eq!(sink.kind(), "smtp");

    let receipt = sink.deliver(&message()).await.unwrap();
    let expected_id = "<0193a6f0-7c1e-7b7a-9f00-000000000001@cartback>";
    assert_eq!(receipt.provider_message_id.as_deref(), Some(expected_id));

    let txs = server.transactions();
    assert_eq!(txs.len(), 1);
    let tx = &txs[0];
    assert_eq!(tx.mail_from, "<shop@example.com>");
    assert_eq!(tx.rcpt_to, vec!["<ann.lee@example.com>".to_string()]);

    let data = &tx.data;
    assert_eq!(header(data, "Message-ID"), Some(expected_id));
    assert_eq!(
        header(data, "Subject"),
        Some("You left something in your cart")
    );
    assert_eq!(header(data, "From"), Some("Shop <shop@example.com>"));
    assert_eq!(
        header(data, "To"),
        Some("\"Ann Lee\" <ann.lee@example.com>")
    );
    assert_eq!(header(data, "Reply-To"), Some("help@example.com"));
    assert_eq!(
        header(data, "List-Unsubscribe"),
        Some("<https://hub.example.com/u/dTA6MDE5M2E2ZjA.k2Zq>")
    );
    assert_eq!(
        header(data, "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(header(data, "Content-Type")
        .unwrap()
        .starts_with("multipart/alternative"));
    assert!(data.contains("Content-Type: text/plain"), "{data}");
    assert!(data.contains("Content-Type: text/html"), "{data}");
    assert!(
        data.contains("\r\nHi Ann, your cart is waiting.\r\n"),
        "{data}"
    );
    assert!(
        data.contains("<p>Hi Ann, your cart is waiting.</p>"),
        "{data}"
    );
}

#[tokio::test]
async fn one_part_when_only_one_body() {
    let server = SmtpServer::start(Script::default()).await;
    let sink = sink(&server, Duration::from_secs(5));

    let mut text_only = message();
    text_only.html = None;
    sink.deliver(&text_only).await.unwrap();
    let mut html_only = message();
    html_only.text = None;
    sink.deliver(&html_only).await.unwrap();

    let txs = server.transactions();
    assert_eq!(txs.len(), 2);
    assert!(header(&txs[0].data, "Content-Type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(!txs[0].data.contains("multipart"));
    assert!(header(&txs[1].data, "Content-Type")
        .unwrap()
        .starts_with("text/html"));
    assert!(txs[1].data.contains("<p>Hi Ann, your cart is waiting.</p>"));
}

#[tokio::test]
async fn unsendable_messages_are_permanent_without_connecting() {
    let server = SmtpServer::start(Script::default()).await;
    let sink = sink(&server, Duration::from_secs(5));

    let mut no_email = message();
    no_email.to.email = None;
    let mut bad_email = message();
    bad_email.to.email = Some("not an address".into());
    let mut no_body = message();
    no_body.text = None;
    no_body.html = None;
    let mut injected = message();
    injected
        .headers
        .insert("X-Extra".into(), "a\r\nBcc: victim@example.com".into());
    let mut overriding = message();
    overriding
        .headers
        .insert("From".into(), "someone@example.com".into());

    for m in [no_email, bad_email, no_body, injected, overriding] {
        let err = sink.deliver(&m).await.unwrap_err();
        assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    }
    assert!(server.transactions().is_empty());
}

#[tokio::test]
async fn rcpt_550_is_permanent() {
    let server = SmtpServer::start(Script {
        rcpt_reply: Some("550 5.1.1 No such user here"),
        ..Script::default()
    })
    .await;
    let err = sink(&server, Duration::from_secs(5))
        .deliver(&message())
        .await
        .unwrap_err();
    match err {
        DeliveryError::Permanent { reason } => assert!(reason.contains("550"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rcpt_451_is_retryable() {
    let server = SmtpServer::start(Script {
        rcpt_reply: Some("451 4.7.1 Greylisted, try again later"),
        ..Script::default()
    })
    .await;
    let err = sink(&server, Duration::from_secs(5))
        .deliver(&message())
        .await
        .unwrap_err();
    match err {
        DeliveryError::Retryable { reason, .. } => assert!(reason.contains("451"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
