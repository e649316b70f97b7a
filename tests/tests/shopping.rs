//! Carts built from shopping events and the triggers beyond `cart_abandoned`, on the real hub
//! with the real clock, through Segment's own wire format (`POST /v1/track` with a server write
//! key): an anonymous visitor's adds and removes (one delivered out of order), an identify, the
//! abandonment, and a reminder that lists exactly the remaining items; `checkout_abandoned` only
//! for a shopper who reached checkout; `tag:<name>` started by the tags API; `event:<name>` with
//! the event's properties in the template and a condition; `max_cart_age` keeping a replayed
//! week-old cart from any reminder.
#![allow(clippy::unwrap_used)]

use cartback_e2e::{admin_json, until};
use cartback_testkit::{spawn_hub, Hub};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

const KEY: &str = "wk_server_shopping";

fn config(flows: &str) -> String {
    format!(
        r#"
[server]
link_hosts = ["shop.example"]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"

[store]
url = "sqlite://hub.db"

[source.web]
type = "segment"
server_write_keys = ["{KEY}"]

[channel.email]
type = "console"

[template.items]
subject = "{{% for i in cart.items %}}{{{{ i.quantity }}}}x {{{{ i.title }}}}{{% if not loop.last %}}, {{% endif %}}{{% endfor %}}"
text = "{{{{ cart.total }}}} {{{{ cart.recovery_url }}}}"

[template.drop]
subject = "{{{{ event.properties.product_name | default('') }}}} is {{{{ event.properties.percent | default('') }}}}% off"
text = "{{{{ cart.recovery_url }}}}"
{flows}
"#
    )
}

async fn track(hub: &Hub, body: Value) {
    let resp = hub
        .client
        .post(hub.url("/v1/track"))
        .basic_auth(KEY, Some(""))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(status, 200, "{}", resp.text().await.unwrap());
}

async fn sent(hub: &Hub) -> Vec<Value> {
    admin_json(hub, "/api/v1/messages?status=sent").await["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn at(ms: i64) -> String {
    (Utc::now() + Duration::milliseconds(ms)).to_rfc3339()
}

fn product(event: &str, id: &str, anon: &str, ms: i64, props: Value) -> Value {
    json!({ "type": "track", "event": event, "messageId": id, "anonymousId": anon,
            "timestamp": at(ms), "properties": props })
}

async fn carts_of(hub: &Hub, email: &str) -> Value {
    admin_json(hub, &format!("/api/v1/carts?email={email}")).await["carts"].clone()
}

#[tokio::test]
async fn an_anonymous_visitors_clicks_become_the_cart_the_reminder_lists() {
    let hub = spawn_hub(
        &config(
            r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "2s"
  [[flow.recover.step]]
  send = { channel = "email", template = "items" }
"#,
        ),
        &[],
    )
    .await
    .unwrap();
    let anon = "anon-visitor-9";
    let mug = json!({ "product_id": "p-mug", "sku": "MUG", "name": "Enamel Mug", "price": 12.5,
                      "quantity": 2, "url": "https://shop.example/p/mug" });
    let tee = json!({ "product_id": "p-tee", "sku": "TEE", "name": "Red Tee", "price": "19.99" });
    let cap =
        json!({ "product_id": "p-cap", "sku": "CAP", "name": "Cap", "price": 9, "quantity": 1 });
    track(&hub, product("Product Added", "s-1", anon, 0, mug)).await;
    // The remove (later on the shopper's clock) arrives before the add it undoes.
    track(
        &hub,
        product("Product Removed", "s-3", anon, 200, tee.clone()),
    )
    .await;
    track(&hub, product("Product Added", "s-2", anon, 100, tee)).await;
    track(&hub, product("Product Added", "s-4", anon, 300, cap)).await;
    // A redelivery of a click changes nothing.
    track(
        &hub,
        product(
            "Product Added",
            "s-4",
            anon,
            300,
            json!({ "sku": "CAP", "name": "Cap", "price": 9 }),
        ),
    )
    .await;
    // Then the shopper logs in: the anonymous visitor's cart now has someone to remind.
    track(
        &hub,
        json!({ "type": "identify", "messageId": "s-5", "anonymousId": anon, "userId": "user-9",
                "traits": { "email": "shopper9@example.com", "firstName": "Sam" }, "timestamp": at(400) }),
    )
    .await;
    until("the reminder", || async { sent(&hub).await.len() == 1 }).await;
    assert_eq!(
        sent(&hub).await[0]["subject"],
        "2x Enamel Mug, 1x Cap",
        "exactly the remaining items"
    );
    let carts = carts_of(&hub, "shopper9@example.com").await;
    assert_eq!(carts.as_array().unwrap().len(), 1, "{carts}");
    assert_eq!(carts[0]["total"]["amount"], "34.00", "{carts}");
}

#[tokio::test]
async fn a_checkout_flow_reminds_only_shoppers_who_reached_checkout() {
    let hub = spawn_hub(
        &config(
            r#"
[flow.checkout]
trigger = "checkout_abandoned"
abandon_after = "1s"
  [[flow.checkout.step]]
  send = { channel = "email", template = "items" }
"#,
        ),
        &[],
    )
    .await
    .unwrap();
    let item = json!([{ "product_id": "p1", "name": "Mug", "price": 10, "quantity": 1 }]);
    let traits = |email: &str| json!({ "traits": { "email": email } });
    for (event, id, email) in [
        ("Cart Viewed", "c-1", "browser@example.com"),
        ("Checkout Started", "c-2", "buyer@example.com"),
    ] {
        track(
            &hub,
            json!({ "type": "track", "event": event, "messageId": id, "userId": email,
                    "timestamp": at(0), "context": traits(email),
                    "properties": { "cart_id": format!("cart-{id}"), "products": item } }),
        )
        .await;
    }
    until("the checkout reminder", || async {
        sent(&hub).await.len() == 1
    })
    .await;
    until("both carts abandoned", || async {
        let a = carts_of(&hub, "browser@example.com").await;
        a[0]["status"] == "abandoned"
    })
    .await;
    let runs = admin_json(
        &hub,
        &format!(
            "/api/v1/carts/{}/runs",
            carts_of(&hub, "browser@example.com").await[0]["id"]
                .as_str()
                .unwrap()
        ),
    )
    .await;
    assert_eq!(
        runs["runs"],
        json!([]),
        "a cart that never reached checkout"
    );
    let to = admin_json(&hub, "/api/v1/messages?status=sent").await;
    assert_eq!(to["count"], 1);
}

#[tokio::test]
async fn a_tag_set_through_the_api_starts_its_flow_once() {
    let hub = spawn_hub(
        &config(
            r#"
[flow.ab]
trigger = "tag:AB CART"
  [[flow.ab.step]]
  send = { channel = "email", template = "items" }
"#,
        ),
        &[],
    )
    .await
    .unwrap();
    track(
        &hub,
        json!({ "type": "track", "event": "Cart Viewed", "messageId": "t-1", "userId": "u-t",
                "timestamp": at(0), "context": { "traits": { "email": "tagged@example.com" } },
                "properties": { "cart_id": "cart-t", "products": [
                    { "product_id": "p1", "name": "Mug", "price": 10, "quantity": 3 } ] } }),
    )
    .await;
    let contact = carts_of(&hub, "tagged@example.com").await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let resp = hub
            .client
            .post(hub.url(&format!("/api/v1/contacts/{contact}/tags")))
            .bearer_auth(&hub.admin_token)
            .json(&json!({ "tags": ["ab cart"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    until("the tag's reminder", || async {
        sent(&hub).await.len() == 1
    })
    .await;
    assert_eq!(sent(&hub).await[0]["subject"], "3x Mug");
    // Tagging again (the same tag) starts nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(sent(&hub).await.len(), 1);
}

#[tokio::test]
async fn a_named_event_starts_its_flow_with_its_properties() {
    let hub = spawn_hub(
        &config(
            r#"
[flow.drop]
trigger = "event:Price Drop"
  [[flow.drop.step]]
  if = ["event.percent == 20", "item_count >= 1"]
  send = { channel = "email", template = "drop" }
"#,
        ),
        &[],
    )
    .await
    .unwrap();
    let viewed = |who: &str, id: &str| {
        json!({ "type": "track", "event": "Cart Viewed", "messageId": id, "userId": who,
                "timestamp": at(0), "context": { "traits": { "email": format!("{who}@example.com") } },
                "properties": { "cart_id": format!("cart-{who}"), "products": [
                    { "product_id": "p1", "name": "Mug", "price": 10, "quantity": 1 } ] } })
    };
    let drop = |who: &str, id: &str, percent: u32| {
        json!({ "type": "track", "event": "price drop", "messageId": id, "userId": who,
                "timestamp": at(100), "properties": { "cart_id": format!("cart-{who}"),
                "product_name": "Enamel Mug", "percent": percent } })
    };
    track(&hub, viewed("ann", "e-1")).await;
    track(&hub, viewed("bob", "e-2")).await;
    track(&hub, drop("ann", "e-3", 20)).await;
    // Bob's drop is 10%: the step's condition skips it.
    track(&hub, drop("bob", "e-4", 10)).await;
    // An event no flow starts on is answered and kept nowhere.
    track(
        &hub,
        json!({ "type": "track", "event": "Product Viewed", "messageId": "e-5", "userId": "ann",
                "timestamp": at(0), "properties": { "product_id": "p1" } }),
    )
    .await;
    until("ann's reminder", || async { sent(&hub).await.len() == 1 }).await;
    assert_eq!(sent(&hub).await[0]["subject"], "Enamel Mug is 20% off");
    let bob = carts_of(&hub, "bob@example.com").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    until("bob's skipped step", || async {
        let runs = admin_json(&hub, &format!("/api/v1/carts/{bob}/runs")).await;
        runs["runs"][0]["last_step"]["outcome"] == "skipped"
    })
    .await;
    assert_eq!(sent(&hub).await.len(), 1);
}

#[tokio::test]
async fn a_replayed_week_old_cart_is_stored_and_never_reminded() {
    let hub = spawn_hub(
        &config(
            r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  send = { channel = "email", template = "items" }
"#,
        ),
        &[],
    )
    .await
    .unwrap();
    for (id, who, ms) in [("o-1", "old", -8 * 86_400_000), ("o-2", "new", 0)] {
        track(
            &hub,
            json!({ "type": "track", "event": "Cart Viewed", "messageId": id, "userId": who,
                    "timestamp": at(ms), "context": { "traits": { "email": format!("{who}@example.com") } },
                    "properties": { "cart_id": format!("cart-{who}"), "products": [
                        { "product_id": "p1", "name": "Mug", "price": 10, "quantity": 1 } ] } }),
        )
        .await;
    }
    until("the fresh cart's reminder", || async {
        sent(&hub).await.len() == 1
    })
    .await;
    until("the old cart abandoned", || async {
        carts_of(&hub, "old@example.com").await[0]["status"] == "abandoned"
    })
    .await;
    let old = carts_of(&hub, "old@example.com").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let runs = admin_json(&hub, &format!("/api/v1/carts/{old}/runs")).await;
    assert_eq!(
        runs["runs"],
        json!([]),
        "stored and reported, never enrolled"
    );
    let metrics = hub.metrics().await.unwrap();
    assert!(
        metrics.contains(r#"cartback_enrolments_skipped_total{reason="too_old"}"#),
        "counted"
    );
}
