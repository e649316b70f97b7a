//! WooCommerce (webhooks), Magento (polling) and HubSpot (consent) end to end: carts are
//! abandoned and the flow sends; orders stop the flow; a HubSpot opt-out stops email.
#![allow(clippy::unwrap_used)]

use cartback_e2e::{messages_of_run, until, until_settled};

use base64::Engine as _;
use cartback_testkit::{spawn_hub, Hub};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Digest;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(connector: &str, name: &str) -> Value {
    let p = format!(
        "{}/../connectors/{connector}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn config(magento: &str) -> String {
    format!(
        r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"
[store]
url = "sqlite://hub.db"
[source.woo]
type = "woocommerce"
secret = "woo-secret"
[source.mage]
type = "magento"
base_url = "{magento}"
access_token = "mage-token"
poll_interval = "1s"
[source.hubspot]
type = "hubspot"
client_secret = "hubspot-secret"
[channel.email]
type = "console"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  send = {{ channel = "email", template = "t" }}
  [[flow.recover.step]]
  wait = "2s"
  unless = ["purchased"]
  send = {{ channel = "email", template = "t" }}
[template.t]
subject = "{{{{ cart.items[0].title }}}}"
text = "{{{{ cart.total }}}}"
"#
    )
}

async fn sent_to(hub: &Hub, email: &str) -> usize {
    let carts: Value = hub
        .admin_get(&format!("/api/v1/carts?email={email}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let Some(id) = carts["carts"][0]["id"].as_str() else {
        return 0;
    };
    let m: Value = hub
        .admin_get("/api/v1/messages?status=sent&limit=500")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    m["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["cart_id"] == id)
        .count()
}

async fn cart_status(hub: &Hub, email: &str) -> Value {
    let carts: Value = hub
        .admin_get(&format!("/api/v1/carts?email={email}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    carts["carts"][0]["status"].clone()
}

async fn woo(hub: &Hub, topic: &str, body: &Value) -> u16 {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"woo-secret").unwrap();
    mac.update(&bytes);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    hub.client
        .post(hub.url("/webhooks/woo"))
        .header("x-wc-webhook-topic", topic)
        .header("x-wc-webhook-signature", sig)
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn woocommerce_magento_and_hubspot() {
    let magento = MockServer::start().await;
    let empty = json!({ "items": [], "total_count": 0, "search_criteria": {} });
    Mock::given(method("GET"))
        .and(path("/rest/V1/carts/search"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("magento", "carts_search.json")),
        )
        .mount(&magento)
        .await;
    for id in ["1201", "1202"] {
        Mock::given(method("GET"))
            .and(path(format!("/rest/V1/carts/{id}/totals")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(fixture("magento", &format!("totals_{id}.json"))),
            )
            .mount(&magento)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(empty.clone()))
        .with_priority(5)
        .mount(&magento)
        .await;
    let hub = spawn_hub(&config(&magento.uri()), &[]).await.unwrap();

    // WooCommerce: the creation ping is answered before any signature check.
    let ping = hub
        .client
        .post(hub.url("/webhooks/woo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=42")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    // A pending order is an open cart; the flow reminds; processing converts and stops the flow.
    let mut pending = fixture("woocommerce", "order_pending.json");
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    pending["date_modified_gmt"] = json!(now);
    assert_eq!(woo(&hub, "order.created", &pending).await, 200);
    let email = pending["billing"]["email"].as_str().unwrap().to_lowercase();
    until("the WooCommerce reminder", || async {
        sent_to(&hub, &email).await == 1
    })
    .await;
    let mut processing = pending.clone();
    processing["status"] = json!("processing");
    processing["date_modified_gmt"] =
        json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string());
    processing["date_paid_gmt"] = processing["date_modified_gmt"].clone();
    assert_eq!(woo(&hub, "order.updated", &processing).await, 200);
    assert_eq!(cart_status(&hub, &email).await, "converted");
    // A forged delivery is refused.
    let forged = hub
        .client
        .post(hub.url("/webhooks/woo"))
        .header("x-wc-webhook-topic", "order.updated")
        .header("x-wc-webhook-signature", "AAAA")
        .body(serde_json::to_vec(&pending).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    // Magento: polled quotes become carts and are reminded; an order for the quote converts it.
    until("the Magento reminder", || async {
        sent_to(&hub, "ann.lee@example.com").await >= 1
    })
    .await;
    let mut orders = fixture("magento", "orders_search.json");
    orders["items"][0]["quote_id"] = json!(1201);
    orders["items"][0]["created_at"] =
        json!(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string());
    orders["items"][0]["customer_email"] = json!("ann.lee@example.com");
    Mock::given(method("GET"))
        .and(path_regex("^/rest/V1/orders$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(orders))
        .with_priority(1)
        .mount(&magento)
        .await;
    until("the Magento order", || async {
        cart_status(&hub, "ann.lee@example.com").await == "converted"
    })
    .await;
    // Each run's second step finds its cart converted and ends the run: then nothing is left
    // that could send.
    for who in ["ann.lee@example.com", email.as_str()] {
        let (_, runs) = until_settled(&hub, who, 20).await;
        assert_eq!(runs.len(), 1, "{who}: {runs:?}");
        assert_eq!(runs[0]["status"], "converted", "{who}: {runs:?}");
        let run_id = runs[0]["id"].as_str().unwrap();
        assert_eq!(
            messages_of_run(&hub, run_id).await.len(),
            1,
            "{who}: reminded after the purchase"
        );
    }
    assert_eq!(
        sent_to(&hub, "ann.lee@example.com").await,
        1,
        "reminded after the purchase"
    );
    assert_eq!(
        sent_to(&hub, &email).await,
        1,
        "reminded after the purchase"
    );

    // HubSpot: a contact opts out of email (v1 signature); their next cart gets no email.
    let body = serde_json::to_vec(&json!([
        { "eventId": 9001, "subscriptionId": 1, "portalId": 62515, "occurredAt": chrono::Utc::now().timestamp_millis(),
          "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 123,
          "propertyName": "email", "propertyValue": "hs@example.com" },
        { "eventId": 9002, "subscriptionId": 1, "portalId": 62515, "occurredAt": chrono::Utc::now().timestamp_millis(),
          "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 123,
          "propertyName": "hs_email_optout", "propertyValue": "true" }
    ]))
    .unwrap();
    let sig = hex::encode(sha2::Sha256::digest(
        [b"hubspot-secret".as_slice(), &body].concat(),
    ));
    let r = hub
        .client
        .post(hub.url("/webhooks/hubspot"))
        .header("x-hubspot-signature", &sig)
        .header("x-hubspot-signature-version", "v1")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let bad = hub
        .client
        .post(hub.url("/webhooks/hubspot"))
        .header("x-hubspot-signature", "00")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let mut hs_cart = fixture("woocommerce", "order_pending.json");
    hs_cart["id"] = json!(999);
    hs_cart["billing"]["email"] = json!("hs@example.com");
    hs_cart["date_modified_gmt"] =
        json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string());
    assert_eq!(woo(&hub, "order.created", &hs_cart).await, 200);
    // The cart's abandonment check runs (the cart becomes `abandoned`); no run it may have
    // started holds a message.
    let (cart, runs) = until_settled(&hub, "hs@example.com", 20).await;
    assert_eq!(cart["status"], "abandoned", "{cart}");
    for run in &runs {
        let messages = messages_of_run(&hub, run["id"].as_str().unwrap()).await;
        assert!(
            messages.is_empty(),
            "a message to a HubSpot opt-out: {messages:?}"
        );
    }
    assert_eq!(
        sent_to(&hub, "hs@example.com").await,
        0,
        "emailed a HubSpot opt-out"
    );
}
