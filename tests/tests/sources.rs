//! Sources other than Shopify, end to end: their carts are abandoned and the flow sends; their
//! orders stop the flow; their consent changes are honoured.
#![allow(clippy::unwrap_used)]

use cartback_e2e::{messages_of_run, until, until_settled};

use cartback_testkit::{spawn_hub, Hub};
use flate2::write::GzEncoder;
use serde_json::{json, Value};
use std::io::Write;

const CONFIG: &str = r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"

[store]
url = "sqlite://hub.db"

[source.web]
type = "segment"
server_write_keys = ["wk_live_abc"]

[source.klaviyo]
type = "klaviyo"
secret = "klaviyo-shared-secret"

[channel.email]
type = "console"

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  send = { channel = "email", template = "t" }
  [[flow.recover.step]]
  wait = "2s"
  unless = ["purchased"]
  send = { channel = "email", template = "t" }

[template.t]
subject = "{{ cart.items[0].title }} is waiting"
text = "{{ cart.recovery_url }}"
"#;

async fn sent(hub: &Hub) -> Vec<Value> {
    let v: Value = hub
        .admin_get("/api/v1/messages?status=sent")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["messages"].as_array().unwrap().clone()
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn segment_sdk_batches_build_a_cart_and_an_order_stops_the_flow() {
    let hub = spawn_hub(CONFIG, &[]).await.unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    // What analytics.js sends: a batch, basic auth with the write key, gzip.
    let batch = json!({
        "batch": [
            { "type": "identify", "messageId": "seg-m1", "anonymousId": "anon-7", "userId": "user-7",
              "traits": { "email": "seg@example.com", "firstName": "Sam" }, "timestamp": now },
            { "type": "track", "event": "Cart Viewed", "messageId": "seg-m2", "anonymousId": "anon-7", "userId": "user-7",
              "properties": { "cart_id": "cart-seg-7", "currency": "EUR", "products": [
                  { "product_id": "p1", "sku": "MUG", "name": "Enamel Mug", "price": 12.5, "quantity": 2,
                    "url": "https://shop.example/p/mug", "image_url": "https://shop.example/p/mug.jpg" } ] },
              "context": { "traits": { "email": "seg@example.com" } }, "timestamp": now }
        ],
        "sentAt": now
    });
    let body = gzip(&serde_json::to_vec(&batch).unwrap());
    let resp = hub
        .client
        .post(hub.url("/v1/batch"))
        .basic_auth("wk_live_abc", Some(""))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    // A wrong write key is refused.
    let wrong = hub
        .client
        .post(hub.url("/v1/batch"))
        .basic_auth("wk_nope", Some(""))
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    until("the first reminder", || async {
        sent(&hub).await.len() == 1
    })
    .await;
    assert_eq!(sent(&hub).await[0]["subject"], "Enamel Mug is waiting");
    // The shopper buys: the second step never goes out.
    let order = json!({ "type": "track", "event": "Order Completed", "messageId": "seg-m3", "userId": "user-7",
        "anonymousId": "anon-7", "properties": { "order_id": "ord-7", "cart_id": "cart-seg-7", "total": 25.0, "currency": "EUR" },
        "context": { "traits": { "email": "seg@example.com" } }, "timestamp": chrono::Utc::now().to_rfc3339() });
    let resp = hub
        .client
        .post(hub.url("/v1/track"))
        .basic_auth("wk_live_abc", Some(""))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let carts: Value = hub
        .admin_get("/api/v1/carts?email=seg@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(carts["carts"][0]["status"], "converted", "{carts}");
    // The second step's timer fires, finds the cart converted and ends the run: then nothing is
    // left that could send.
    let (_, runs) = until_settled(&hub, "seg@example.com", 20).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "converted", "{runs:?}");
    let run_id = runs[0]["id"].as_str().unwrap();
    assert_eq!(
        messages_of_run(&hub, run_id).await.len(),
        1,
        "a reminder after the purchase"
    );
    assert_eq!(sent(&hub).await.len(), 1, "a reminder after the purchase");
}

#[tokio::test]
async fn a_klaviyo_unsubscribe_stops_email() {
    let hub = spawn_hub(CONFIG, &[]).await.unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    // The shopper is known from a Segment identify, then unsubscribes in Klaviyo.
    let ident = json!({ "type": "identify", "messageId": "k-m1", "userId": "u-9", "traits": { "email": "kl@example.com" }, "timestamp": now });
    hub.client
        .post(hub.url("/v1/identify"))
        .basic_auth("wk_live_abc", Some(""))
        .json(&ident)
        .send()
        .await
        .unwrap();
    let flow_hook = json!({ "event_id": "kl-evt-1", "email": "KL@example.com", "email_consent": "unsubscribed", "occurred_at": now });
    let resp = hub
        .client
        .post(hub.url("/webhooks/klaviyo"))
        .header("x-cartback-secret", "klaviyo-shared-secret")
        .json(&flow_hook)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let forged = hub
        .client
        .post(hub.url("/webhooks/klaviyo"))
        .header("x-cartback-secret", "guess")
        .json(&flow_hook)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let cart = json!({ "type": "track", "event": "Cart Viewed", "messageId": "k-m2", "userId": "u-9",
        "properties": { "cart_id": "cart-kl", "products": [ { "product_id": "p", "name": "Tea", "price": 5, "quantity": 1 } ] },
        "context": { "traits": { "email": "kl@example.com" } }, "timestamp": chrono::Utc::now().to_rfc3339() });
    hub.client
        .post(hub.url("/v1/track"))
        .basic_auth("wk_live_abc", Some(""))
        .json(&cart)
        .send()
        .await
        .unwrap();
    // The cart's abandonment check runs (the cart becomes `abandoned`); no run it may have
    // started holds a message.
    let (cart, runs) = until_settled(&hub, "kl@example.com", 20).await;
    assert_eq!(cart["status"], "abandoned", "{cart}");
    for run in &runs {
        let messages = messages_of_run(&hub, run["id"].as_str().unwrap()).await;
        assert!(
            messages.is_empty(),
            "a message to an unsubscribed shopper: {messages:?}"
        );
    }
    assert!(
        sent(&hub).await.is_empty(),
        "emailed an unsubscribed shopper"
    );
    let carts: Value = hub
        .admin_get("/api/v1/carts?email=kl@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        carts["carts"][0]["contact"]["email_consent"], "unsubscribed",
        "{carts}"
    );
}
