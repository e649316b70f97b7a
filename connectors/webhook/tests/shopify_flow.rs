//! Shopify Flow → the hub, as docs/CONNECTORS.md's "Shopify Flow" section documents it: the
//! "Send HTTP request" action's request (method, URL, headers from the action's table, the body
//! as Flow renders the documented Liquid) is accepted by a `type = "segment"` source with a
//! server write key, believed, and becomes the cart with its email, items and recovery link; the
//! Liquid and its rendered example carry the same keys; and a request without the key is refused.
#![allow(clippy::unwrap_used)]

use cartback_core::{verify, EventKind, InboundRequest, Source, Trust};
use cartback_kit::{Secret, SecretList};
use cartback_segment::verify::basic_auth;
use cartback_segment::{SegmentSettings, SegmentSource};
use std::collections::BTreeSet;

const FLOW_WRITE_KEY: &str = "flow-server-write-key-7f3a9c";

fn section() -> String {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/CONNECTORS.md"
    ))
    .unwrap();
    let start = docs
        .find("## Shopify Flow")
        .expect("docs/CONNECTORS.md has the Shopify Flow section");
    let rest = &docs[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

fn block(section: &str, lang: &str) -> String {
    let start = section.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
    let len = section[start..].find("```").unwrap();
    section[start..start + len].to_string()
}

/// The value column of the action table's row `field`.
fn action_field(section: &str, field: &str) -> String {
    let row = section
        .lines()
        .find(|l| l.starts_with(&format!("| {field} |")))
        .unwrap_or_else(|| panic!("no {field} row"));
    row.split('|').nth(2).unwrap().trim().to_string()
}

/// Every `"key":` of a JSON-ish text.
fn keys(text: &str) -> BTreeSet<String> {
    text.split('"')
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[1].trim_start().starts_with(':'))
        .map(|w| w[0].to_string())
        .collect()
}

fn source() -> SegmentSource {
    SegmentSource::new(SegmentSettings {
        write_keys: None,
        server_write_keys: Some(SecretList::new(vec![Secret::new(FLOW_WRITE_KEY)])),
        shared_secret: None,
        default_currency: None,
    })
}

/// The request Flow's action sends, built from the documented action table and `body`.
fn flow_request(section: &str, body: &str, authorization: Option<&str>) -> InboundRequest {
    assert_eq!(action_field(section, "HTTP method"), "`POST`");
    let url = action_field(section, "URL").trim_matches('`').to_string();
    assert!(url.ends_with("/v1/track"), "{url}");
    let headers = action_field(section, "Headers");
    assert!(
        headers.contains("`Content-Type`: `application/json`"),
        "{headers}"
    );
    assert!(
        headers.contains("`Authorization`: `Basic <base64 of \"<FLOW_WRITE_KEY>:\">`"),
        "{headers}"
    );
    let mut h = http::HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    if let Some(a) = authorization {
        h.insert("authorization", a.parse().unwrap());
    }
    InboundRequest {
        source_id: "flow".into(),
        method: http::Method::POST,
        url,
        headers: h,
        body: body.as_bytes().to_vec().into(),
        received_at: chrono::Utc::now(),
    }
}

#[test]
fn the_liquid_and_its_rendered_example_carry_the_same_keys() {
    let s = section();
    let liquid = block(&s, "liquid");
    let rendered = block(&s, "json");
    serde_json::from_str::<serde_json::Value>(&rendered).expect("the rendered body is JSON");
    assert_eq!(keys(&liquid), keys(&rendered));
}

#[test]
fn flows_request_is_believed_and_becomes_the_cart() {
    let s = section();
    let body = block(&s, "json");
    let auth = basic_auth(FLOW_WRITE_KEY);
    let req = flow_request(&s, &body, Some(&auth));
    let src = source();
    let verified = verify(&src, &req).expect("the server write key is accepted");
    assert_eq!(src.trust(verified), Trust::Verified);
    let verified = verify(&src, &req).unwrap();
    let t = src.translate(verified).unwrap();
    assert_eq!(t.ignored, None, "{t:?}");
    assert!(
        t.events.iter().all(|e| e
            .event_id
            .contains("flow-gid://shopify/CustomerVisit/71-1795190100")),
        "Flow's retries carry the same messageId, the event's id: {:?}",
        t.events
    );
    let cart = t
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::CheckoutStarted(c) | EventKind::CartUpdated(c) => Some(c),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no cart in {:?}", t.events));
    let contact = cart.contact.as_ref().unwrap();
    assert_eq!(contact.email.as_deref(), Some("ann@example.com"));
    assert_eq!(
        cart.recovery_url.as_deref(),
        Some("https://shop.example/checkouts/cn/71/recover?key=abc")
    );
    assert_eq!(cart.currency.code(), "EUR");
    assert_eq!(cart.items.len(), 1);
    assert_eq!(cart.items[0].title, "Mug");
    assert_eq!(cart.items[0].quantity, 2);
    assert_eq!(cart.items[0].unit_price.to_decimal_string(), "29.99");
}

#[test]
fn without_the_write_key_flows_request_is_refused() {
    let s = section();
    let body = block(&s, "json");
    let src = source();
    assert!(verify(&src, &flow_request(&s, &body, None)).is_err());
    let wrong = basic_auth("not-the-flow-key-123");
    assert!(verify(&src, &flow_request(&s, &body, Some(&wrong))).is_err());
}
