//! A data-protection officer's requests on the real hub: export everything held about a shopper,
//! erase them everywhere (what the hub sent them included) while the counts stay, and refuse a
//! request that names nobody. `[retention]` is checked before anything starts.
#![allow(clippy::unwrap_used)]

use cartback_e2e::payloads::shopify_checkout;
use cartback_e2e::{admin_json, until};
use cartback_testkit::sign::shopify_request;
use cartback_testkit::spawn_hub;
use serde_json::Value;

const SECRET: &str = "privacy-secret";

const CONFIG: &str = r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "${SHOPIFY_SECRET}"

[channel.email]
type = "console"

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  send = { channel = "email", template = "t" }
  [[flow.recover.step]]
  wait = "1d"
  send = { channel = "email", template = "t" }

[template.t]
subject = "{{ contact.first_name }}, your {{ cart.items[0].title }} is waiting"
text = "{{ cart.recovery_url }}"

[retention]
message_bodies = "30d"
deliveries = "7d"
"#;

#[tokio::test]
async fn a_shopper_is_exported_then_erased_everywhere() {
    let hub = spawn_hub(CONFIG, &[("SHOPIFY_SECRET", SECRET)])
        .await
        .unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    let body =
        serde_json::to_vec(&shopify_checkout("ptok", "erase.me@example.com", &now, 1)).unwrap();
    let resp = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "pv-1",
        &body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    until("the reminder", || async {
        admin_json(&hub, "/api/v1/messages?status=sent").await["count"] == 1
    })
    .await;
    // The export: the contact, their cart, the run, what was sent them, the raw events.
    let export = admin_json(&hub, "/api/v1/contacts/export?email=ERASE.ME@example.com").await;
    assert_eq!(export["count"], 1, "{export}");
    let held = &export["contacts"][0];
    assert_eq!(held["contact"]["email"], "erase.me@example.com");
    assert_eq!(held["carts"].as_array().unwrap().len(), 1);
    assert_eq!(held["runs"].as_array().unwrap().len(), 1);
    assert_eq!(held["messages"].as_array().unwrap().len(), 1, "{held}");
    assert_eq!(
        held["runs"][0]["last_step"]["step"], 1,
        "numbered as the runs API does"
    );
    assert!(!held["events"].as_array().unwrap().is_empty());
    assert!(held.to_string().contains("Blue Mug"));
    // Erase.
    let erased: Value = hub
        .client
        .delete(hub.url("/api/v1/contacts?email=erase.me@example.com"))
        .bearer_auth(&hub.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(erased["status"], "erased", "{erased}");
    assert_eq!(erased["contacts"], 1);
    let export = admin_json(&hub, "/api/v1/contacts/export?email=erase.me@example.com").await;
    assert_eq!(export["count"], 0, "{export}");
    // What was sent keeps no trace of them; the count stays.
    let messages = admin_json(&hub, "/api/v1/messages").await;
    assert_eq!(messages["count"], 1, "{messages}");
    let text = messages.to_string();
    assert!(
        !text.contains("erase.me") && !text.contains("Ann"),
        "{text}"
    );
    assert_eq!(messages["messages"][0]["status"], "sent");
    let carts = admin_json(&hub, "/api/v1/carts").await;
    assert_eq!(carts["count"], 1, "the cart stays, without who: {carts}");
    assert!(carts["carts"][0]["contact"].is_null(), "{carts}");
    // A request that names nobody, or a phone that is not one: 400 with the reason.
    for query in ["", "?phone=12", "?email=nobody"] {
        let resp = hub
            .client
            .delete(hub.url(&format!("/api/v1/contacts{query}")))
            .bearer_auth(&hub.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{query}");
    }
    // Without the admin token: refused.
    let resp = hub
        .client
        .delete(hub.url("/api/v1/contacts?email=x@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[test]
fn retention_shorter_than_an_hour_is_refused_with_its_key() {
    let cfg = CONFIG.replace("deliveries = \"7d\"", "deliveries = \"5m\"");
    let err = cartback_cli::config::load_str(
        &cfg.replace("${SHOPIFY_SECRET}", "x")
            .replace("${CARTBACK_ADMIN_TOKEN}", "y"),
        std::path::Path::new("."),
        &Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("retention.deliveries"), "{err}");
}
