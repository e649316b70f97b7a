//! Hand-off end to end, per platform (Klaviyo, Segment, HubSpot, Mailchimp; and Omnisend, Drip,
//! WebEngage of the long tail), on the real hub with the real clock: a signed Shopify
//! checkout is abandoned and handed to each marketing platform (wiremock standing in for it) with
//! the tracked recovery link; the purchase sends each platform one closing event, exactly once,
//! however often the order arrives; a held-out shopper is never handed off.
#![allow(clippy::unwrap_used)]

use cartback_e2e::payloads::{shopify_checkout, shopify_order};
use cartback_e2e::until_within;
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "handoff-secret";
/// The order's id: only a closing event carries it.
const ORDER_ID: u64 = 31_337_000_713;

/// One platform: its channel table (with `${URL}` for wiremock's address) and its success answer.
struct Platform {
    id: &'static str,
    channel: &'static str,
    ok: fn() -> ResponseTemplate,
}

fn platforms() -> Vec<Platform> {
    vec![
        Platform {
            id: "klaviyo",
            channel: r#"type = "klaviyo"
api_key = "pk_test_handoff"
base_url = "${URL}""#,
            ok: || ResponseTemplate::new(202),
        },
        Platform {
            id: "segment",
            channel: r#"type = "segment"
write_key = "segment-handoff-key"
base_url = "${URL}""#,
            ok: || ResponseTemplate::new(200).set_body_json(serde_json::json!({"success": true})),
        },
        Platform {
            id: "hubspot",
            channel: r#"type = "hubspot"
access_token = "pat-na1-handoff"
base_url = "${URL}""#,
            ok: || {
                ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({"status": "COMPLETE", "results": [{"id": "501"}]}),
                )
            },
        },
        Platform {
            id: "mailchimp",
            channel: r#"type = "mailchimp"
api_key = "0123456789abcdef0123456789abcdef-us6"
store_id = "shop"
base_url = "${URL}""#,
            ok: || ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "x"})),
        },
        Platform {
            id: "omnisend",
            channel: r#"type = "omnisend"
api_key = "omnisend-handoff-key"
base_url = "${URL}""#,
            ok: || ResponseTemplate::new(202).set_body_json(serde_json::json!({})),
        },
        Platform {
            id: "drip",
            channel: r#"type = "drip"
api_token = "drip-handoff-token"
account_id = "9999999"
base_url = "${URL}""#,
            ok: || ResponseTemplate::new(202).set_body_json(serde_json::json!({})),
        },
        Platform {
            id: "webengage",
            channel: r#"type = "webengage"
license_code = "~10a5cb78d"
api_key = "webengage-handoff-key"
base_url = "${URL}""#,
            ok: || {
                ResponseTemplate::new(201)
                    .set_body_json(serde_json::json!({"response": {"status": "queued"}}))
            },
        },
    ]
}

fn config(platform: &Platform, holdout: u8) -> String {
    format!(
        r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "${{SHOPIFY_SECRET}}"

[channel.{id}]
{channel}

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
holdout_percent = {holdout}
  [[flow.recover.step]]
  send = {{ channel = "{id}" }}
"#,
        id = platform.id,
        channel = platform.channel.replace("${URL}", "${PLATFORM_URL}"),
    )
}

async fn hub(platform: &Platform, server: &MockServer, holdout: u8) -> Hub {
    spawn_hub(
        &config(platform, holdout),
        &[("SHOPIFY_SECRET", SECRET), ("PLATFORM_URL", &server.uri())],
    )
    .await
    .unwrap()
}

async fn post(hub: &Hub, topic: &str, id: &str, body: &Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let resp = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        topic,
        id,
        &bytes,
    )
    .send()
    .await
    .unwrap();
    assert!(resp.status().is_success(), "{topic}: {}", resp.status());
}

fn checkout(token: &str, email: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339();
    let mut c = shopify_checkout(token, email, &now, 1);
    c["abandoned_checkout_url"] = Value::String(format!("https://shop.example/recover/{token}"));
    c
}

fn order(token: &str, email: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339();
    let mut o = shopify_order(ORDER_ID, token, email);
    o["created_at"] = Value::String(now.clone());
    o["processed_at"] = Value::String(now);
    o
}

fn bodies(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

async fn received(server: &MockServer) -> Vec<String> {
    bodies(&server.received_requests().await.unwrap_or_default())
}

#[tokio::test]
async fn each_platform_gets_the_cart_then_one_closing_event() {
    for platform in platforms() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with((platform.ok)())
            .mount(&server)
            .await;
        let hub = hub(&platform, &server, 0).await;
        post(
            &hub,
            "checkouts/create",
            "h-1",
            &checkout("hand-tok", "ann@example.com"),
        )
        .await;
        until_within(30, &format!("{}: the hand-off", platform.id), || async {
            !received(&server).await.is_empty()
        })
        .await;
        let first = received(&server).await;
        let handed = first.join("\n");
        assert!(
            handed.contains("ann@example.com"),
            "{}: the contact: {handed}",
            platform.id
        );
        assert!(
            handed.contains(&hub.url("/r/")),
            "{}: the tracked recovery link, not the shop's: {handed}",
            platform.id
        );
        assert!(
            !handed.contains(&ORDER_ID.to_string()),
            "{}: no closing event before the purchase",
            platform.id
        );
        // The purchase, delivered twice and followed by orders/paid for the same order.
        let bought = order("hand-tok", "ann@example.com");
        post(&hub, "orders/create", "h-2", &bought).await;
        post(&hub, "orders/create", "h-2", &bought).await;
        post(&hub, "orders/paid", "h-3", &bought).await;
        let closing = |bodies: Vec<String>| {
            bodies
                .into_iter()
                .filter(|b| b.contains(&ORDER_ID.to_string()))
                .count()
        };
        until_within(
            30,
            &format!("{}: the closing event", platform.id),
            || async { closing(received(&server).await) >= 1 },
        )
        .await;
        // Once the engine is done with the cart (converted, no run running, nothing queued), a
        // second closing event could only come from something new arriving.
        cartback_e2e::until_settled(&hub, "ann@example.com", 30).await;
        assert_eq!(
            closing(received(&server).await),
            1,
            "{}: exactly one closing event",
            platform.id
        );
        let messages: Value = hub
            .admin_get("/api/v1/messages")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sent = messages["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["status"] == "sent")
            .count();
        assert_eq!(
            sent, 2,
            "{}: the hand-off and its closing: {messages}",
            platform.id
        );
    }
}

#[tokio::test]
async fn a_held_out_shopper_is_never_handed_off() {
    for platform in platforms() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with((platform.ok)())
            .mount(&server)
            .await;
        let hub = hub(&platform, &server, 100).await;
        post(
            &hub,
            "checkouts/create",
            "h-1",
            &checkout("held-tok", "held@example.com"),
        )
        .await;
        until_within(30, "the run recorded as held out", || async {
            let carts: Value = hub
                .admin_get("/api/v1/carts?email=held@example.com")
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let Some(id) = carts["carts"][0]["id"].as_str() else {
                return false;
            };
            let runs: Value = hub
                .admin_get(&format!("/api/v1/carts/{id}/runs"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            runs["runs"][0]["status"] == "held_out"
        })
        .await;
        post(
            &hub,
            "orders/create",
            "h-2",
            &order("held-tok", "held@example.com"),
        )
        .await;
        // The engine is done with the cart: bought, the held-out run never running, nothing queued.
        until_within(30, "the order converts the held-out cart", || async {
            cartback_e2e::cart_of(&hub, "held@example.com")
                .await
                .is_some_and(|c| c["status"] == "converted")
        })
        .await;
        cartback_e2e::until_settled(&hub, "held@example.com", 30).await;
        assert!(
            received(&server).await.is_empty(),
            "{}: nothing handed off, nothing closed",
            platform.id
        );
    }
}
