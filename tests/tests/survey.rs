//! "Why they left" end to end: a signed Shopify checkout is abandoned, the reminder carries
//! `{{ links.survey }}`, the survey page is answered in headless Chromium, the thanks page offers
//! the tracked recovery link, and the reason is in the report API. Plus, over HTTP: forged and
//! altered tokens, once per cart, "Other" with text (masked in the report), a cross-site post, the
//! pop-up's reason row, and check-config's survey errors.
#![allow(clippy::unwrap_used)]

use cartback_e2e::browser::{artifact, launch};
use cartback_e2e::payloads::shopify_checkout;
use cartback_e2e::{admin_json, until_within};
use cartback_store::prelude::*;
use cartback_store::{MessageFilter, OutboxRow, OutboxStatus, SqlStore};
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

const SECRET: &str = "survey-secret";
const SITE_SECRET: &str = "survey-site-secret";
const SHOP: &str = "https://shop.example";

fn config() -> String {
    config_with_origin(SHOP)
}

/// The configuration, the web channel also allowing `origin` (a sample shop the test serves).
fn config_with_origin(origin: &str) -> String {
    let origins = if origin == SHOP {
        format!("[\"{SHOP}\"]")
    } else {
        format!("[\"{SHOP}\", \"{origin}\"]")
    };
    format!(
        r#"
[server]
link_hosts = ["shop.example", "*.myshopify.com", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "{SECRET}"

[channel.email]
type = "console"

[channel.web]
type = "web"
site_key = "pk_test_shop"
site_secret = "{SITE_SECRET}"
origins = {origins}
survey = "why"

[survey.why]
question = "What stopped you from completing your order?"
  [[survey.why.reason]]
  id = "shipping_cost"
  label = "Shipping was too expensive"
  [[survey.why.reason]]
  id = "account"
  label = "I had to create an account"

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  survey = "why"
  send = {{ channel = "email", template = "reminder" }}

[flow.popup]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.popup.step]]
  send = {{ channel = "web" }}

[template.reminder]
subject = "Your cart is waiting"
text = "Your cart: {{{{ links.recovery }}}}  Tell us why you left: {{{{ links.survey }}}}"
"#
    )
}

/// Abandons a checkout of `quantity` mugs ($25 each) for `email`.
async fn abandon(hub: &Hub, token: &str, email: &str, quantity: u32) {
    let now = chrono::Utc::now().to_rfc3339();
    let body = serde_json::to_vec(&shopify_checkout(token, email, &now, quantity)).unwrap();
    let r = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        &format!("w-{token}"),
        &body,
    )
    .send()
    .await
    .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

async fn store_of(hub: &Hub) -> SqlStore {
    SqlStore::open(&format!(
        "sqlite://{}",
        hub.dir.path().join("hub.db").display()
    ))
    .await
    .unwrap()
}

/// The sent message of `email`'s cart on `channel`, if it is sent.
async fn sent_now(hub: &Hub, store: &SqlStore, email: &str, channel: &str) -> Option<OutboxRow> {
    let cart = cartback_e2e::cart_of(hub, email).await?;
    store
        .messages(&MessageFilter {
            cart_id: cart["id"].as_str().map(str::to_string),
            channel_id: Some(channel.into()),
            status: Some(OutboxStatus::Sent),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .next()
}

/// The sent message of `email`'s cart on `channel`, once it is sent.
async fn sent(hub: &Hub, store: &SqlStore, email: &str, channel: &str) -> OutboxRow {
    until_within(30, &format!("the {channel} message to {email}"), || async {
        sent_now(hub, store, email, channel).await.is_some()
    })
    .await;
    sent_now(hub, store, email, channel).await.unwrap()
}

/// The `/s/` link in a reminder's text.
fn survey_link(hub: &Hub, m: &OutboxRow) -> String {
    let text = m.message.text.as_deref().unwrap();
    let start = text
        .find(&hub.url("/s/"))
        .expect("the reminder links the survey");
    text[start..].split_whitespace().next().unwrap().to_string()
}

async fn reasons(hub: &Hub, flow: &str) -> Value {
    admin_json(hub, &format!("/api/v1/flows/{flow}/report")).await["reasons"].clone()
}

fn share(reasons: &Value, id: &str) -> (u64, f64) {
    let r = reasons["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {reasons}"));
    (r["answers"].as_u64().unwrap(), r["share"].as_f64().unwrap())
}

#[tokio::test]
async fn a_shopper_answers_the_survey_in_a_browser() {
    let Some(b) = launch(1280, 900).await else {
        return;
    };
    // A sample shop page with the widget tag, on an origin of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_origin = format!("http://{}", listener.local_addr().unwrap());
    let hub = spawn_hub(&config_with_origin(&shop_origin), &[])
        .await
        .unwrap();
    let page = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Shop</title></head><body><h1>Shop</h1>\
         <script src=\"{}\" data-site=\"pk_test_shop\" async></script></body></html>",
        hub.url("/onsite/widget.js")
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let store = store_of(&hub).await;
    abandon(&hub, "b1", "ann@example.com", 1).await;
    let m = sent(&hub, &store, "ann@example.com", "email").await;
    let link = survey_link(&hub, &m);

    b.goto(&link).await;
    assert_eq!(
        b.text("h1").await,
        "What stopped you from completing your order?"
    );
    assert_eq!(b.count("form input[type=radio][name=reason]").await, 3);
    assert_eq!(
        b.count("label[for=r0]").await,
        1,
        "every choice is labelled"
    );
    assert_eq!(
        b.count("label[for=text]").await,
        1,
        "the text box is labelled"
    );
    // At phone width nothing runs off the side.
    b.resize(375, 740).await;
    let fits = b
        .eval("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(fits, json!(true));
    b.screenshot(&artifact("survey-phone.png")).await;
    b.click("label[for=r0]").await;
    b.click("button[type=submit]").await;
    until_within(10, "the thanks page", || async {
        b.eval("var h=document.querySelector('h1');return h?h.textContent:''")
            .await
            == json!("Thank you")
    })
    .await;
    let back = b
        .eval("return document.getElementById('back-to-cart').getAttribute('href')")
        .await;
    let back = back.as_str().unwrap();
    assert!(
        back.starts_with(&hub.url("/r/")),
        "tracked recovery link: {back}"
    );
    assert_eq!(
        Some(back),
        m.message.cart.as_ref().unwrap().recovery_url.as_deref(),
        "the message's own recovery link"
    );
    assert_eq!(
        b.console_errors().await,
        Vec::<String>::new(),
        "no refused style, no failed load"
    );
    b.screenshot(&artifact("survey-thanks.png")).await;

    let r = reasons(&hub, "recover").await;
    assert_eq!(r["answers"], 1);
    assert_eq!(share(&r, "shipping_cost"), (1, 1.0));
    assert_eq!(r["bands"][0]["band"], "under_50");
    assert_eq!(r["bands"][0]["answers"], 1);

    // Opened again: asked once per cart, only the thanks.
    b.goto(&link).await;
    assert_eq!(b.text("h1").await, "Thank you");

    // The pop-up on the shop's page asks Dee (the web channel names the survey): one row of
    // reasons; a click records the answer and the row gives way to a thank-you.
    abandon(&hub, "b2", "dee@example.com", 1).await;
    sent(&hub, &store, "dee@example.com", "web").await;
    let dee = visitor(&hub, "dee@example.com").await;
    b.resize(1280, 900).await;
    b.goto(&format!("{shop_origin}/?cb_v={dee}")).await;
    const ROW: &str = "var h=document.getElementById('cartback-reminder');\
        return h?Array.prototype.map.call(h.shadowRoot.querySelectorAll('.why button'),function(b){return b.textContent}):null";
    until_within(10, "the pop-up's reason row", || async {
        b.eval(ROW).await.as_array().is_some_and(|a| a.len() == 3)
    })
    .await;
    assert_eq!(
        b.eval(ROW).await,
        json!([
            "Shipping was too expensive",
            "I had to create an account",
            "Other"
        ])
    );
    b.screenshot(&artifact("survey-popup.png")).await;
    b.eval("document.getElementById('cartback-reminder').shadowRoot.querySelectorAll('.why button')[1].click();return 1")
        .await;
    assert_eq!(b.eval(ROW).await, json!([]), "the row is hidden");
    until_within(10, "the pop-up's answer in the report", || async {
        reasons(&hub, "popup").await["answers"] == 1
    })
    .await;
    assert_eq!(share(&reasons(&hub, "popup").await, "account"), (1, 1.0));
    b.close().await;
}

#[tokio::test]
async fn forged_tokens_once_per_cart_other_text_and_the_popup() {
    let hub = spawn_hub(&config(), &[]).await.unwrap();
    let store = store_of(&hub).await;
    let c = &hub.client;
    abandon(&hub, "h1", "bob@example.com", 3).await;
    abandon(&hub, "h2", "cy@example.com", 8).await;
    let bob = sent(&hub, &store, "bob@example.com", "email").await;
    let link = survey_link(&hub, &bob);

    // Forged, altered, another kind of token: a 404 page, never a redirect, nothing recorded.
    let token = link.rsplit('/').next().unwrap().to_string();
    let (payload, mac) = token.split_once('.').unwrap();
    let mut flipped = mac.chars().collect::<Vec<_>>();
    flipped[0] = if flipped[0] == 'A' { 'B' } else { 'A' };
    let altered = format!("{payload}.{}", flipped.into_iter().collect::<String>());
    let open_token = m_token_of_kind(&bob, &hub, "/r/");
    for bad in ["nope", "a.b", altered.as_str(), open_token.as_str()] {
        let r = c.get(hub.url(&format!("/s/{bad}"))).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let r = c
            .post(hub.url(&format!("/s/{bad}")))
            .form(&[("reason", "account")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    // A cross-site post is refused.
    let r = c
        .post(&link)
        .header("Origin", "https://evil.example")
        .form(&[("reason", "account")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A reason the survey does not offer: 400 with the form again.
    let r = c
        .post(&link)
        .form(&[("reason", "made_up")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("role=\"alert\""));
    // A body over the limit.
    let r = c
        .post(&link)
        .form(&[("reason", "other"), ("text", &"x".repeat(20_000))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(reasons(&hub, "recover").await["answers"] == 0);

    // "Other" with text; a second answer changes nothing.
    let words = format!(
        "{} write to bob@example.com or +1 415 555 0100",
        "y".repeat(400)
    );
    let r = c
        .post(&link)
        .form(&[("reason", "other"), ("text", &words)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Thank you"));
    let again = c
        .post(&link)
        .form(&[("reason", "account")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let r = reasons(&hub, "recover").await;
    assert_eq!(r["answers"], 1);
    assert_eq!(share(&r, "other"), (1, 1.0));
    assert_eq!(share(&r, "account"), (0, 0.0));
    assert_eq!(r["bands"][1]["band"], "50_to_150", "3 mugs: $75");
    assert_eq!(r["bands"][1]["answers"], 1);
    let listed = &r["other_texts"][0];
    assert_eq!(listed["shopper"], "b***@example.com");
    assert_eq!(
        listed["text"],
        format!("{} write to b***@example.com or ***", "y".repeat(400))
    );

    // The pop-up of Cy's cart (the web channel names the survey): one row of reasons.
    let cy_web = sent(&hub, &store, "cy@example.com", "web").await;
    let cy = visitor(&hub, "cy@example.com").await;
    let popup = onsite_cart(&hub, &cy).await;
    assert_eq!(popup["message_id"], cy_web.id.as_str());
    let ids: Vec<&str> = popup["survey"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["shipping_cost", "account", "other"]);
    // Someone else's visitor token cannot answer for Cy.
    let bob_visitor = visitor(&hub, "bob@example.com").await;
    let r = onsite_answer(&hub, &bob_visitor, &cy_web.id, "account").await;
    assert_eq!(r, 404);
    assert_eq!(onsite_answer(&hub, &cy, &cy_web.id, "nonsense").await, 400);
    assert_eq!(onsite_answer(&hub, &cy, &cy_web.id, "account").await, 204);
    let popup = onsite_cart(&hub, &cy).await;
    assert!(popup["survey"].is_null(), "asked once per cart: {popup}");
    let r = reasons(&hub, "popup").await;
    assert_eq!(share(&r, "account"), (1, 1.0));
    assert_eq!(r["bands"][2]["answers"], 1, "8 mugs: $200");
    // Cy's reminder email asks nothing more either: the cart has its answer.
    let cy_mail = sent(&hub, &store, "cy@example.com", "email").await;
    let page = c.get(survey_link(&hub, &cy_mail)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<h1>Thank you</h1>"));
    assert_eq!(reasons(&hub, "recover").await["answers"], 1);
}

/// The token of the first link of kind `path` (`/r/`) in the message.
fn m_token_of_kind(m: &OutboxRow, hub: &Hub, path: &str) -> String {
    let text = m.message.text.as_deref().unwrap();
    let start = text.find(&hub.url(path)).unwrap();
    text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

async fn visitor(hub: &Hub, email: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SITE_SECRET.as_bytes()).unwrap();
    mac.update(email.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let r = hub
        .client
        .get(hub.url("/onsite/identify"))
        .query(&[
            ("site", "pk_test_shop"),
            ("email", email),
            ("signature", &sig),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["visitor"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn onsite_cart(hub: &Hub, visitor: &str) -> Value {
    let r = hub
        .client
        .get(hub.url("/onsite/cart"))
        .query(&[("site", "pk_test_shop"), ("visitor", visitor)])
        .header("Origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn onsite_answer(hub: &Hub, visitor: &str, message: &str, reason: &str) -> u16 {
    let body =
        json!({ "site": "pk_test_shop", "visitor": visitor, "message": message, "reason": reason });
    hub.client
        .post(hub.url("/onsite/survey"))
        .header("Origin", SHOP)
        .header("Content-Type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn check_config_names_survey_problems_by_key_path() {
    let bad = config()
        .replace(
            "survey = \"why\"\n  send = {",
            "survey = \"wyh\"\n  send = {",
        )
        .replace(
            "  [[survey.why.reason]]\n  id = \"account\"",
            "  [[survey.why.reason]]\n  id = \"Account!\"",
        )
        .replace(
            "origins = [\"https://shop.example\"]\nsurvey = \"why\"",
            "origins = [\"https://shop.example\"]\nsurvey = \"nope\"",
        );
    let env: cartback_cli::config::Env = [(
        "CARTBACK_ADMIN_TOKEN".to_string(),
        "k3J9x-survey-Q7vT2m8Lp4Wz".to_string(),
    )]
    .into_iter()
    .collect();
    let err = cartback_cli::config::load_str(&bad, std::path::Path::new("."), &env).unwrap_err();
    let found: Vec<(String, String)> = err
        .problems
        .iter()
        .map(|p| (p.path.clone(), p.message.clone()))
        .collect();
    let at = |path: &str| {
        found
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("no problem at {path}: {found:?}"))
    };
    assert!(at("survey.why.reason[2].id").contains("Account!"));
    assert!(at("flow.recover.step[1].survey").contains("configured: why"));
    assert!(at("channel.web.survey").contains("no survey \"nope\""));

    // `links.survey` on a step that asks no survey.
    let unasked = config().replace("  survey = \"why\"\n  send = {", "  send = {");
    let err =
        cartback_cli::config::load_str(&unasked, std::path::Path::new("."), &env).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.path, "flow.recover.step[1].send.template", "{err}");
    assert!(
        p.message.contains("links.survey") || p.message.contains("survey"),
        "{err}"
    );
    // The configuration as given is fine.
    cartback_cli::config::load_str(&config(), std::path::Path::new("."), &env).unwrap();
}
