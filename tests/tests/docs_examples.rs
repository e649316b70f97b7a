//! docs/CONNECTORS.md's signed test requests, run as written: every shell block marked
//! ```` ```sh example=<name> ```` is run with `bash` against a real hub on 127.0.0.1 (and a
//! stand-in Magento), and must answer 2xx; then what it sent must have arrived (the cart, the
//! contact, the consent), read back through the admin API.
#![allow(clippy::unwrap_used)]

use cartback_e2e::{admin_json, cart_of, until};
use cartback_testkit::{spawn_hub, Hub};
use serde_json::{json, Value};
use std::path::Path;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The examples, in the order they run (SendGrid's key pair is made before the hub starts: the
/// hub is configured with its public half; Twilio's START is for the WooCommerce shopper's phone,
/// SendGrid's unsubscribe for the Shopify shopper).
const ORDER: [&str; 9] = [
    "sendgrid-key",
    "shopify",
    "woocommerce",
    "magento",
    "segment",
    "hubspot",
    "klaviyo",
    "sendgrid",
    "twilio",
];

const SECRETS: [(&str, &str); 9] = [
    ("SHOPIFY_WEBHOOK_SECRET", "docs-shopify-secret"),
    ("WOO_WEBHOOK_SECRET", "docs-woo-secret"),
    ("SEGMENT_SHARED_SECRET", "docs-segment-secret"),
    ("HUBSPOT_CLIENT_SECRET", "docs-hubspot-secret"),
    ("KLAVIYO_WEBHOOK_SECRET", "docs-klaviyo-secret"),
    ("MAGENTO_ACCESS_TOKEN", "docs-magento-token"),
    ("SENDGRID_API_KEY", "SG.docs-sendgrid-key"),
    ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
    ("TWILIO_AUTH_TOKEN", "docs-twilio-token"),
];

/// The sources and channels as docs/CONNECTORS.md configures them (the same ids and variables).
const CONFIG: &str = r#"
[server]
link_hosts = ["shop.example", "*.shop.example"]
admin_token = "${CARTBACK_ADMIN_TOKEN}"

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "${SHOPIFY_WEBHOOK_SECRET}"

[source.woo]
type = "woocommerce"
secret = "${WOO_WEBHOOK_SECRET}"
store_url = "https://shop.example"

[source.mage]
type = "magento"
base_url = "${MAGENTO_URL}"
access_token = "${MAGENTO_ACCESS_TOKEN}"
poll_interval = "1s"
recovery_url = "https://shop.example/checkout/cart/"

[source.web]
type = "segment"
shared_secret = "${SEGMENT_SHARED_SECRET}"

[source.hubspot]
type = "hubspot"
client_secret = "${HUBSPOT_CLIENT_SECRET}"

[source.klaviyo]
type = "klaviyo"
secret = "${KLAVIYO_WEBHOOK_SECRET}"

[channel.email]
type = "sendgrid"
api_key = "${SENDGRID_API_KEY}"
from = "Shop <shop@example.com>"
event_webhook_public_key = "${SENDGRID_EVENT_KEY}"

[channel.sms]
type = "twilio"
account_sid = "${TWILIO_ACCOUNT_SID}"
auth_token = "${TWILIO_AUTH_TOKEN}"
from = "+15005550006"
"#;

/// Every ```` ```sh example=<name> ```` block of `text`, in order.
fn examples(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("```sh example=") else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        // Blocks inside a list item are indented: the shell does not mind, but keep them as shown.
        out.push((name.trim().to_string(), body.join("\n") + "\n"));
    }
    out
}

/// Runs `script` with bash (`-euo pipefail`: a failing command fails the example) in `dir` with
/// `env`, and returns its standard output. Every HTTP status line it printed (`curl -i`) is 2xx.
fn run(name: &str, script: &str, dir: &Path, env: &[(String, String)]) -> String {
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "example {name} failed ({}):\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let statuses: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("HTTP/"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    if name != "sendgrid-key" {
        assert!(
            !statuses.is_empty(),
            "example {name} printed no HTTP status (use curl -i):\n{stdout}"
        );
    }
    for s in &statuses {
        assert!(
            s.starts_with('2'),
            "example {name} was answered {s}:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
    }
    stdout
}

/// The JSON answer of the example's main request: the first line that parses as an object.
fn answer(stdout: &str) -> Value {
    stdout
        .lines()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(Value::is_object)
        })
        .unwrap_or_else(|| panic!("no JSON answer in:\n{stdout}"))
}

fn effects(stdout: &str) -> Vec<String> {
    answer(stdout)["effects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["effect"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A signed Shopify checkout for `email`, without consent or names, so that the contact the hub
/// already has is what the admin API shows.
async fn shopify_cart_for(hub: &Hub, email: &str) {
    let body = serde_json::to_vec(&json!({
        "id": 99, "token": format!("tok-{email}"), "email": email,
        "updated_at": "2026-11-20T10:05:00Z", "currency": "USD", "total_price": "5.00",
        "line_items": [{ "title": "Tea", "quantity": 1, "price": "5.00" }]
    }))
    .unwrap();
    let resp = cartback_testkit::sign::shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        "docs-shopify-secret",
        "checkouts/create",
        &format!("probe-{email}"),
        &body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn contact_of(hub: &Hub, email: &str) -> Value {
    until(&format!("a cart for {email}"), || async {
        cart_of(hub, email).await.is_some()
    })
    .await;
    cart_of(hub, email).await.unwrap()["contact"].clone()
}

async fn magento() -> MockServer {
    let fixture = |name: &str| -> Value {
        let p = format!(
            "{}/../connectors/magento/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let server = MockServer::start().await;
    let token = "Bearer docs-magento-token";
    Mock::given(method("GET"))
        .and(path("/rest/V1/carts/search"))
        .and(header("authorization", token))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("carts_search.json")))
        .mount(&server)
        .await;
    for id in ["1201", "1202"] {
        Mock::given(method("GET"))
            .and(path(format!("/rest/V1/carts/{id}/totals")))
            .and(header("authorization", token))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(fixture(&format!("totals_{id}.json"))),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .and(header("authorization", token))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "items": [], "total_count": 0 })),
        )
        .mount(&server)
        .await;
    server
}

// The examples run as blocking child processes while the hub serves them: several workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connector_example_runs_as_written() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/CONNECTORS.md"
    ))
    .unwrap();
    let found = examples(&doc);
    let mut names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let mut want = ORDER.to_vec();
    want.sort_unstable();
    assert_eq!(
        names, want,
        "docs/CONNECTORS.md's examples and the ones this test runs differ"
    );
    let script = |name: &str| -> &str { &found.iter().find(|(n, _)| n == name).unwrap().1 };

    let work = tempfile::tempdir().unwrap();
    let mage = magento().await;
    let mut env: Vec<(String, String)> = SECRETS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("MAGENTO_URL".into(), mage.uri()));

    // SendGrid: the key pair first; the hub is configured with the printed public key.
    let printed = run("sendgrid-key", script("sendgrid-key"), work.path(), &env);
    let public_key = printed.trim().lines().last().unwrap().trim().to_string();
    env.push(("SENDGRID_EVENT_KEY".into(), public_key));
    let hub_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let hub = spawn_hub(CONFIG, &hub_env).await.unwrap();
    env.push(("HUB".into(), hub.url.clone()));
    env.push(("CARTBACK_ADMIN_TOKEN".into(), hub.admin_token.clone()));
    // The WooCommerce order's last change, kept for its redelivery below (as the docs say).
    env.push((
        "MODIFIED".into(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
    ));

    // Shopify: a checkout with an SMS opt-in.
    let out = run("shopify", script("shopify"), work.path(), &env);
    assert_eq!(effects(&out), ["cart"], "{out}");
    let ann = cart_of(&hub, "ann@example.com").await.expect("the cart");
    assert_eq!(ann["source_id"], "shop", "{ann}");
    assert_eq!(ann["items"][0]["title"], "Blue Mug", "{ann}");
    assert_eq!(ann["contact"]["sms_consent"], "subscribed", "{ann}");
    assert!(
        out.contains("\"carts\""),
        "the example reads the cart back: {out}"
    );

    // WooCommerce: a pending order is an open cart; its /r/ link lands on the order's pay page.
    let out = run("woocommerce", script("woocommerce"), work.path(), &env);
    assert_eq!(effects(&out), ["cart"], "{out}");
    let wendy = cart_of(&hub, "wendy@example.com").await.expect("the cart");
    assert_eq!(wendy["source_id"], "woo", "{wendy}");
    assert_eq!(
        wendy["recovery_url"],
        "https://shop.example/checkout/order-pay/727/?pay_for_order=true&key=wc_order_T3st727",
        "{wendy}"
    );
    assert_eq!(wendy["contact"]["phone"], "+14158675311", "{wendy}");
    assert_eq!(wendy["contact"]["sms_consent"], "unknown", "{wendy}");

    // Magento: the example reads Magento as the hub does; the hub's own poll brings the cart.
    let out = run("magento", script("magento"), work.path(), &env);
    assert!(out.contains("\"items\""), "{out}");
    until("the polled Magento cart", || async {
        admin_json(&hub, "/api/v1/carts?source=mage").await["count"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    })
    .await;

    // Segment: a Webhooks destination's Checkout Started.
    let out = run("segment", script("segment"), work.path(), &env);
    assert!(effects(&out).contains(&"cart".to_string()), "{out}");
    let sam = cart_of(&hub, "sam@example.com").await.expect("the cart");
    assert_eq!(sam["source_id"], "web", "{sam}");
    assert_eq!(sam["items"][0]["title"], "Enamel Mug", "{sam}");

    // HubSpot: a contact's email and first name; shown once a cart names the same email.
    let out = run("hubspot", script("hubspot"), work.path(), &env);
    assert_eq!(effects(&out), ["contact", "contact"], "{out}");
    shopify_cart_for(&hub, "hal@example.com").await;
    let hal = contact_of(&hub, "hal@example.com").await;
    assert_eq!(hal["first_name"], "Hal", "{hal}");

    // Klaviyo: a profile subscribed to SMS.
    let out = run("klaviyo", script("klaviyo"), work.path(), &env);
    assert_eq!(effects(&out), ["contact"], "{out}");
    shopify_cart_for(&hub, "kim@example.com").await;
    let kim = contact_of(&hub, "kim@example.com").await;
    assert_eq!(kim["sms_consent"], "subscribed", "{kim}");
    assert_eq!(kim["phone"], "+14158675310", "{kim}");

    // SendGrid: an unsubscribe for the Shopify example's shopper.
    let out = run("sendgrid", script("sendgrid"), work.path(), &env);
    assert!(!effects(&out).is_empty(), "{out}");
    let ann = contact_of(&hub, "ann@example.com").await;
    assert_eq!(ann["email_consent"], "unsubscribed", "{ann}");

    // Twilio: START from the WooCommerce shopper's phone gives SMS consent.
    let out = run("twilio", script("twilio"), work.path(), &env);
    assert!(!effects(&out).is_empty(), "{out}");
    let wendy = contact_of(&hub, "wendy@example.com").await;
    assert_eq!(wendy["sms_consent"], "subscribed", "{wendy}");

    // Sent again, nothing changes: Shopify's and WooCommerce's deliveries are recognised whole
    // (`X-Shopify-Webhook-Id`; the order state's id), the others per event.
    for name in ["shopify", "woocommerce"] {
        let again = run(name, script(name), work.path(), &env);
        assert_eq!(answer(&again)["status"], "duplicate", "{name}: {again}");
    }
    for (name, events) in [("segment", 1), ("hubspot", 2), ("klaviyo", 1)] {
        let again = run(name, script(name), work.path(), &env);
        assert_eq!(
            effects(&again),
            vec!["duplicate"; events],
            "{name}: {again}"
        );
    }
}
