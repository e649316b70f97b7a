//! Flows through HTTP on the real hub with the real clock: a webhook becomes a sent reminder,
//! test mode, the message queue API, and the README's first five minutes with the real binary.
#![allow(clippy::unwrap_used)]

use cartback_e2e::until;

use cartback_e2e::payloads::{shopify_checkout, shopify_order};
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use serde_json::{json, Value};

const SECRET: &str = "flows-secret";

const CONFIG: &str = r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
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
  name = "first nudge"
  send = { channel = "email", template = "t" }
  [[flow.recover.step]]
  wait = "1d"
  send = { channel = "email", template = "t" }

[template.t]
subject = "Your {{ cart.items[0].title }} is waiting"
text = "{{ cart.recovery_url }}"
"#;

async fn hub() -> Hub {
    spawn_hub(CONFIG, &[("SHOPIFY_SECRET", SECRET)])
        .await
        .unwrap()
}

async fn messages(hub: &Hub, query: &str) -> Vec<Value> {
    let body: Value = hub
        .admin_get(&format!("/api/v1/messages{query}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_webhook_becomes_a_sent_reminder_and_a_purchase_stops_the_flow() {
    let hub = hub().await;
    let now = chrono::Utc::now().to_rfc3339();
    let body =
        serde_json::to_vec(&shopify_checkout("flowtok", "flow@example.com", &now, 1)).unwrap();
    let resp = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "fw-1",
        &body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    until("the first reminder to be sent", || async {
        messages(&hub, "?status=sent").await.len() == 1
    })
    .await;
    let sent = &messages(&hub, "?status=sent").await[0];
    assert_eq!(sent["subject"], "Your Blue Mug is waiting");
    assert_eq!(sent["test"], false);
    // The messages API numbers the step as the runs API, the report and check-config do.
    assert_eq!(
        (sent["step"].as_u64(), sent["step_name"].as_str()),
        (Some(1), Some("first nudge"))
    );
    assert_eq!(sent["closing"], false);
    let carts: Value = hub
        .admin_get("/api/v1/carts?email=flow@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cart = &carts["carts"][0];
    assert_eq!(cart["status"], "abandoned");
    let runs: Value = hub
        .admin_get(&format!(
            "/api/v1/carts/{}/runs",
            cart["id"].as_str().unwrap()
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs["runs"][0]["status"], "running");
    // Steps count from 1 and are named: the first ran, the second is next, due a day later.
    let run = &runs["runs"][0];
    assert_eq!(run["last_step"]["step"], 1);
    assert_eq!(run["last_step"]["name"], "first nudge");
    assert_eq!(run["last_step"]["outcome"], "queued");
    assert_eq!(run["next_step"]["step"], 2);
    assert!(run["next_step"]["due"].is_string(), "{run}");
    assert_eq!(run["next_step"]["name"], "t via email");
    assert_eq!(run["step_count"], 2);
    // Its step log says what the first step came to.
    assert_eq!(run["steps"][0]["step"], 1);
    assert_eq!(run["steps"][0]["outcome"], "queued");
    // The shopper buys: the cart converts; the next step (a day away) will exit.
    let order = serde_json::to_vec(&shopify_order(1, "flowtok", "flow@example.com")).unwrap();
    shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "orders/create",
        "fw-2",
        &order,
    )
    .send()
    .await
    .unwrap();
    let carts: Value = hub
        .admin_get("/api/v1/carts?email=flow@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(carts["carts"][0]["status"], "converted");
    // The metrics say the same.
    let text = hub.metrics().await.unwrap();
    for needle in [
        r#"cartback_sends_total{channel="email",outcome="sent"}"#,
        "cartback_enrolments_total",
        r#"cartback_steps_total{outcome="queued"}"#,
        "cartback_timer_lateness_seconds_bucket",
        "cartback_provider_latency_seconds_bucket",
        "cartback_carts{status=",
        "cartback_timers_pending",
    ] {
        assert!(text.contains(needle), "{needle} missing from /metrics");
    }
}

#[tokio::test]
async fn test_mode_sends_every_step_at_once() {
    let hub = hub().await;
    let req = json!({
        "contact": { "email": "qa@example.com", "first_name": "QA" },
        "cart": { "currency": "EUR", "recovery_url": "https://shop.example/r",
                  "items": [{ "title": "Mug", "quantity": 2, "price": "12.50" }] }
    });
    let resp = hub
        .client
        .post(hub.url("/api/v1/flows/recover/test"))
        .bearer_auth(&hub.admin_token)
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["messages"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["messages"][0]["subject"], "Your Mug is waiting");
    let numbered: Vec<(u64, &str)> = report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["step"].as_u64().unwrap(),
                m["step_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(numbered, [(1, "first nudge"), (2, "t via email")]);
    until("both test messages to be sent", || async {
        let sent = messages(&hub, "?status=sent").await;
        sent.len() == 2 && sent.iter().all(|m| m["test"] == true)
    })
    .await;
    // Bad requests are 4xx with a reason, never 500.
    let unknown = hub
        .client
        .post(hub.url("/api/v1/flows/nope/test"))
        .bearer_auth(&hub.admin_token)
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad = hub
        .client
        .post(hub.url("/api/v1/flows/recover/test"))
        .bearer_auth(&hub.admin_token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad_price = json!({ "contact": { "email": "qa@example.com" }, "cart": { "currency": "JPY", "items": [{ "title": "x", "quantity": 1, "price": "1.5" }] } });
    let resp = hub
        .client
        .post(hub.url("/api/v1/flows/recover/test"))
        .bearer_auth(&hub.admin_token)
        .json(&bad_price)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("price"));
    let unauth = hub
        .client
        .post(hub.url("/api/v1/flows/recover/test"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
}

#[tokio::test]
async fn message_queue_api_validates_its_input() {
    let hub = hub().await;
    assert_eq!(
        hub.admin_get("/api/v1/messages?status=nope")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        hub.admin_get("/api/v1/messages?status=failed")
            .await
            .unwrap()
            .status(),
        200
    );
    let redrive = |body: &'static str| {
        hub.client
            .post(hub.url("/api/v1/messages/redrive"))
            .bearer_auth(&hub.admin_token)
            .body(body)
            .send()
    };
    assert_eq!(redrive(r#"{"status":"sent"}"#).await.unwrap().status(), 400);
    assert_eq!(redrive("{}").await.unwrap().status(), 400);
    let ok: Value = redrive(r#"{"status":"failed"}"#)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["requeued"], 0);
}

/// A step skipped for a shopper says why, in the runs API and in `/metrics`: no silent skips.
#[tokio::test]
async fn a_skipped_step_records_its_reason() {
    let config = CONFIG.replace(
        "[channel.email]\ntype = \"console\"",
        "[channel.email]\ntype = \"console\"\n\n[channel.sms]\ntype = \"console\"\naddress = \"sms\"",
    )
    .replace(
        "  [[flow.recover.step]]\n  name = \"first nudge\"\n  send = { channel = \"email\", template = \"t\" }\n  [[flow.recover.step]]\n  wait = \"1d\"",
        "  [[flow.recover.step]]\n  send = { channel = \"sms\", template = \"t\" }\n  [[flow.recover.step]]\n  wait = \"1d\"",
    );
    assert!(
        config.contains("channel = \"sms\""),
        "the config was rewritten"
    );
    let hub = spawn_hub(&config, &[("SHOPIFY_SECRET", SECRET)])
        .await
        .unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    // An email but no phone: the SMS step cannot reach this shopper.
    let body =
        serde_json::to_vec(&shopify_checkout("skiptok", "skip@example.com", &now, 1)).unwrap();
    shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "sk-1",
        &body,
    )
    .send()
    .await
    .unwrap();
    async fn step_log(hub: &Hub) -> Value {
        let carts: Value = hub
            .admin_get("/api/v1/carts?email=skip@example.com")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let Some(id) = carts["carts"][0]["id"].as_str() else {
            return Value::Null;
        };
        let runs: Value = hub
            .admin_get(&format!("/api/v1/carts/{id}/runs"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        runs["runs"][0]["steps"].clone()
    }
    until("the skipped step in the run's log", || async {
        step_log(&hub)
            .await
            .as_array()
            .is_some_and(|s| !s.is_empty())
    })
    .await;
    let log = step_log(&hub).await;
    assert_eq!(log[0]["outcome"], "no_consent", "{log}");
    assert_eq!(log[0]["detail"], "sms", "{log}");
    let text = hub.metrics().await.unwrap();
    assert!(
        text.contains(r#"cartback_steps_total{outcome="no_consent"}"#),
        "counted by reason"
    );
}

/// A test of a stored cart never surprises its shopper: it goes to the address the admin gives,
/// or to the shopper only when asked in so many words.
#[tokio::test]
async fn a_test_of_a_stored_cart_goes_where_the_admin_says() {
    let hub = hub().await;
    let now = chrono::Utc::now().to_rfc3339();
    let body =
        serde_json::to_vec(&shopify_checkout("testtok", "shopper@example.com", &now, 1)).unwrap();
    shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "tt-1",
        &body,
    )
    .send()
    .await
    .unwrap();
    let carts: Value = hub
        .admin_get("/api/v1/carts?email=shopper@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cart_id = carts["carts"][0]["id"].as_str().unwrap().to_string();
    let test = |body: Value| {
        let hub = &hub;
        async move {
            hub.client
                .post(hub.url("/api/v1/flows/recover/test"))
                .bearer_auth(&hub.admin_token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let refused = test(json!({ "cart_id": cart_id })).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("to_shopper"));
    let sent = test(json!({ "cart_id": cart_id, "to": { "email": "qa@shop.example" } })).await;
    assert_eq!(sent.status(), 200);
    let report: Value = sent.json().await.unwrap();
    for m in report["messages"].as_array().unwrap() {
        assert_eq!(m["to"]["email"], "qa@shop.example", "{report}");
    }
    assert!(
        !report.to_string().contains("shopper@example.com"),
        "{report}"
    );
    let asked = test(json!({ "cart_id": cart_id, "to_shopper": true })).await;
    assert_eq!(asked.status(), 200);
    let report: Value = asked.json().await.unwrap();
    assert_eq!(report["messages"][0]["to"]["email"], "shopper@example.com");
}
