//! Dead letters on the real hub: a hand-off the receiver refuses fails for good; an operator
//! finds it in `GET /api/v1/dead-letters`, reads it whole in `GET /api/v1/messages/{id}`, fixes
//! the receiver and redrives it (once: a second redrive changes nothing), and the dashboard's
//! dead-letter page lists it and redrives with one signed-in, same-origin button.
#![allow(clippy::unwrap_used)]

use cartback_e2e::payloads::shopify_checkout;
use cartback_e2e::{admin_json, until};
use cartback_testkit::sign::shopify_request;
use cartback_testkit::spawn_hub;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "dead-secret";

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

[channel.hook]
type = "webhook"
url = "${HOOK_URL}"
secret = "dead-hook-secret"

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  send = { channel = "hook" }
"#;

async fn failed(hub: &cartback_testkit::Hub) -> Vec<Value> {
    admin_json(hub, "/api/v1/dead-letters").await["messages"]["failed"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_refused_hand_off_is_found_inspected_and_redriven_once() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad field"))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let hub = spawn_hub(
        CONFIG,
        &[("SHOPIFY_SECRET", SECRET), ("HOOK_URL", &receiver.uri())],
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    let body = serde_json::to_vec(&shopify_checkout("dtok", "dead@example.com", &now, 1)).unwrap();
    shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "dl-1",
        &body,
    )
    .send()
    .await
    .unwrap();
    until("the refused hand-off", || async {
        failed(&hub).await.len() == 1
    })
    .await;
    let dead = failed(&hub).await;
    let id = dead[0]["id"].as_str().unwrap().to_string();
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains("400"),
        "{dead:?}"
    );
    // Inspected whole: what was handed off, its step, its error.
    let one = admin_json(&hub, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(one["status"], "failed");
    assert_eq!(one["step"], 1);
    assert_eq!(one["message"]["cart"]["items"][0]["title"], "Blue Mug");
    // The dashboard page lists it (signed in with the admin token).
    let page = hub
        .client
        .get(hub.url("/dashboard/dead-letters"))
        .bearer_auth(&hub.admin_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&id), "{page}");
    // Redriven through the API: queued again, then sent; a second redrive changes nothing.
    let redrive = |ids: Value| {
        let hub = &hub;
        async move {
            let v: Value = hub
                .client
                .post(hub.url("/api/v1/messages/redrive"))
                .bearer_auth(&hub.admin_token)
                .json(&json!({ "ids": ids }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["requeued"].as_u64().unwrap()
        }
    };
    assert_eq!(redrive(json!([id])).await, 1);
    until("the redriven hand-off to go", || async {
        admin_json(&hub, &format!("/api/v1/messages/{id}")).await["status"] == "sent"
    })
    .await;
    assert_eq!(
        redrive(json!([id])).await,
        0,
        "a sent message is not sent again"
    );
    assert!(failed(&hub).await.is_empty());
    assert_eq!(receiver.received_requests().await.unwrap().len(), 2);
    // The dashboard's button: a cross-site post is refused; nothing is left to redrive anyway.
    let cross = hub
        .client
        .post(hub.url("/dashboard/dead-letters/redrive"))
        .bearer_auth(&hub.admin_token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // A journal record that does not exist: 404; a bad request: 400.
    let missing = hub
        .admin_get("/api/v1/dead-letters/journal/999")
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad = hub
        .client
        .post(hub.url("/api/v1/dead-letters/journal/redrive"))
        .bearer_auth(&hub.admin_token)
        .json(&json!({ "seqs": [1], "all": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // The admin API describes itself, every route above among them (no token needed to read it).
    let doc: Value = hub
        .client
        .get(hub.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    for path in [
        "/api/v1/dead-letters",
        "/api/v1/messages/{id}",
        "/api/v1/messages/redrive",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} undescribed");
    }
}
