//! The on-site "Previously added to cart" pop-up in a real browser (headless Chromium): a sample
//! shop page served by the test on another origin carries the widget tag. Screenshots under
//! `target/`.
#![allow(clippy::unwrap_used)]

use cartback_e2e::browser::{artifact, launch, Browser};
use cartback_e2e::payloads::shopify_checkout;
use cartback_e2e::until_within;
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SECRET: &str = "onsite-secret";
const SITE_SECRET: &str = "site-secret-for-identify";

fn config(shop_origin: &str) -> String {
    format!(
        r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "{SECRET}"

[channel.web]
type = "web"
site_key = "pk_test_shop"
site_secret = "{SITE_SECRET}"
origins = ["{shop_origin}"]
window = "3d"

[flow.popup]
trigger = "cart_abandoned"
abandon_after = "1s"
holdout_percent = 50
  [[flow.popup.step]]
  send = {{ channel = "web" }}
"#
    )
}

/// Counts, in `window.__cartbackDone`, the widget's cart requests it has finished deciding on: one
/// task after the answer (or its JSON) is in, the widget's own continuations (show or not) have run.
const WIDGET_DONE: &str = "(function(){var f=window.fetch;var done=function(){setTimeout(function(){window.__cartbackDone=(window.__cartbackDone||0)+1},0)};\
    window.fetch=function(u){var p=f.apply(this,arguments);if(String(u).indexOf('/onsite/cart')<0)return p;\
    return p.then(function(r){if(r.status!==200){done();return r}var j=r.json;\
    r.json=function(){return j.call(r).then(function(v){done();return v},function(e){done();throw e})};return r},\
    function(e){done();throw e})}})();";

/// Whether the widget on the current page has made its decision: the page has loaded (so the
/// widget has started), and either it has no visitor to ask about (it asks nothing) or its cart
/// request has been answered and acted on. After that the pop-up is shown, or never will be.
async fn widget_settled(b: &Browser) -> bool {
    b.eval(
        "if(document.readyState!=='complete'||window.__cartbackLoaded!==true)return false;\
         var v=null;try{v=localStorage.getItem('cartback_visitor:pk_test_shop')}catch(e){}\
         return !v||(window.__cartbackDone||0)>=1",
    )
    .await
        == json!(true)
}

/// No pop-up on the current page, once the widget has decided ([`widget_settled`]).
async fn no_popup(b: &Browser, what: &str) {
    until_within(10, "the widget to decide", || widget_settled(b)).await;
    let items = popup_items(b, Duration::ZERO).await;
    assert!(items.is_empty(), "{what}: {items:?}");
}

/// A sample shop: a landing page with the widget tag, product pages, a cart page.
async fn shop(
    listener: tokio::net::TcpListener,
    hub_url: std::sync::Arc<std::sync::OnceLock<String>>,
) -> tokio::task::JoinHandle<()> {
    use axum::response::Html;
    let page = move |title: &'static str| {
        let hub_url = hub_url.clone();
        move || async move {
            let hub = hub_url.get().cloned().unwrap_or_default();
            Html(format!(
                "<!doctype html><html><head><meta charset=utf-8><title>{title}</title>\
                 <script>window.__errors=[];window.addEventListener('error',function(e){{window.__errors.push(String(e.message))}});\
                 window.addEventListener('unhandledrejection',function(e){{window.__errors.push(String(e.reason))}});\
                 {WIDGET_DONE}</script>\
                 <style>h1{{color:#a00}}.item{{color:red}}</style></head>\
                 <body><h1>{title}</h1><a id=next href=\"/products/tea\">Tea</a>\
                 <script src=\"{hub}/onsite/widget.js\" data-site=\"pk_test_shop\" async></script></body></html>"
            ))
        }
    };
    let app = axum::Router::new()
        .route("/", axum::routing::get(page("Test Shop")))
        .route("/products/mug", axum::routing::get(page("Blue Mug")))
        .route("/products/tea", axum::routing::get(page("Earl Grey")))
        .route("/products/spoon", axum::routing::get(page("Spoon")))
        .route("/cart", axum::routing::get(page("Your cart")))
        // Same origin, no widget: where the test clears the browser's storage with nothing in
        // flight that could write to it again.
        .route(
            "/blank",
            axum::routing::get(|| async { Html("<!doctype html><title>blank</title>") }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

fn checkout(token: &str, email: &str, shop: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339();
    let mut c = shopify_checkout(token, email, &now, 1);
    c["abandoned_checkout_url"] = json!(format!("{shop}/cart"));
    c["line_items"] = json!([
        { "product_id": 1, "variant_id": 11, "title": "Spoon", "quantity": 3, "price": "2.00", "url": format!("{shop}/products/spoon") },
        { "product_id": 2, "variant_id": 12, "title": "Blue Mug", "quantity": 1, "price": "25.00", "url": format!("{shop}/products/mug"),
          "image_url": format!("{shop}/mug.png") },
        { "product_id": 3, "variant_id": 13, "title": "Earl Grey", "quantity": 2, "price": "9.50", "url": format!("{shop}/products/tea") }
    ]);
    c["total_price"] = json!("50.00");
    c
}

fn signature(email: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SITE_SECRET.as_bytes()).unwrap();
    mac.update(email.to_lowercase().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn visitor(hub: &Hub, email: &str) -> Option<String> {
    let r = hub
        .client
        .get(hub.url("/onsite/identify"))
        .query(&[
            ("site", "pk_test_shop"),
            ("email", email),
            ("signature", &signature(email)),
        ])
        .send()
        .await
        .unwrap();
    if r.status() == 204 {
        return None;
    }
    assert_eq!(r.status(), 200);
    Some(
        r.json::<Value>().await.unwrap()["visitor"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

async fn popup_items(b: &Browser, wait: Duration) -> Vec<String> {
    let deadline = Instant::now() + wait;
    loop {
        let v = b
            .eval("var h=document.getElementById('cartback-reminder');if(!h)return null;return Array.prototype.map.call(h.shadowRoot.querySelectorAll('a.item'),function(a){return a.textContent})")
            .await;
        if let Some(a) = v.as_array() {
            return a
                .iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect();
        }
        if Instant::now() > deadline {
            return Vec::new();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clears the shop origin's storage (`url` is the shop's root), on a page without the widget: a
/// widget still fetching on the page would write its "shown" mark back after the clear.
async fn reset(b: &Browser, url: &str) {
    b.goto(&format!("{}/blank", url.trim_end_matches('/')))
        .await;
    b.eval("localStorage.clear();sessionStorage.clear();return 1")
        .await;
}

#[tokio::test]
async fn the_popup_shows_the_last_two_products_and_respects_the_rules() {
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    // The hub must know the shop's origin before it starts; the shop must know the hub's URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_origin = format!("http://{}", listener.local_addr().unwrap());
    let hub = spawn_hub(&config(&shop_origin), &[]).await.unwrap();
    let hub_url = std::sync::Arc::new(std::sync::OnceLock::new());
    let _ = hub_url.set(hub.url.clone());
    let _shop = shop(listener, hub_url).await;

    // Shoppers until one is treated and one is in the control group.
    let (mut treated, mut control) = (None, None);
    for i in 0..40 {
        let email = format!("pop{i}@example.com");
        let body = serde_json::to_vec(&checkout(&format!("tok{i}"), &email, &shop_origin)).unwrap();
        shopify_request(
            &hub.client,
            &hub.url("/webhooks/shop"),
            SECRET,
            "checkouts/create",
            &format!("w{i}"),
            &body,
        )
        .send()
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let run = loop {
            let carts: Value = hub
                .admin_get(&format!("/api/v1/carts?email={email}"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = carts["carts"][0]["id"].as_str().unwrap().to_string();
            let runs: Value = hub
                .admin_get(&format!("/api/v1/carts/{id}/runs"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(r) = runs["runs"].as_array().and_then(|a| a.first()).cloned() {
                if r["holdout"] == true || r["status"] == "completed" {
                    break r;
                }
            }
            assert!(Instant::now() < deadline, "no run for {email}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if run["holdout"] == true {
            control.get_or_insert(email);
        } else {
            treated.get_or_insert(email);
        }
        if treated.is_some() && control.is_some() {
            break;
        }
    }
    let (treated, control) = (treated.unwrap(), control.unwrap());
    // The web message is sent (the pop-up is on for the treated shopper).
    until_within(10, "the web message to be sent", || async {
        let m: Value = hub
            .admin_get("/api/v1/messages?channel=web&status=sent")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        m["count"].as_u64().unwrap() >= 1
    })
    .await;

    // CORS is limited to the shop's origins; a forged visitor token gets nothing.
    let v = visitor(&hub, &treated).await.unwrap();
    let cors = hub
        .client
        .get(hub.url("/onsite/cart"))
        .query(&[("site", "pk_test_shop"), ("visitor", v.as_str())])
        .header("origin", &shop_origin)
        .send()
        .await
        .unwrap();
    assert_eq!(cors.status(), 200);
    assert_eq!(
        cors.headers()["access-control-allow-origin"],
        shop_origin.as_str()
    );
    let evil = hub
        .client
        .get(hub.url("/onsite/cart"))
        .query(&[("site", "pk_test_shop"), ("visitor", v.as_str())])
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    let forged = hub
        .client
        .get(hub.url("/onsite/cart"))
        .query(&[("site", "pk_test_shop"), ("visitor", &format!("{v}x"))])
        .header("origin", &shop_origin)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    let bad_sig = hub
        .client
        .get(hub.url("/onsite/identify"))
        .query(&[
            ("site", "pk_test_shop"),
            ("email", treated.as_str()),
            ("signature", "00"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_sig.status(), 401);
    // A signed request, not a bearer-token one: no challenge to answer with a token.
    assert!(bad_sig.headers().get("www-authenticate").is_none());
    let widget = hub
        .client
        .get(hub.url("/onsite/widget.js"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &widget).unwrap();
    assert!(
        gz.finish().unwrap().len() < 10 * 1024,
        "widget.js is over 10 KB gzipped"
    );

    // The treated shopper lands: the pop-up shows the last two products, newest first.
    reset(&b, &format!("{shop_origin}/")).await;
    b.goto(&format!("{shop_origin}/?utm_source=email&cb_v={v}"))
        .await;
    let items = popup_items(&b, Duration::from_secs(10)).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        items[0].starts_with("Earl Grey") && items[1].starts_with("Blue Mug"),
        "{items:?}"
    );
    assert!(
        !b.url().await.contains("cb_v"),
        "the token is removed from the address bar"
    );
    assert!(b.url().await.contains("utm_source=email"));
    // Accessible: a labelled dialog with focus inside it, a labelled close button.
    let a11y = b.eval("var r=document.getElementById('cartback-reminder').shadowRoot;var d=r.querySelector('[role=dialog]');\
        return [d.getAttribute('aria-modal'), r.getElementById('cb-title').textContent, r.querySelector('button').getAttribute('aria-label'), r.activeElement===d]").await;
    assert_eq!(
        a11y,
        json!(["true", "Previously added to cart", "Close", true])
    );
    // The shop's CSS does not leak in (shadow DOM): the shop styles .item red.
    let color = b.eval("return getComputedStyle(document.getElementById('cartback-reminder').shadowRoot.querySelector('a.item')).color").await;
    assert_ne!(color, json!("rgb(255, 0, 0)"));
    b.screenshot(&artifact("onsite-popup.png")).await;
    // ✕ dismisses; it stays dismissed on reload.
    b.eval("document.getElementById('cartback-reminder').shadowRoot.querySelector('button.x').click();return 1").await;
    // (The click's handler removes the pop-up before the click returns.)
    assert!(popup_items(&b, Duration::ZERO).await.is_empty());
    b.refresh().await;
    no_popup(&b, "shown again after dismissal").await;

    // A fresh visit: Escape closes it; a product click navigates in the same tab to the product.
    reset(&b, &format!("{shop_origin}/")).await;
    b.goto(&format!("{shop_origin}/?cb_v={v}")).await;
    assert_eq!(popup_items(&b, Duration::from_secs(10)).await.len(), 2);
    b.eval(
        "document.dispatchEvent(new KeyboardEvent('keydown',{key:'Escape',bubbles:true}));return 1",
    )
    .await;
    // (The key's handler removes the pop-up before the event returns.)
    assert!(
        popup_items(&b, Duration::ZERO).await.is_empty(),
        "Escape did not close it"
    );
    reset(&b, &format!("{shop_origin}/")).await;
    b.goto(&format!("{shop_origin}/?cb_v={v}")).await;
    assert_eq!(popup_items(&b, Duration::from_secs(10)).await.len(), 2);
    let handles_before = b.eval("return window.name").await;
    b.eval("document.getElementById('cartback-reminder').shadowRoot.querySelector('a.item').click();return 1").await;
    let product = format!("{shop_origin}/products/tea");
    until_within(10, "the product link to navigate", || async {
        b.url().await.starts_with(&product)
    })
    .await;
    assert_eq!(
        b.eval("return window.name").await,
        handles_before,
        "same tab"
    );
    // Not a landing page (came from the shop itself): no pop-up.
    no_popup(&b, "shown on a page reached from the shop itself").await;

    // The control-group shopper sees nothing, and nothing breaks.
    let cv = visitor(&hub, &control).await.unwrap();
    reset(&b, &format!("{shop_origin}/")).await;
    b.goto(&format!("{shop_origin}/?cb_v={cv}")).await;
    no_popup(&b, "control group saw the pop-up").await;
    assert_eq!(b.eval("return window.__errors").await, json!([]));
    // A shopper with no cart sees nothing and gets no console error.
    assert!(visitor(&hub, "nobody@example.com").await.is_none());
    reset(&b, &format!("{shop_origin}/")).await;
    b.goto(&format!("{shop_origin}/")).await;
    no_popup(&b, "a shopper with no cart saw the pop-up").await;
    assert_eq!(b.eval("return window.__errors").await, json!([]));
    b.screenshot(&artifact("onsite-no-cart.png")).await;

    // The preview link (admin-issued) shows it at once, rules ignored — even for the control shopper's cart.
    let carts: Value = hub
        .admin_get(&format!("/api/v1/carts?email={control}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cart_id = carts["carts"][0]["id"].as_str().unwrap();
    let p: Value = hub
        .client
        .post(hub.url("/api/v1/onsite/preview"))
        .bearer_auth(&hub.admin_token)
        .json(&json!({ "cart_id": cart_id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reset(&b, &format!("{shop_origin}/")).await;
    b.goto(&format!(
        "{shop_origin}/products/mug?{}",
        p["query"].as_str().unwrap()
    ))
    .await;
    assert_eq!(
        popup_items(&b, Duration::from_secs(10)).await.len(),
        2,
        "preview did not show"
    );
    b.screenshot(&artifact("onsite-preview.png")).await;

    // Impressions, clicks and dismissals were counted for the treated shopper's message.
    let report: Value = hub
        .admin_get("/api/v1/flows/popup/report")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let web = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["channel"] == "web")
        .unwrap();
    assert!(web["opened"].as_u64().unwrap() >= 1, "{report}");
    assert!(web["clicked"].as_u64().unwrap() >= 1, "{report}");
    b.close().await;
}
