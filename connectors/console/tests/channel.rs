//! The console channel: its settings, its address, and that it delivers.
#![allow(clippy::unwrap_used)]

use cartback_console::{Console, ConsoleSink};
use cartback_core::{AddressKind, OutboundMessage, Recipient, Sink};
use cartback_kit::plugin::{Entry, Plugin};

#[test]
fn settings_are_read_and_checked() {
    let entry = &Entry::<Console>::NEW;
    let sms = entry
        .configure(serde_json::json!({ "address": "sms" }), "channel.c")
        .unwrap();
    assert_eq!(sms.address(), Some(AddressKind::Phone));
    let default = entry.configure(serde_json::json!({}), "channel.c").unwrap();
    assert_eq!(default.address(), Some(AddressKind::Email));
    let bad = entry
        .configure(serde_json::json!({ "address": "pigeon" }), "channel.c")
        .unwrap_err();
    assert_eq!(bad[0].path, "channel.c.address");
    let typo = entry
        .configure(serde_json::json!({ "show_htm": true }), "channel.c")
        .unwrap_err();
    assert!(typo[0].message.contains("unknown field"), "{typo:?}");
}

#[tokio::test]
async fn a_message_is_printed_and_sent() {
    let sink = ConsoleSink::new(Default::default());
    let receipt = sink
        .deliver(&OutboundMessage {
            id: "m1".into(),
            channel_id: "console".into(),
            to: Recipient {
                email: Some("ann@example.com".into()),
                ..Default::default()
            },
            subject: Some("Your cart".into()),
            html: None,
            text: Some("Come back".into()),
            headers: Default::default(),
            metadata: Default::default(),
            contact: None,
            cart: None,
            test: false,
            discount_code: None,
            purpose: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("m1"));
}
