//! The attacks of the outside review, replayed end to end against a running hub: each must now do
//! no harm. (1) a public Segment browser key used as a phishing relay; (2) a captured Shopify
//! checkout re-sent as a privacy request; (3) a forged element behind a signed one in a Segment
//! batch; (4) an unsigned SendGrid resubscribe; (5) script through the on-site pop-up's links;
//! and the input the review found accepted (negative prices, over-long addresses, CR/LF in names).
#![allow(clippy::unwrap_used)]

use cartback_e2e::{until, until_settled};
use cartback_kit::token::{LinkKind, LinkSigner, LinkToken};
use cartback_testkit::hub::ADMIN_TOKEN;
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SHOPIFY_SECRET: &str = "attack-shopify-secret";
const SEGMENT_SECRET: &str = "attack-segment-secret";
const LINK_SECRET: &str = "attack-link-secret-0123456789";
const BROWSER_KEY: &str = "wk_browser_public";
const SERVER_KEY: &str = "wk_server_secret";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"
link_secret = "attack-link-secret-0123456789"
link_hosts = ["shop.example", "*.shop.example"]
recovery_page = "https://shop.example/cart"

[store]
url = "sqlite://hub.db"

[source.web]
type = "segment"
write_keys = ["wk_browser_public"]
server_write_keys = ["wk_server_secret"]
shared_secret = "attack-segment-secret"

[source.shop]
type = "shopify"
secret = "attack-shopify-secret"
shop_domain = "test-shop.myshopify.com"

[channel.email]
type = "webhook"
url = "${HOOK_URL}"
secret = "attack-hook-secret"

[channel.mail]
type = "sendgrid"
api_key = "SG.not-used"
from = "Shop <shop@example.com>"
allow_unsigned_events = true

[channel.site]
type = "web"
site_key = "site1"
origins = ["https://shop.example"]

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  send = { channel = "email", template = "t" }

[template.t]
subject = "Your cart"
text = "Resume: {{ cart.recovery_url }}{% for i in cart.items %} | {{ i.title }} {{ i.url }}{% endfor %}"
"#;

/// A hub whose reminders go, whole, to a webhook receiver the test reads.
async fn hub() -> (Hub, MockServer) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let hub = spawn_hub(CONFIG, &[("HOOK_URL", &receiver.uri())])
        .await
        .unwrap();
    (hub, receiver)
}

/// Every reminder delivered so far, as the receiver got it.
async fn delivered(receiver: &MockServer) -> Vec<Value> {
    receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn checkout(id: &str, email: &str, checkout_url: &str, product_url: &str) -> Value {
    json!({
        "type": "track", "event": "Checkout Started", "messageId": id, "anonymousId": format!("anon-{id}"),
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "context": { "traits": { "email": email } },
        "properties": { "order_id": format!("co-{id}"), "currency": "USD", "value": 50,
            "checkout_url": checkout_url,
            "products": [{ "product_id": "p1", "name": "ACTION REQUIRED: payment failed", "price": 50,
                "quantity": 1, "url": product_url, "image_url": "http://evil.example/pixel.png" }] }
    })
}

async fn track(hub: &Hub, key: &str, body: &Value) -> reqwest::Response {
    hub.client
        .post(hub.url("/v1/track"))
        .basic_auth(key, Some(""))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn json(hub: &Hub, path: &str) -> Value {
    hub.admin_get(path).await.unwrap().json().await.unwrap()
}

/// The hub's tracked links in a message text, in order.
fn hub_links(text: &str, hub: &Hub) -> Vec<String> {
    text.split([' ', '|'])
        .filter(|w| w.starts_with(&hub.url("/")))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_public_key_cannot_make_the_hub_email_a_stranger_or_link_anywhere() {
    let (hub, receiver) = hub().await;
    // The attack: the browser key from the shop's page, a stranger's address, evil links.
    let attack = checkout(
        "m1",
        "stranger@example.com",
        "http://evil.example/login",
        "http://evil.example/card",
    );
    let r = track(&hub, BROWSER_KEY, &attack).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The cart is kept (a claim), without the links; the address is not vouched for.
    let carts = json(&hub, "/api/v1/carts?email=stranger@example.com").await;
    let cart = &carts["carts"][0];
    assert_eq!(cart["recovery_url"], Value::Null, "{cart}");
    assert_eq!(cart["items"][0]["url"], Value::Null, "{cart}");
    assert_eq!(cart["items"][0]["image_url"], Value::Null, "{cart}");
    assert_eq!(cart["contact"]["email_verified"], false, "{cart}");
    // Past abandon_after: the cart's check has run (the cart is `abandoned`), nothing is pending,
    // and nothing is, or ever will be, sent to the stranger.
    let (cart, runs) = until_settled(&hub, "stranger@example.com", 20).await;
    assert_eq!(cart["status"], "abandoned", "{cart}");
    for run in &runs {
        let id = run["id"].as_str().unwrap();
        let messages = json(&hub, &format!("/api/v1/messages?run_id={id}")).await;
        assert_eq!(
            messages["count"], 0,
            "a message to the stranger: {messages}"
        );
    }
    assert!(delivered(&receiver).await.is_empty());

    // The same through the shop's own server key reaches its shopper, but never evil.example:
    // the recovery link falls back to the shop's recovery page, the product link is gone.
    let genuine = checkout(
        "m2",
        "ann@example.com",
        "http://evil.example/login",
        "https://www.shop.example/p/mug",
    );
    assert_eq!(track(&hub, SERVER_KEY, &genuine).await.status(), 200);
    until("the reminder to the vouched-for shopper", || async {
        delivered(&receiver).await.len() == 1
    })
    .await;
    let message = &delivered(&receiver).await[0];
    assert_eq!(message["contact"]["email"], "ann@example.com");
    assert!(!message.to_string().contains("evil.example"), "{message}");
    let text = message["message"]["text"].as_str().unwrap();
    assert!(!text.contains("evil.example"), "{text}");
    let links = hub_links(text, &hub);
    assert_eq!(links.len(), 2, "{text}");
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut targets = Vec::new();
    for link in &links {
        let r = no_redirect.get(link).send().await.unwrap();
        assert_eq!(r.status(), 302, "{link}");
        targets.push(r.headers()["location"].to_str().unwrap().to_string());
    }
    // The recovery page is one of the site's origins: it learns who this is (cb_v). The product
    // page is on an allowed host that is not a site origin: no visitor token is appended.
    assert!(
        targets[0].starts_with("https://shop.example/cart?cb_v="),
        "{targets:?}"
    );
    assert_eq!(targets[1], "https://www.shop.example/p/mug");
}

#[tokio::test]
async fn a_captured_checkout_cannot_erase_shoppers() {
    let (hub, _receiver) = hub().await;
    let body = serde_json::to_vec(&json!({
        "id": 1, "token": "tok-1", "cart_token": "cart-1", "email": "ann@example.com",
        "updated_at": chrono::Utc::now().to_rfc3339(), "currency": "USD", "total_price": "50.00",
        "abandoned_checkout_url": "https://shop.example/recover/tok-1",
        "line_items": [{ "product_id": 7, "variant_id": 8, "title": "Mug", "quantity": 1, "price": "50.00" }]
    }))
    .unwrap();
    let send = |topic: &'static str, id: &'static str| {
        shopify_request(
            &hub.client,
            &hub.url("/webhooks/shop"),
            SHOPIFY_SECRET,
            topic,
            id,
            &body,
        )
        .send()
    };
    assert_eq!(send("checkouts/create", "w1").await.unwrap().status(), 200);
    // The same signed body, replayed under the privacy topics.
    for (topic, id) in [("customers/redact", "w2"), ("shop/redact", "w3")] {
        let r = send(topic, id).await.unwrap();
        assert_eq!(r.status(), 400, "{topic}: {}", r.text().await.unwrap());
    }
    let carts = json(&hub, "/api/v1/carts?email=ann@example.com").await;
    assert_eq!(carts["carts"][0]["contact"]["email"], "ann@example.com");
    assert_eq!(
        carts["carts"][0]["recovery_url"],
        "https://shop.example/recover/tok-1"
    );
}

#[tokio::test]
async fn a_forged_element_behind_a_signed_one_is_never_stored() {
    let (hub, _receiver) = hub().await;
    let signed = serde_json::to_string(&checkout(
        "b1",
        "ann@example.com",
        "https://shop.example/c/1",
        "https://shop.example/p/1",
    ))
    .unwrap();
    let forged = serde_json::to_string(&checkout(
        "b2",
        "forged@example.com",
        "https://shop.example/c/2",
        "https://shop.example/p/2",
    ))
    .unwrap();
    let body = format!("[{signed},{forged}]");
    let sig = cartback_segment::verify::sign(SEGMENT_SECRET, signed.as_bytes());
    let r = hub
        .client
        .post(hub.url("/webhooks/web"))
        .header("content-type", "application/json")
        .header("x-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let ann = json(&hub, "/api/v1/carts?email=ann@example.com").await;
    assert_eq!(ann["carts"].as_array().unwrap().len(), 1);
    let forged = json(&hub, "/api/v1/carts?email=forged@example.com").await;
    assert!(forged["carts"].as_array().unwrap().is_empty(), "{forged}");
}

#[tokio::test]
async fn a_resubscribe_never_undoes_a_hub_unsubscribe() {
    let (hub, receiver) = hub().await;
    let genuine = checkout(
        "u1",
        "ann@example.com",
        "https://shop.example/c",
        "https://shop.example/p",
    );
    assert_eq!(track(&hub, SERVER_KEY, &genuine).await.status(), 200);
    until("the reminder", || async {
        delivered(&receiver).await.len() == 1
    })
    .await;
    // The shopper unsubscribes through the hub's own link (RFC 8058 one-click POST).
    let message_id = delivered(&receiver).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unsubscribe = LinkSigner::new(LINK_SECRET.as_bytes().to_vec()).url(
        &hub.url(""),
        &LinkToken {
            kind: LinkKind::Unsubscribe,
            message_id,
            index: 0,
        },
    );
    let r = hub.client.post(&unsubscribe).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let contact = || async {
        json(&hub, "/api/v1/carts?email=ann@example.com").await["carts"][0]["contact"]
            ["email_consent"]
            .clone()
    };
    assert_eq!(contact().await, "unsubscribed");
    // A forged (here: explicitly allowed unsigned) SendGrid group_resubscribe changes nothing.
    let events = json!([{ "email": "ann@example.com", "event": "group_resubscribe",
        "timestamp": chrono::Utc::now().timestamp(), "sg_event_id": "ev-1", "asm_group_id": 1 }]);
    let r = hub
        .client
        .post(hub.url("/webhooks/mail"))
        .json(&events)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    assert_eq!(contact().await, "unsubscribed");
}

#[tokio::test]
async fn the_pop_up_only_ever_gets_http_links_on_the_shops_hosts() {
    let (hub, _receiver) = hub().await;
    let script = checkout(
        "w1",
        "ann@example.com",
        "javascript:alert(document.cookie)",
        "javascript:alert(1)",
    );
    assert_eq!(track(&hub, SERVER_KEY, &script).await.status(), 200);
    let carts = json(&hub, "/api/v1/carts?email=ann@example.com").await;
    let cart_id = carts["carts"][0]["id"].as_str().unwrap().to_string();
    let preview: Value = hub
        .client
        .post(hub.url("/api/v1/onsite/preview"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "cart_id": cart_id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = preview["token"].as_str().unwrap();
    let url = hub.url(&format!("/onsite/cart?site=site1&preview={token}"));
    let content: Value = hub
        .client
        .get(&url)
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!content.to_string().contains("javascript:"), "{content}");
    assert_eq!(content["recovery_url"], "https://shop.example/cart");
    assert_eq!(content["items"][0]["url"], Value::Null);
    // The cart is read only from the shop's own pages.
    let r = hub.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = hub
        .client
        .get(&url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A visitor token expires.
    let signer = LinkSigner::new(LINK_SECRET.as_bytes().to_vec());
    let contact_id = carts["carts"][0]["contact"]["id"].as_str().unwrap();
    let expired = signer.sign(&LinkToken {
        kind: LinkKind::Visitor,
        message_id: contact_id.to_string(),
        index: u32::try_from(chrono::Utc::now().timestamp() - 60).unwrap(),
    });
    let r = hub
        .client
        .get(hub.url(&format!("/onsite/cart?site=site1&visitor={expired}")))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn negative_prices_long_addresses_and_line_breaks_in_names_do_not_get_through() {
    let (hub, _receiver) = hub().await;
    let checkout = |id: &str, email: &str, first_name: &str, price: &str| {
        serde_json::to_vec(&json!({
            "id": 1, "token": format!("tok-{id}"), "cart_token": format!("cart-{id}"), "email": email,
            "updated_at": chrono::Utc::now().to_rfc3339(), "currency": "USD", "total_price": "50.00",
            "customer": { "id": 7, "email": email, "first_name": first_name },
            "line_items": [{ "product_id": 7, "variant_id": 8, "title": "Mug", "quantity": 1, "price": price }]
        }))
        .unwrap()
    };
    let post = |id: &'static str, body: Vec<u8>| {
        let hub = &hub;
        async move {
            let r = shopify_request(
                &hub.client,
                &hub.url("/webhooks/shop"),
                SHOPIFY_SECRET,
                "checkouts/create",
                id,
                &body,
            )
            .send()
            .await
            .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, reason) = post("n1", checkout("n1", "ann@example.com", "Ann", "-50.00")).await;
    assert_eq!(status, 400, "{reason}");
    assert!(reason.contains("negative"), "{reason}");

    let long = format!("{}@example.com", "a".repeat(290));
    let (status, reason) = post("n2", checkout("n2", &long, "Ann", "50.00")).await;
    // Refused outright, or stored without the address: never sent to a provider.
    if status == 200 {
        let carts = json(&hub, "/api/v1/carts?limit=10").await;
        assert!(!carts.to_string().contains(&long), "{carts}");
    } else {
        assert_eq!(status, 400, "{reason}");
    }

    let (status, reason) = post(
        "n3",
        checkout(
            "n3",
            "bob@example.com",
            "Bob\r\nBcc: victim@example.com",
            "50.00",
        ),
    )
    .await;
    assert_eq!(status, 200, "{reason}");
    let carts = json(&hub, "/api/v1/carts?email=bob@example.com").await;
    let name = carts["carts"][0]["contact"]["first_name"].as_str().unwrap();
    assert!(!name.contains(['\r', '\n']), "{name:?}");
}
