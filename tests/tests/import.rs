//! Imports end to end (`/api/v1/sources/{id}/import`, what `cartback import` drives): a wiremock
//! Shopify read through its Admin GraphQL API into a real hub on SQLite. Carts and orders appear;
//! a cart older than `max_cart_age` is stored and never reminded while a fresh one is; a bought
//! checkout is not reminded; a second run changes nothing; a stop after a page resumes to the end
//! without duplicates; a later webhook of an imported checkout is the same cart; WooCommerce
//! imports through its poller.
#![allow(clippy::unwrap_used)]

use cartback_e2e::{admin_json, cart_of, until, until_settled};
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use chrono::{Duration as Days, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{body_partial_json, body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GRAPHQL: &str = "/admin/api/2026-10/graphql.json";

fn config(shopify: &str, woo: &str) -> String {
    format!(
        r#"
[server]
link_hosts = ["test-shop.myshopify.com", "shop.example"]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"
[store]
url = "sqlite://hub.db"
[source.shop]
type = "shopify"
secret = "whsec"
shop_domain = "test-shop.myshopify.com"
admin_access_token = "shpat_test"
admin_base_url = "{shopify}"
[source.woo]
type = "woocommerce"
store_url = "{woo}"
consumer_key = "ck_test"
consumer_secret = "cs_test"
poll_interval = "1h"
[source.plain]
type = "shopify"
secret = "whsec2"
[channel.email]
type = "console"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
max_cart_age = "2d"
  [[flow.recover.step]]
  send = {{ channel = "email", template = "t" }}
[template.t]
subject = "{{{{ cart.items[0].title }}}}"
text = "{{{{ cart.total }}}}"
"#
    )
}

fn ago(d: Days) -> String {
    (Utc::now() - d).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn money(amount: &str) -> Value {
    json!({ "shopMoney": { "amount": amount, "currencyCode": "USD" },
            "presentmentMoney": { "amount": amount, "currencyCode": "USD" } })
}

fn checkout(id: u64, email: &str, updated: &str, completed: Option<&str>) -> Value {
    json!({
        "id": format!("gid://shopify/AbandonedCheckout/{id}"),
        "abandonedCheckoutUrl": format!("https://test-shop.myshopify.com/1/checkouts/ac/tok{id}/recover?key=k"),
        "createdAt": updated, "updatedAt": updated, "completedAt": completed,
        "customer": { "id": format!("gid://shopify/Customer/{id}"), "firstName": "Ann", "lastName": null,
            "locale": "en",
            "defaultEmailAddress": { "emailAddress": email, "marketingState": "SUBSCRIBED" },
            "defaultPhoneNumber": null },
        "billingAddress": null, "shippingAddress": null,
        "subtotalPriceSet": money("30.00"), "totalPriceSet": money("30.00"),
        "lineItems": { "nodes": [ { "title": "Teapot", "quantity": 1, "sku": "TP", "variantTitle": null,
            "variant": { "id": "gid://shopify/ProductVariant/8" }, "product": { "id": "gid://shopify/Product/7" },
            "image": null, "originalUnitPriceSet": money("30.00"), "discountedTotalPriceSet": money("30.00") } ] }
    })
}

fn order(id: u64, checkout: u64, email: &str, updated: &str) -> Value {
    json!({
        "id": format!("gid://shopify/Order/{id}"), "name": format!("#{id}"), "email": email,
        "phone": null, "checkoutToken": format!("tok{checkout}"), "cartToken": null,
        "currencyCode": "USD", "presentmentCurrencyCode": "USD", "createdAt": updated,
        "updatedAt": updated, "processedAt": updated, "test": false, "customerLocale": "en",
        "customer": null, "billingAddress": null, "shippingAddress": null,
        "totalPriceSet": money("30.00"),
        "lineItems": { "nodes": [ { "title": "Teapot", "quantity": 1, "sku": "TP", "variantTitle": null,
            "variant": null, "product": null, "image": null,
            "originalUnitPriceSet": money("30.00"), "discountedTotalSet": money("30.00") } ] }
    })
}

fn cost() -> Value {
    json!({ "cost": { "requestedQueryCost": 400, "actualQueryCost": 30,
        "throttleStatus": { "maximumAvailable": 1000.0, "currentlyAvailable": 970.0, "restoreRate": 100.0 } } })
}

/// Two pages of abandoned checkouts (fresh, too old; bought) and one of orders. `delay` slows
/// the first page (so a stop lands while it is read).
async fn shopify(delay: Duration) -> MockServer {
    let shop = MockServer::start().await;
    let hour = ago(Days::hours(1));
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(body_partial_json(json!({ "variables": { "after": null, "counts": true } })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "data": {
                    "abandonedCheckoutsCount": { "count": 3 }, "ordersCount": { "count": 1 },
                    "abandonedCheckouts": { "pageInfo": { "hasNextPage": true, "endCursor": "c1" },
                        "nodes": [ checkout(1, "fresh@shop.example", &hour, None),
                                   checkout(2, "old@shop.example", &ago(Days::days(10)), None) ] } },
                    "extensions": cost() }))
                .set_delay(delay),
        )
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(body_partial_json(json!({ "variables": { "after": "c1" } })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": {
            "abandonedCheckouts": { "pageInfo": { "hasNextPage": false, "endCursor": "c2" },
                "nodes": [ checkout(3, "bought@shop.example", &hour, Some(&ago(Days::minutes(50)))) ] } },
            "extensions": cost() })))
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(body_string_contains("query Orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": {
            "orders": { "pageInfo": { "hasNextPage": false, "endCursor": "o1" },
                "nodes": [ order(500, 3, "bought@shop.example", &ago(Days::minutes(50))) ] } },
            "extensions": cost() })))
        .mount(&shop)
        .await;
    shop
}

async fn start(hub: &Hub, source: &str, body: Value) -> (u16, Value) {
    let r = hub
        .client
        .post(hub.url(&format!("/api/v1/sources/{source}/import")))
        .bearer_auth(&hub.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    // Refusals are plain text (the admin API's errors); answers are JSON.
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn finished(hub: &Hub, source: &str) -> Value {
    let at = format!("/api/v1/sources/{source}/import");
    until("the import to end", || async {
        admin_json(hub, &at).await["state"] != "running"
    })
    .await;
    admin_json(hub, &at).await
}

async fn sent(hub: &Hub) -> usize {
    let m = admin_json(hub, "/api/v1/messages?limit=500").await;
    m["messages"].as_array().unwrap().len()
}

async fn carts(hub: &Hub, source: &str) -> Vec<Value> {
    let c = admin_json(hub, &format!("/api/v1/carts?source={source}&limit=500")).await;
    c["carts"].as_array().unwrap().clone()
}

#[tokio::test]
async fn shopify_import_reminds_fresh_carts_only_and_a_second_run_changes_nothing() {
    let shop = shopify(Duration::ZERO).await;
    let woo = MockServer::start().await;
    let hub = spawn_hub(&config(&shop.uri(), &woo.uri()), &[])
        .await
        .unwrap();

    // Refusals first: unknown source 404, a source without the import's settings 400, bad since.
    assert_eq!(start(&hub, "nope", json!({ "since": "30d" })).await.0, 404);
    let (code, body) = start(&hub, "plain", json!({ "since": "30d" })).await;
    assert_eq!(code, 400);
    let reason = body.as_str().unwrap_or_default().to_string();
    assert!(reason.contains("admin_access_token"), "{body}");
    assert!(reason.contains("shopify, woocommerce"), "{body}");
    assert_eq!(start(&hub, "shop", json!({ "since": "soon" })).await.0, 400);

    let (code, body) = start(&hub, "shop", json!({ "since": "30d" })).await;
    assert_eq!(code, 202, "{body}");
    let done = finished(&hub, "shop").await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["pages"], 3, "{done}");
    assert_eq!(done["total"], 4, "{done}");
    assert_eq!(done["carts"], 3, "{done}");
    assert_eq!(done["orders"], 1, "{done}");
    assert_eq!(done["too_old"], 1, "{done}");
    assert_eq!(done["unchanged"], 0, "{done}");

    // The fresh cart is reminded; the old one is stored and never reminded; the bought one is
    // converted (its order matched by the checkout token).
    let (fresh, runs) = until_settled(&hub, "fresh@shop.example", 20).await;
    assert_eq!(fresh["key"], "tok1");
    assert_eq!(runs.len(), 1, "the fresh cart is enrolled");
    let (old, runs) = until_settled(&hub, "old@shop.example", 20).await;
    assert!(runs.is_empty(), "too old to remind: {old}");
    let bought = cart_of(&hub, "bought@shop.example").await.unwrap();
    assert_eq!(bought["status"], "converted", "{bought}");
    let before = sent(&hub).await;
    assert_eq!(before, 1, "one reminder: the fresh cart's");

    // Run twice: nothing changes.
    let (code, _) = start(&hub, "shop", json!({ "since": "30d" })).await;
    assert_eq!(code, 202);
    let again = finished(&hub, "shop").await;
    assert_eq!(again["state"], "done", "{again}");
    assert_eq!(again["resumed"], false, "a finished import starts over");
    assert_eq!(
        (again["carts"].as_u64(), again["orders"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(again["unchanged"], 4, "{again}");
    assert_eq!(carts(&hub, "shop").await.len(), 3);
    until_settled(&hub, "fresh@shop.example", 20).await;
    assert_eq!(sent(&hub).await, before, "no extra reminder");

    // A later webhook of the imported checkout, now with its cart token, is the same cart.
    let body = serde_json::to_vec(&json!({
        "id": 1, "token": "tok1", "cart_token": "cart-abc", "email": "fresh@shop.example",
        "currency": "USD", "total_price": "45.00", "updated_at": ago(Days::minutes(1)),
        "line_items": [ { "title": "Teapot", "quantity": 1, "price": "45.00" } ]
    }))
    .unwrap();
    let r = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        "whsec",
        "checkouts/update",
        "w-after-import",
        &body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let all = carts(&hub, "shop").await;
    assert_eq!(all.len(), 3, "still one cart per checkout");
    let fresh = cart_of(&hub, "fresh@shop.example").await.unwrap();
    assert_eq!(fresh["key"], "cart-abc", "the webhook's key taken over");
    assert_eq!(fresh["total"]["minor_units"], 4500, "{fresh}");
}

#[tokio::test]
async fn a_stopped_import_resumes_to_the_end_without_duplicates() {
    let shop = shopify(Duration::from_millis(600)).await;
    let woo = MockServer::start().await;
    let hub = spawn_hub(&config(&shop.uri(), &woo.uri()), &[])
        .await
        .unwrap();
    let (code, _) = start(&hub, "shop", json!({ "since": "30d" })).await;
    assert_eq!(code, 202);
    // A second start while it runs: 409.
    let (code, body) = start(&hub, "shop", json!({ "since": "30d" })).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["import"]["state"], "running");
    // Stop while the first page is read: it stops after that page.
    let r = hub
        .client
        .delete(hub.url("/api/v1/sources/shop/import"))
        .bearer_auth(&hub.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let stopped = finished(&hub, "shop").await;
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    assert_eq!(stopped["pages"], 1, "{stopped}");
    assert_eq!(carts(&hub, "shop").await.len(), 2);

    // Restarted hub: the stopped import is still there to resume.
    let hub = hub.restart().await.unwrap();
    let kept = admin_json(&hub, "/api/v1/sources/shop/import").await;
    assert_eq!(
        (kept["state"].as_str(), kept["pages"].as_u64()),
        (Some("stopped"), Some(1))
    );
    let (code, body) = start(&hub, "shop", json!({ "since": "1d" })).await;
    assert_eq!(code, 202);
    assert_eq!(body["resumed"], true, "{body}");
    assert_eq!(
        body["since"], kept["since"],
        "a resumed import keeps its own since"
    );
    let done = finished(&hub, "shop").await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["pages"], 3, "{done}");
    assert_eq!(done["carts"], 3, "{done}");
    assert_eq!(done["orders"], 1, "{done}");
    assert_eq!(carts(&hub, "shop").await.len(), 3, "no duplicate cart");
    // The first page was read once: the resumed job began at page 2.
    let first_pages = shop
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("\"counts\":true"))
        .count();
    assert_eq!(first_pages, 1);
    // Nothing runs: stop is a 404.
    let r = hub
        .client
        .delete(hub.url("/api/v1/sources/shop/import"))
        .bearer_auth(&hub.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn woocommerce_imports_through_its_poller() {
    let shop = MockServer::start().await;
    let woo = MockServer::start().await;
    let mut order: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../connectors/woocommerce/tests/fixtures/order_pending.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let modified = (Utc::now() - Days::hours(2))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    order["date_modified_gmt"] = json!(modified);
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([order])))
        .mount(&woo)
        .await;
    let hub = spawn_hub(&config(&shop.uri(), &woo.uri()), &[])
        .await
        .unwrap();
    let (code, body) = start(&hub, "woo", json!({ "since": "3d" })).await;
    assert_eq!(code, 202, "{body}");
    let done = finished(&hub, "woo").await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(done["events"].as_u64().unwrap() >= 1, "{done}");
    assert!(cart_of(&hub, "ann.lee@example.com").await.is_some());
    // The import asked from its since (the poller's cursor started there), not the poller's 24 h.
    let asked = woo.received_requests().await.unwrap();
    let since = (Utc::now() - Days::days(3)).format("%Y-%m-%d").to_string();
    assert!(
        asked
            .iter()
            .any(|r| r.url.query().unwrap_or_default().contains(&since)),
        "{:?}",
        asked.iter().map(|r| r.url.to_string()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_checkout_delivered_by_webhook_before_the_import_stays_one_cart() {
    let shop = shopify(Duration::ZERO).await;
    let woo = MockServer::start().await;
    let hub = spawn_hub(&config(&shop.uri(), &woo.uri()), &[])
        .await
        .unwrap();
    // The webhook keys the checkout by its cart token; the import (no cart token in GraphQL) by
    // its checkout token: the import finds the cart by the checkout token.
    let body = serde_json::to_vec(&json!({
        "id": 1, "token": "tok1", "cart_token": "cart-xyz", "email": "fresh@shop.example",
        "currency": "USD", "total_price": "20.00", "updated_at": ago(Days::hours(2)),
        "line_items": [ { "title": "Teapot", "quantity": 1, "price": "20.00" } ]
    }))
    .unwrap();
    let r = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        "whsec",
        "checkouts/create",
        "w-before-import",
        &body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let (code, _) = start(&hub, "shop", json!({ "since": "30d" })).await;
    assert_eq!(code, 202);
    assert_eq!(finished(&hub, "shop").await["state"], "done");
    assert_eq!(
        carts(&hub, "shop").await.len(),
        3,
        "no second cart for tok1"
    );
    let fresh = cart_of(&hub, "fresh@shop.example").await.unwrap();
    assert_eq!(fresh["key"], "cart-xyz", "{fresh}");
    assert_eq!(
        fresh["total"]["minor_units"], 3000,
        "the newer import updated it: {fresh}"
    );
}

#[tokio::test]
async fn a_busy_shop_is_retried_and_a_refused_token_fails_the_job_with_the_reason() {
    let shop = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(body_string_contains("query Checkouts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": {
            "abandonedCheckouts": { "pageInfo": { "hasNextPage": false, "endCursor": null },
                "nodes": [] } } })))
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(body_string_contains("query Orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": {
            "orders": { "pageInfo": { "hasNextPage": false, "endCursor": null }, "nodes": [] } } })))
        .mount(&shop)
        .await;
    let woo = MockServer::start().await;
    let hub = spawn_hub(&config(&shop.uri(), &woo.uri()), &[])
        .await
        .unwrap();
    start(&hub, "shop", json!({ "since": "30d" })).await;
    let done = finished(&hub, "shop").await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["retries"], 1, "{done}");
    assert_eq!(done["pages"], 2, "{done}");

    let refused = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .respond_with(ResponseTemplate::new(401).set_body_string("[API] Invalid API key"))
        .mount(&refused)
        .await;
    let hub = spawn_hub(&config(&refused.uri(), &woo.uri()), &[])
        .await
        .unwrap();
    start(&hub, "shop", json!({ "since": "30d" })).await;
    let failed = finished(&hub, "shop").await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("admin_access_token"),
        "{failed}"
    );
}

#[tokio::test]
async fn magento_imports_through_its_poller_and_reminds_nothing_too_old() {
    let shop = MockServer::start().await;
    let woo = MockServer::start().await;
    let mage = MockServer::start().await;
    let fixture = |name: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../connectors/magento/tests/fixtures/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap()
    };
    Mock::given(method("GET"))
        .and(path("/rest/V1/carts/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("carts_search.json")))
        .mount(&mage)
        .await;
    for id in ["1201", "1202"] {
        Mock::given(method("GET"))
            .and(path(format!("/rest/V1/carts/{id}/totals")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(fixture(&format!("totals_{id}.json"))),
            )
            .mount(&mage)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "items": [], "total_count": 0, "search_criteria": {} })),
        )
        .mount(&mage)
        .await;
    let toml = format!(
        "{}\n[source.mage]\ntype = \"magento\"\nbase_url = \"{}\"\naccess_token = \"mage-token\"\npoll_interval = \"1h\"\n",
        config(&shop.uri(), &woo.uri()),
        mage.uri()
    );
    let hub = spawn_hub(&toml, &[]).await.unwrap();
    let (code, body) = start(&hub, "mage", json!({ "since": "30d" })).await;
    assert_eq!(code, 202, "{body}");
    let done = finished(&hub, "mage").await;
    assert_eq!(done["state"], "done", "{done}");
    // Two quotes read; the live poller, which also started with the hub, may have stored them
    // first: then the import changes nothing (`unchanged`), else it makes the carts.
    assert_eq!(done["records"], 2, "{done}");
    assert_eq!(
        done["carts"].as_u64().unwrap() + done["unchanged"].as_u64().unwrap(),
        2,
        "{done}"
    );
    // The quotes of 2026-11-20 are stored; the import asked from its since.
    let cart = cart_of(&hub, "ann.lee@example.com").await.unwrap();
    assert_eq!(cart["source_id"], "mage", "{cart}");
    let since = (Utc::now() - Days::days(30)).format("%Y-%m-%d").to_string();
    let asked = mage.received_requests().await.unwrap();
    assert!(
        asked.iter().any(|r| r.url.path() == "/rest/V1/carts/search"
            && r.url.query().unwrap_or_default().contains(&since)),
        "{:?}",
        asked.iter().map(|r| r.url.to_string()).collect::<Vec<_>>()
    );
    // Older than max_cart_age (2 days): abandoned and kept, never reminded.
    let (cart, runs) = until_settled(&hub, "ann.lee@example.com", 10).await;
    assert_eq!(cart["status"], "abandoned", "{cart}");
    assert!(runs.is_empty(), "{runs:?}");
    assert_eq!(sent(&hub).await, 0);
}
