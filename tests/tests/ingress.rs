//! Webhooks in, carts out: every status code of the ingress, redelivery, ordering and restart,
//! against the real app on an ephemeral port with a temporary SQLite file.
#![allow(clippy::unwrap_used)]

use cartback_e2e::payloads::{shopify_checkout, shopify_order};
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use serde_json::Value;

const SECRET: &str = "e2e-shopify-secret";

const CONFIG: &str = r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"
max_body = "64KiB"

[store]
url = "sqlite://data/hub.db"

[source.shop]
type = "shopify"
secret = ["${SHOPIFY_SECRET}", "old-rotated-secret"]
"#;

async fn hub() -> Hub {
    spawn_hub(CONFIG, &[("SHOPIFY_SECRET", SECRET)])
        .await
        .unwrap()
}

async fn post(hub: &Hub, topic: &str, id: &str, body: &Value) -> reqwest::Response {
    let bytes = serde_json::to_vec(body).unwrap();
    shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        topic,
        id,
        &bytes,
    )
    .send()
    .await
    .unwrap()
}

async fn carts_for(hub: &Hub, email: &str) -> Vec<Value> {
    let resp = hub
        .admin_get(&format!("/api/v1/carts?email={email}"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["carts"].as_array().unwrap().clone()
}

#[tokio::test]
async fn checkout_webhook_becomes_a_cart() {
    let hub = hub().await;
    let resp = post(
        &hub,
        "checkouts/create",
        "w-1",
        &shopify_checkout(
            "tok1",
            "Ann.Lee@Example.com",
            "2026-11-20T10:05:00-05:00",
            2,
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "accepted");

    // Case-insensitive email lookup.
    let carts = carts_for(&hub, "ann.lee@EXAMPLE.com").await;
    assert_eq!(carts.len(), 1);
    let cart = &carts[0];
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["key"], "cart-tok1");
    assert_eq!(cart["checkout_token"], "tok1");
    assert_eq!(cart["total"]["amount"], "50.00");
    assert_eq!(cart["total"]["currency"], "USD");
    assert_eq!(cart["total"]["minor_units"], 5000);
    assert_eq!(cart["items"][0]["title"], "Blue Mug");
    assert_eq!(cart["items"][0]["quantity"], 2);
    assert_eq!(cart["items"][0]["product_id"], "7513594167512");
    assert_eq!(cart["items"][0]["unit_price"]["amount"], "25.00");
    assert!(cart["recovery_url"]
        .as_str()
        .unwrap()
        .contains("/checkouts/tok1/recover"));
    assert_eq!(cart["contact"]["email"], "Ann.Lee@Example.com");
    assert_eq!(cart["contact"]["email_consent"], "subscribed");

    // By id.
    let id = cart["id"].as_str().unwrap();
    let one: Value = hub
        .admin_get(&format!("/api/v1/carts/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], id);
    let contact_id = one["contact"]["id"].as_str().unwrap();
    let contact = hub
        .admin_get(&format!("/api/v1/contacts/{contact_id}"))
        .await
        .unwrap();
    assert_eq!(contact.status(), 200);
    assert_eq!(
        hub.admin_get("/api/v1/carts/nope").await.unwrap().status(),
        404
    );
    // Tags for `tag:<name>` conditions.
    let tagged: Value = hub
        .client
        .post(hub.url(&format!("/api/v1/contacts/{contact_id}/tags")))
        .bearer_auth(&hub.admin_token)
        .json(&serde_json::json!({ "tags": ["VIP", "AB CART"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tagged["tags"], serde_json::json!(["AB CART", "VIP"]));
    let bad = hub
        .client
        .post(hub.url(&format!("/api/v1/contacts/{contact_id}/tags")))
        .bearer_auth(&hub.admin_token)
        .json(&serde_json::json!({ "tags": [""] }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn redelivery_is_acknowledged_and_changes_nothing() {
    let hub = hub().await;
    let body = shopify_checkout("tok2", "b@example.com", "2026-11-20T10:05:00-05:00", 1);
    assert_eq!(
        post(&hub, "checkouts/create", "w-2", &body).await.status(),
        200
    );
    let again = post(&hub, "checkouts/create", "w-2", &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "duplicate");
    assert_eq!(carts_for(&hub, "b@example.com").await.len(), 1);
}

#[tokio::test]
async fn older_update_never_rolls_the_cart_back() {
    let hub = hub().await;
    let newer = shopify_checkout("tok3", "c@example.com", "2026-11-20T10:30:00-05:00", 3);
    let older = shopify_checkout("tok3", "c@example.com", "2026-11-20T10:10:00-05:00", 1);
    assert_eq!(
        post(&hub, "checkouts/update", "w-3a", &newer)
            .await
            .status(),
        200
    );
    assert_eq!(
        post(&hub, "checkouts/update", "w-3b", &older)
            .await
            .status(),
        200
    );
    let carts = carts_for(&hub, "c@example.com").await;
    assert_eq!(carts[0]["items"][0]["quantity"], 3);
    assert_eq!(carts[0]["total"]["amount"], "75.00");
}

#[tokio::test]
async fn order_converts_the_cart() {
    let hub = hub().await;
    post(
        &hub,
        "checkouts/create",
        "w-4",
        &shopify_checkout("tok4", "d@example.com", "2026-11-20T10:05:00-05:00", 2),
    )
    .await;
    let resp = post(
        &hub,
        "orders/create",
        "w-4o",
        &shopify_order(820_982_911_946_154_508, "tok4", "d@example.com"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let carts = carts_for(&hub, "d@example.com").await;
    assert_eq!(carts[0]["status"], "converted");
    assert_eq!(carts[0]["order_id"], "820982911946154508");
}

#[tokio::test]
async fn rejects_bad_requests_with_clear_statuses() {
    let hub = hub().await;
    let body = serde_json::to_vec(&shopify_checkout(
        "tok5",
        "e@example.com",
        "2026-11-20T10:05:00-05:00",
        1,
    ))
    .unwrap();

    // Forged signature: 401.
    let forged = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        "wrong-secret",
        "checkouts/create",
        "w-5",
        &body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(forged.status(), 401);
    // Missing signature: 401.
    let unsigned = hub
        .client
        .post(hub.url("/webhooks/shop"))
        .header("x-shopify-topic", "checkouts/create")
        .header("x-shopify-webhook-id", "w-5")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // The rotated (old) secret still verifies.
    let rotated = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        "old-rotated-secret",
        "checkouts/create",
        "w-5r",
        &body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(rotated.status(), 200);
    // Malformed JSON, signed: 400 with a one-line reason.
    let bad = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "w-6",
        b"{not json",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    let reason = bad.text().await.unwrap();
    assert!(
        reason.trim().lines().count() == 1 && reason.to_lowercase().contains("json"),
        "{reason}"
    );
    // JSON that does not fit the topic: 400.
    let wrong = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "w-7",
        br#"{"hello":"world"}"#,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(!wrong.text().await.unwrap().is_empty());
    // Over the size limit: 413.
    let big = vec![b' '; 70 * 1024];
    let huge = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "w-8",
        &big,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(huge.status(), 413);
    // Unknown source: 404.
    let unknown = shopify_request(
        &hub.client,
        &hub.url("/webhooks/nope"),
        SECRET,
        "checkouts/create",
        "w-9",
        &body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404);
    // A topic the hub does not use: 200, ignored.
    let ignored = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "products/update",
        "w-10",
        br#"{"id":1}"#,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ignored.status(), 200);
    assert_eq!(ignored.json::<Value>().await.unwrap()["status"], "ignored");
    // Nothing of the rejected ones was stored.
    assert_eq!(carts_for(&hub, "e@example.com").await.len(), 1);
}

#[tokio::test]
async fn admin_api_requires_the_token() {
    let hub = hub().await;
    let none = hub
        .client
        .get(hub.url("/api/v1/carts"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let wrong = hub
        .client
        .get(hub.url("/api/v1/carts"))
        .bearer_auth("nope-nope-nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(hub.admin_get("/api/v1/carts").await.unwrap().status(), 200);
    assert_eq!(
        hub.admin_get("/api/v1/carts?status=lost")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        hub.admin_get("/api/v1/carts?limit=0")
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let hub = hub().await;
    assert_eq!(
        hub.client
            .get(hub.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        hub.client
            .get(hub.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    post(
        &hub,
        "checkouts/create",
        "w-m",
        &shopify_checkout("tokm", "m@example.com", "2026-11-20T10:05:00-05:00", 1),
    )
    .await;
    let text = hub.metrics().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("cartback_webhooks_total")
                && l.contains(r#"source="shop""#)
                && l.contains(r#"topic="checkouts/create""#)
                && l.contains(r#"outcome="accepted""#)),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn data_survives_a_restart() {
    let hub = hub().await;
    post(
        &hub,
        "checkouts/create",
        "w-r",
        &shopify_checkout("tokr", "r@example.com", "2026-11-20T10:05:00-05:00", 1),
    )
    .await;
    let hub = hub.restart().await.unwrap();
    assert_eq!(carts_for(&hub, "r@example.com").await.len(), 1);
    // Dedupe state survives too.
    let again = post(
        &hub,
        "checkouts/create",
        "w-r",
        &shopify_checkout("tokr", "r@example.com", "2026-11-20T10:05:00-05:00", 1),
    )
    .await;
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "duplicate");
    assert!(hub.dir.path().join("data").join("hub.db").exists());
}

/// With `wait_below = 0` every webhook is answered from SQLite's ingest journal: 202 once durable,
/// its cart visible moments later, and a redelivery still changes nothing.
#[tokio::test]
async fn a_queued_webhook_is_answered_202_and_applied_once() {
    let config = CONFIG.replace(
        "url = \"sqlite://data/hub.db\"",
        "url = \"sqlite://data/hub.db\"\n\n[store.journal]\nwait_below = 0",
    );
    let hub = spawn_hub(&config, &[("SHOPIFY_SECRET", SECRET)])
        .await
        .unwrap();
    let body = shopify_checkout("tokq", "queued@example.com", "2026-11-20T10:05:00Z", 2);
    for _ in 0..3 {
        let resp = post(&hub, "checkouts/create", "w-q1", &body).await;
        assert_eq!(resp.status(), 202);
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["status"], "queued");
    }
    cartback_e2e::until_within(10, "the queued cart is applied", || async {
        carts_for(&hub, "queued@example.com").await.len() == 1
    })
    .await;
    let carts = carts_for(&hub, "queued@example.com").await;
    assert_eq!(carts.len(), 1, "three deliveries, one cart");
    assert_eq!(carts[0]["items"][0]["quantity"], 2);
    let metrics = hub.metrics().await.unwrap();
    assert!(
        metrics.contains("outcome=\"queued\""),
        "queued answers are counted: {metrics}"
    );
}
