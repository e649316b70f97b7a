//! `cartback import` against the real binary: with a hub running (the real `cartback serve`) and a
//! wiremock Shopify behind it, the command starts the hub's import, follows it and prints the
//! summary; exit code 0. Standard error is not a terminal here: plain lines, no progress bar.
#![allow(clippy::unwrap_used)]

mod common;

use common::BIN;
use serde_json::json;
use std::process::Command;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "import-admin-token-0123456789abcdef";

fn config(shopify: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"
link_hosts = ["shop.example"]

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "whsec"
shop_domain = "demo.myshopify.com"
admin_access_token = "${{SHOPIFY_ADMIN_TOKEN}}"
admin_base_url = "{shopify}"

[channel.console]
type = "console"

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  send = {{ channel = "console", template = "t" }}

[template.t]
subject = "Your {{{{ cart.items[0].title }}}} is waiting"
text = "{{{{ cart.total }}}}"
"#
    )
}

fn money(amount: &str) -> serde_json::Value {
    json!({ "shopMoney": { "amount": amount, "currencyCode": "EUR" },
            "presentmentMoney": { "amount": amount, "currencyCode": "EUR" } })
}

async fn shopify() -> MockServer {
    let shop = MockServer::start().await;
    let updated = (chrono::Utc::now() - chrono::Duration::hours(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Mock::given(method("POST"))
        .and(path("/admin/api/2026-10/graphql.json"))
        .and(body_string_contains("query Checkouts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": {
            "abandonedCheckoutsCount": { "count": 1 }, "ordersCount": { "count": 0 },
            "abandonedCheckouts": { "pageInfo": { "hasNextPage": false, "endCursor": "c1" },
                "nodes": [ {
                    "id": "gid://shopify/AbandonedCheckout/41",
                    "abandonedCheckoutUrl": "https://demo.myshopify.com/1/checkouts/ac/t41/recover?key=k",
                    "createdAt": updated, "updatedAt": updated, "completedAt": null,
                    "customer": { "id": "gid://shopify/Customer/9", "firstName": "Eva", "lastName": null,
                        "locale": "de",
                        "defaultEmailAddress": { "emailAddress": "eva@shop.example", "marketingState": "SUBSCRIBED" },
                        "defaultPhoneNumber": null },
                    "billingAddress": null, "shippingAddress": null,
                    "subtotalPriceSet": money("12.50"), "totalPriceSet": money("12.50"),
                    "lineItems": { "nodes": [ { "title": "Socks", "quantity": 1, "sku": null,
                        "variantTitle": null, "variant": null, "product": null, "image": null,
                        "originalUnitPriceSet": money("12.50"),
                        "discountedTotalPriceSet": money("12.50") } ] } } ] } } })))
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path("/admin/api/2026-10/graphql.json"))
        .and(body_string_contains("query Orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": {
            "orders": { "pageInfo": { "hasNextPage": false, "endCursor": null }, "nodes": [] } } })))
        .mount(&shop)
        .await;
    shop
}

#[tokio::test(flavor = "multi_thread")]
async fn import_runs_on_the_hub_and_prints_a_summary() {
    let shop = shopify().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(&cfg, config(&shop.uri())).unwrap();
    let env = [
        ("CARTBACK_ADMIN_TOKEN", TOKEN),
        ("SHOPIFY_ADMIN_TOKEN", "shpat_cli"),
    ];
    let hub = common::spawn_with(&cfg, &env);
    let hub_url = format!("http://{}", hub.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["import", "--config"])
            .arg(&cfg)
            .args(["--source", "shop", "--since", "30d", "--hub", &hub_url])
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let shown = format!("{stdout}\n--- stderr ---\n{stderr}");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(stdout.starts_with("import of source shop: done"), "{shown}");
    assert!(stdout.contains("pages      2"), "{shown}");
    assert!(stdout.contains("records    1 of 1"), "{shown}");
    assert!(stdout.contains("carts      1 new or updated"), "{shown}");
    assert!(!stderr.contains('\u{1b}'), "no terminal drawing: {shown}");
    // The token went to Shopify as the Admin API wants it.
    let asked = shop.received_requests().await.unwrap();
    assert!(asked.iter().all(|r| r
        .headers
        .get("x-shopify-access-token")
        .is_some_and(|v| v == "shpat_cli")));
    drop(hub);
}

#[test]
fn import_refused_by_the_hub_exits_1_with_the_reason_and_help_has_an_example() {
    let help = Command::new(BIN)
        .args(["import", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("cartback import --source shop --since 30d"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(&cfg, config("http://127.0.0.1:9")).unwrap();
    let env = [
        ("CARTBACK_ADMIN_TOKEN", TOKEN),
        ("SHOPIFY_ADMIN_TOKEN", "t"),
    ];
    let hub = common::spawn_with(&cfg, &env);
    let out = Command::new(BIN)
        .args(["import", "--config"])
        .arg(&cfg)
        .args(["--source", "nope", "--hub", &format!("http://{}", hub.addr)])
        .envs(env)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("404") && stderr.contains("nope"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_after_the_page_exits_130_and_the_same_command_resumes() {
    let shop = MockServer::start().await;
    let page = |next: Option<&str>| {
        json!({ "data": {
            "abandonedCheckoutsCount": { "count": 0 }, "ordersCount": { "count": 0 },
            "abandonedCheckouts": { "pageInfo": { "hasNextPage": next.is_some(), "endCursor": next },
                "nodes": [] } } })
    };
    // The first page is slow, so the interrupt lands while it is read.
    Mock::given(method("POST"))
        .and(path("/admin/api/2026-10/graphql.json"))
        .and(body_string_contains("\"counts\":true"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(Some("c1")))
                .set_delay(std::time::Duration::from_millis(1500)),
        )
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path("/admin/api/2026-10/graphql.json"))
        .and(body_string_contains("\"counts\":false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(None)))
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path("/admin/api/2026-10/graphql.json"))
        .and(body_string_contains("query Orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": {
            "orders": { "pageInfo": { "hasNextPage": false, "endCursor": null }, "nodes": [] } } })))
        .mount(&shop)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(&cfg, config(&shop.uri())).unwrap();
    let env = [
        ("CARTBACK_ADMIN_TOKEN", TOKEN),
        ("SHOPIFY_ADMIN_TOKEN", "shpat_cli"),
    ];
    let hub = common::spawn_with(&cfg, &env);
    let hub_url = format!("http://{}", hub.addr);
    let import = |cfg: std::path::PathBuf, hub_url: String| {
        Command::new(BIN)
            .args(["import", "--config"])
            .arg(cfg)
            .args(["--source", "shop", "--since", "30d", "--hub", &hub_url])
            .envs(env)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let child = import(cfg.clone(), hub_url.clone());
    // Once the hub reads the first page, the command is following it: interrupt it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while shop.received_requests().await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the import never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let shown = format!(
        "{stdout}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(130), "{shown}");
    assert!(
        stdout.contains("stopped at page 1; run the same command again to resume"),
        "{shown}"
    );
    let again = import(cfg, hub_url);
    let out = tokio::task::spawn_blocking(move || again.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let shown = format!(
        "{stdout}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        stdout.contains("pages      3"),
        "resumed at page 2: {shown}"
    );
    assert!(
        shown.contains("resuming the import stopped at page 1"),
        "{shown}"
    );
    drop(hub);
}
