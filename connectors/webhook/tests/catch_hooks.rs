//! The Zapier and Pabbly Connect examples of docs/CONNECTORS.md, run as documented: each
//! example's `[channel.<id>]` table (read from the docs, `${VAR}`s filled in) builds the webhook
//! channel, which posts a reminder and a closing message to wiremock standing in for the catch
//! hook (at the documented URL's path); every field the docs' tables list must be in the body, the
//! signature must verify, and the flow step must name the channel.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use cartback_core::{Consent, Money, OutboundMessage, Purpose, Sink, SinkContext};
use cartback_kit::plugin::parse;
use cartback_webhook::{WebhookSettings, WebhookSink};
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn section() -> String {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/CONNECTORS.md"
    ))
    .unwrap();
    let start = docs
        .find("### Zapier and Pabbly Connect")
        .expect("docs/CONNECTORS.md has the Zapier and Pabbly section");
    let rest = &docs[start..];
    let end = rest[4..].find("\n## ").map_or(rest.len(), |i| i + 4);
    rest[..end].to_string()
}

/// The ```toml block that defines `[channel.<id>]`.
fn example(section: &str, id: &str) -> String {
    section
        .split("```toml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_string())
        .find(|b| b.contains(&format!("[channel.{id}]")))
        .unwrap_or_else(|| panic!("no [channel.{id}] example"))
}

/// The string keys of the `[channel.<id>]` table of `toml` (`key = "value"  # comment`).
fn channel_table(toml: &str, id: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[channel.{id}]");
            continue;
        }
        if !inside || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap();
        let value = value.trim();
        assert!(value.starts_with('"'), "{line}");
        let value = value[1..].split('"').next().unwrap();
        out.insert(key.trim().to_string(), value.to_string());
    }
    out
}

/// The field paths of the section's tables (the first column's `code` spans), per table.
fn documented_fields(section: &str) -> Vec<Vec<String>> {
    let mut tables: Vec<Vec<String>> = Vec::new();
    let mut in_table = false;
    for line in section.lines() {
        if line.starts_with("| field |") {
            tables.push(Vec::new());
            in_table = true;
        } else if in_table && line.starts_with("| `") {
            let first = line.split('|').nth(1).unwrap();
            let fields = first.split('`').skip(1).step_by(2).map(str::to_string);
            tables.last_mut().unwrap().extend(fields);
        } else if !line.starts_with('|') {
            in_table = false;
        }
    }
    tables
}

/// `a.b[0].c` in `body`.
fn at<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = body;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, Some(i.trim_end_matches(']').parse::<usize>().unwrap())),
            None => (part, None),
        };
        v = v.get(name)?;
        if let Some(i) = index {
            v = v.get(i)?;
        }
    }
    Some(v).filter(|v| !v.is_null())
}

fn reminder(channel: &str) -> OutboundMessage {
    let mut m = common::message();
    m.channel_id = channel.into();
    let contact = m.contact.as_mut().unwrap();
    contact.phone = Some("+15555550100".into());
    contact.last_name = Some("Lee".into());
    contact.email_consent = Consent::Subscribed;
    contact.sms_consent = Consent::NotSubscribed;
    m.metadata.extend([
        ("run_id".to_string(), "run_1".to_string()),
        ("cart_id".to_string(), "cart_42".to_string()),
        ("contact_id".to_string(), "contact_7".to_string()),
        ("variant".to_string(), "b".to_string()),
    ]);
    let item = &mut m.cart.as_mut().unwrap().items[0];
    item.url = Some("https://hub.example.com/t/abc".into());
    item.image_url = Some("https://cdn.example.com/mug.jpg".into());
    m
}

fn closing(channel: &str) -> OutboundMessage {
    let mut m = reminder(channel);
    m.id = "0193a6f0-7c1e-7b7a-9f00-000000000002".into();
    m.subject = None;
    m.text = None;
    m.purpose = Purpose::Converted {
        order_id: "1001".into(),
        total: Some(Money::new(2250, m.cart.as_ref().unwrap().currency)),
        placed_at: chrono::Utc::now(),
    };
    m
}

fn verify(req: &wiremock::Request) {
    let h = |n: &str| req.headers.get(n).unwrap().to_str().unwrap().to_string();
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", h("webhook-id"), h("webhook-timestamp")).as_bytes());
    mac.update(&req.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(h("webhook-signature"), expected);
}

/// Runs the documented example of channel `id`, whose URL must start with `origin`.
async fn run_example(id: &str, origin: &str) {
    let section = section();
    let toml = example(&section, id);
    assert!(
        toml.contains(&format!("send = {{ channel = \"{id}\" }}")),
        "the example's flow step sends to [channel.{id}]:\n{toml}"
    );
    let table = channel_table(&toml, id);
    assert_eq!(table.get("type").map(String::as_str), Some("webhook"));
    let url = &table["url"];
    let hook_path = url
        .strip_prefix(origin)
        .unwrap_or_else(|| panic!("{url} is not a {origin} URL"))
        .to_string();
    let secret = &table["secret"];
    assert!(
        secret.starts_with("${"),
        "the secret comes from the environment"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path(hook_path.split('?').next().unwrap()))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "attempt": "018f0c1e", "id": "018f0c1e-aaaa", "request_id": "018f0c1e-bbbb", "status": "success"
        })))
        .mount(&server)
        .await;
    // The documented table, as the config loader gives it: `${VAR}` filled in, `type` taken.
    let mut settings = serde_json::Map::new();
    for (k, v) in &table {
        match k.as_str() {
            "type" => {}
            "url" => {
                settings.insert(k.clone(), format!("{}{hook_path}", server.uri()).into());
            }
            _ if v.starts_with("${") => {
                settings.insert(k.clone(), SECRET.into());
            }
            _ => {
                settings.insert(k.clone(), v.clone().into());
            }
        }
    }
    let settings: WebhookSettings = parse(Value::Object(settings)).unwrap();
    let ctx = SinkContext {
        channel_id: id.into(),
        public_url: "https://hub.example.com".into(),
        timeout: Duration::from_secs(5),
    };
    let sink = WebhookSink::new(settings, ctx).unwrap();
    let receipt = sink.deliver(&reminder(id)).await.unwrap();
    assert_eq!(
        receipt.provider_message_id.as_deref(),
        Some("018f0c1e-aaaa")
    );
    sink.deliver(&closing(id)).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        verify(r);
    }
    let bodies: Vec<Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let tables = documented_fields(&section);
    assert_eq!(tables.len(), 2, "a reminder table and a closing table");
    for field in &tables[0] {
        assert!(
            at(&bodies[0], field).is_some(),
            "{id}: {field} is documented but not sent"
        );
        // The closing message is not rendered: no template texts.
        if !field.starts_with("message.") {
            assert!(
                at(&bodies[1], field).is_some(),
                "{id}: {field} missing from cart.recovered"
            );
        }
    }
    for field in &tables[1] {
        assert!(
            at(&bodies[1], field).is_some(),
            "{id}: {field} is documented but not sent"
        );
    }
    let (r, c) = (&bodies[0], &bodies[1]);
    assert_eq!(r["type"], "cart.abandoned");
    assert_eq!(c["type"], "cart.recovered");
    assert_eq!(r["id"], requests[0].headers["webhook-id"].to_str().unwrap());
    assert_eq!(r["channel"], id);
    assert_eq!(r["metadata"]["step"], "1");
    assert_eq!(r["contact"]["email_consent"], "subscribed");
    assert_eq!(r["contact"]["sms_consent"], "not_subscribed");
    assert_eq!(r["cart"]["status"], "abandoned");
    assert_eq!(r["cart"]["items"][0]["unit_price"]["amount"], "12.50");
    assert_eq!(
        r["cart"]["items"][0]["url"],
        "https://hub.example.com/t/abc"
    );
    assert_eq!(r["cart"]["total"]["minor_units"], 2500);
    assert_eq!(r["links"]["recovery"], r["cart"]["recovery_url"]);
    assert!(r.get("order").is_none());
    assert_eq!(c["order"]["id"], "1001");
    assert_eq!(c["order"]["total"]["amount"], "22.50");
    assert_eq!(c["cart"]["id"], r["cart"]["id"]);
}

#[tokio::test]
async fn the_zapier_example_posts_every_documented_field() {
    run_example("zapier", "https://hooks.zapier.com").await;
}

#[tokio::test]
async fn the_pabbly_example_posts_every_documented_field() {
    run_example("pabbly", "https://connect.pabbly.com").await;
}
