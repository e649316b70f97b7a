//! The web channel: its settings are read and checked, and it "sends" by being recorded.
#![allow(clippy::unwrap_used)]

use cartback_core::{AddressKind, OutboundMessage, Sink};
use cartback_kit::plugin::{Entry, Plugin};
use cartback_web::{Web, WebSettings, WebSink};

fn table() -> serde_json::Value {
    serde_json::json!({ "site_key": "pk_shop", "origins": ["https://shop.example"] })
}

#[test]
fn settings_are_read_with_their_defaults_and_checked() {
    let entry = &Entry::<Web>::NEW;
    let web = entry.configure(table(), "channel.web").unwrap();
    assert_eq!(web.address(), Some(AddressKind::Web));
    let s = web.settings().downcast_ref::<WebSettings>().unwrap();
    assert!(s.landing_only);
    assert_eq!(s.window.0.as_secs(), 3 * 86_400);
    assert_eq!(s.visitor_lifetime.0.as_secs(), 30 * 86_400);
    for (bad, what) in [
        (
            serde_json::json!({ "site_key": "pk shop", "origins": ["https://shop.example"] }),
            "site_key",
        ),
        (
            serde_json::json!({ "site_key": "pk", "origins": [] }),
            "origins",
        ),
        (
            serde_json::json!({ "site_key": "pk", "origins": ["https://shop.example/path"] }),
            "origin",
        ),
        (
            serde_json::json!({ "site_key": "pk", "origins": ["https://shop.example"], "visitor_lifetime": "0s" }),
            "visitor_lifetime",
        ),
    ] {
        let err = entry.configure(bad, "channel.web").unwrap_err();
        assert!(err[0].to_string().contains(what), "{err:?}");
    }
}

#[tokio::test]
async fn sending_is_being_recorded() {
    let m: OutboundMessage = serde_json::from_value(serde_json::json!({
        "id": "m1", "channel_id": "web", "to": {}, "headers": {}, "metadata": {}, "test": false
    }))
    .unwrap();
    let r = WebSink.deliver(&m).await.unwrap();
    assert_eq!(r.provider_message_id.as_deref(), Some("web-m1"));
}
