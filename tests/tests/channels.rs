//! The outbound path end to end, against wiremock providers: a Shopify checkout is abandoned, a
//! SendGrid email with tracked links goes out; no click → a Twilio SMS follows; a click on the
//! email's link → no SMS. Then the tracking links themselves: forged tokens, opens, unsubscribe.
#![allow(clippy::unwrap_used)]

async fn until<F, Fut>(what: &str, f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    cartback_e2e::until_within(30, what, f).await
}

use cartback_e2e::payloads::shopify_checkout;
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "channels-secret";
const SID: &str = "AC0123456789abcdef0123456789abcdef";

const CONFIG: &str = r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "${SHOPIFY_SECRET}"

[channel.email]
type = "sendgrid"
api_key = "SG.test-key"
from = "Test Shop <shop@example.com>"
base_url = "${SENDGRID_URL}"
timeout = "5s"

[channel.sms]
type = "twilio"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "twilio-token"
from = "+15005550006"
base_url = "${TWILIO_URL}"
timeout = "5s"

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.recover.step]]
  send = { channel = "email", template = "email" }
  [[flow.recover.step]]
  wait = "3s"
  unless = ["purchased", "clicked"]
  send = { channel = "sms", template = "sms" }

[template.email]
subject = "You left {{ cart.items[0].title }}"
html = "<p>{% for i in cart.items %}<a href=\"{{ i.url }}\">{{ i.title }}</a>{% endfor %} <a href=\"{{ cart.recovery_url }}\">Back to your cart</a></p>"
text = "Back to your cart: {{ cart.recovery_url }}"

[template.sms]
text = "Still thinking? {{ cart.recovery_url }}"
"#;

fn checkout(token: &str, email: &str, phone: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339();
    let mut c = shopify_checkout(token, email, &now, 1);
    c["phone"] = Value::String(phone.into());
    c["customer"]["sms_marketing_consent"] = serde_json::json!({ "state": "subscribed" });
    c["line_items"][0]["url"] = Value::String("https://shop.example/products/blue-mug".into());
    c
}

async fn providers() -> (MockServer, MockServer) {
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202).insert_header("X-Message-Id", "sg-msg-1"))
        .mount(&sendgrid)
        .await;
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"sid": "SM123", "status": "queued"})),
        )
        .mount(&twilio)
        .await;
    (sendgrid, twilio)
}

async fn hub(sendgrid: &MockServer, twilio: &MockServer) -> Hub {
    spawn_hub(
        CONFIG,
        &[
            ("SHOPIFY_SECRET", SECRET),
            ("SENDGRID_URL", &sendgrid.uri()),
            ("TWILIO_URL", &twilio.uri()),
        ],
    )
    .await
    .unwrap()
}

async fn post_checkout(hub: &Hub, id: &str, body: &Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let resp = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        id,
        &bytes,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
}

fn email_to(requests: &[Request], email: &str) -> Option<Value> {
    requests
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .find(|b| b["personalizations"][0]["to"][0]["email"] == email)
}

fn html_of(mail: &Value) -> String {
    mail["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "text/html")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string()
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn email_then_sms_unless_the_shopper_clicked() {
    let (sendgrid, twilio) = providers().await;
    let hub = hub(&sendgrid, &twilio).await;
    post_checkout(
        &hub,
        "c-1",
        &checkout("clicker", "clicker@example.com", "+14155550101"),
    )
    .await;
    post_checkout(
        &hub,
        "c-2",
        &checkout("idle", "idle@example.com", "+14155550102"),
    )
    .await;
    until("both emails", || async {
        sendgrid.received_requests().await.unwrap().len() == 2
    })
    .await;
    let requests = sendgrid.received_requests().await.unwrap();
    let mail = email_to(&requests, "clicker@example.com").unwrap();
    assert_eq!(mail["subject"], "You left Blue Mug");
    assert!(mail["personalizations"][0]["custom_args"]["message_id"].is_string());
    let links = hrefs(&html_of(&mail));
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(
        links.iter().all(|l| l.starts_with(&hub.url)),
        "every link is tracked: {links:?}"
    );
    // The shopper clicks the product link: 302 to the product page, recorded.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let click = no_redirects.get(&links[0]).send().await.unwrap();
    assert_eq!(click.status(), 302);
    assert_eq!(
        click.headers()["location"],
        "https://shop.example/products/blue-mug"
    );
    // The cart button goes back to the platform's recovery URL.
    let back = no_redirects.get(&links[1]).send().await.unwrap();
    assert_eq!(back.status(), 302);
    assert!(back.headers()["location"]
        .to_str()
        .unwrap()
        .contains("/checkouts/clicker/recover"));
    // Three seconds later the idle shopper gets the SMS; the one who clicked does not.
    until("the SMS", || async {
        !twilio.received_requests().await.unwrap().is_empty()
    })
    .await;
    // Both runs have taken their last step and nothing is waiting to go out: the SMS count is
    // final. The clicker's run holds the email only.
    cartback_e2e::until_settled(&hub, "idle@example.com", 30).await;
    let (_, runs) = cartback_e2e::until_settled(&hub, "clicker@example.com", 30).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let clicker = cartback_e2e::messages_of_run(&hub, runs[0]["id"].as_str().unwrap()).await;
    assert_eq!(
        clicker.len(),
        1,
        "an SMS to the shopper who clicked: {clicker:?}"
    );
    let sms = twilio.received_requests().await.unwrap();
    assert_eq!(sms.len(), 1);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&sms[0].body)
        .into_owned()
        .collect();
    assert!(
        form.contains(&("To".into(), "+14155550102".into())),
        "{form:?}"
    );
    let body = &form.iter().find(|(k, _)| k == "Body").unwrap().1;
    assert!(
        body.starts_with(&format!("Still thinking? {}/r/", hub.url)),
        "{body}"
    );
    let messages: Value = hub
        .admin_get("/api/v1/messages?status=sent")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(messages["count"], 3);
}

#[tokio::test]
async fn tracking_links_are_signed_and_unsubscribe_works() {
    let (sendgrid, twilio) = providers().await;
    let hub = hub(&sendgrid, &twilio).await;
    post_checkout(
        &hub,
        "u-1",
        &checkout("unsub", "unsub@example.com", "+14155550103"),
    )
    .await;
    until("the email", || async {
        sendgrid.received_requests().await.unwrap().len() == 1
    })
    .await;
    let mail = email_to(
        &sendgrid.received_requests().await.unwrap(),
        "unsub@example.com",
    )
    .unwrap();
    let links = hrefs(&html_of(&mail));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A forged or altered token: 404, no redirect.
    let altered = format!("{}x", links[0]);
    let r = client.get(&altered).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("location").is_none());
    assert_eq!(
        client
            .get(hub.url("/t/not-a-token"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // A click token is not an unsubscribe token.
    let token = links[0].rsplit('/').next().unwrap();
    assert_eq!(
        client
            .post(hub.url(&format!("/u/{token}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The open pixel.
    let html = html_of(&mail);
    let pixel = html
        .split("src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let p = client.get(pixel).send().await.unwrap();
    assert_eq!(p.status(), 200);
    assert_eq!(p.headers()["content-type"], "image/gif");
    // List-Unsubscribe one-click (RFC 8058).
    let lu = mail["headers"]["List-Unsubscribe"]
        .as_str()
        .unwrap()
        .trim_matches(['<', '>'])
        .to_string();
    assert_eq!(
        mail["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    let page = client.get(&lu).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let done = client
        .post(&lu)
        .body("List-Unsubscribe=One-Click")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let carts: Value = hub
        .admin_get("/api/v1/carts?email=unsub@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        carts["carts"][0]["contact"]["email_consent"],
        "unsubscribed"
    );
}
