//! The Mailchimp hand-off against a wiremock Mailchimp: each request's method, path, auth and
//! JSON body (against `tests/fixtures/`), both purposes, the retries that must not make a second
//! cart or order, and the status classification the conformance suite leaves out.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use cartback_core::{Consent, DeliveryError, LineItem, Money, Sink};
use common::{bare, converted, eur, fixture, full, message, mug, sink, KEY, LIST, STORE};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{any, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn carts() -> String {
    format!("/3.0/ecommerce/stores/{STORE}/carts")
}

fn basic() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("cartback:{KEY}"));
    format!("Basic {token}")
}

fn exists(what: &str) -> ResponseTemplate {
    ResponseTemplate::new(400)
        .insert_header("content-type", "application/problem+json")
        .set_body_json(json!({
            "type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": "Bad Request", "status": 400,
            "detail": format!("We were unable to process the request. A {what} with the provided ID already exists in the account."),
            "instance": "0d4c7b1e-0000-0000-0000-000000000000"
        }))
}

/// Mounts `method path` answering `template`, checking the Basic auth and the JSON headers.
async fn on(server: &MockServer, m: &str, p: &str, template: ResponseTemplate) {
    Mock::given(method(m))
        .and(path(p))
        .and(header("authorization", basic().as_str()))
        .and(header("accept", "application/json"))
        .respond_with(template)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn calls(reqs: &[Request]) -> Vec<String> {
    reqs.iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

fn body(r: &Request) -> Value {
    assert_eq!(
        r.headers.get("content-type").unwrap().to_str().unwrap(),
        "application/json"
    );
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn a_reminder_is_one_cart_with_the_tracked_link() {
    let server = MockServer::start().await;
    on(
        &server,
        "POST",
        &carts(),
        ResponseTemplate::new(200).set_body_json(json!({"id": "cart_8f2c"})),
    )
    .await;
    let receipt = sink(bare(&server.uri())).deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("cart_8f2c"));
    let reqs = requests(&server).await;
    assert_eq!(calls(&reqs), [format!("POST {}", carts())]);
    assert_eq!(body(&reqs[0]), fixture("cart.expected.json"));
    // Money as JSON numbers, written from the exact decimal text.
    let raw = String::from_utf8(reqs[0].body.clone()).unwrap();
    assert!(raw.contains("\"order_total\":59.98"), "{raw}");
    assert!(raw.contains("\"price\":29.99"), "{raw}");
}

#[tokio::test]
async fn with_the_audience_and_products_the_cart_comes_last() {
    let server = MockServer::start().await;
    let member = format!("/3.0/lists/{LIST}/members/ann@example.com");
    Mock::given(method("PUT"))
        .and(path(member.as_str()))
        .and(query_param("skip_merge_validation", "true"))
        .and(header("authorization", basic().as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "md5", "status": "transactional"})),
        )
        .mount(&server)
        .await;
    let products = format!("/3.0/ecommerce/stores/{STORE}/products");
    on(
        &server,
        "POST",
        &products,
        ResponseTemplate::new(200).set_body_json(json!({"id": "p1"})),
    )
    .await;
    on(
        &server,
        "POST",
        &carts(),
        ResponseTemplate::new(200).set_body_json(json!({"id": "cart_8f2c"})),
    )
    .await;

    sink(full(&server.uri())).deliver(&message()).await.unwrap();
    let reqs = requests(&server).await;
    assert_eq!(
        calls(&reqs),
        [
            format!("PUT {member}"),
            format!("POST {products}"),
            format!("POST {}", carts())
        ]
    );
    assert_eq!(body(&reqs[0]), fixture("member.expected.json"));
    assert_eq!(body(&reqs[1]), fixture("product.expected.json"));
    assert_eq!(body(&reqs[2]), fixture("cart.expected.json"));
}

#[tokio::test]
async fn an_existing_product_gets_its_variants_upserted() {
    let server = MockServer::start().await;
    let products = format!("/3.0/ecommerce/stores/{STORE}/products");
    let variant = format!("{products}/p1/variants/p1");
    on(&server, "POST", &products, exists("product")).await;
    on(
        &server,
        "PUT",
        &variant,
        ResponseTemplate::new(200).set_body_json(json!({"id": "p1"})),
    )
    .await;
    on(
        &server,
        "POST",
        &carts(),
        ResponseTemplate::new(200).set_body_json(json!({"id": "cart_8f2c"})),
    )
    .await;
    let mut s = full(&server.uri());
    s.list_id = None;
    sink(s).deliver(&message()).await.unwrap();
    let reqs = requests(&server).await;
    assert_eq!(
        calls(&reqs),
        [
            format!("POST {products}"),
            format!("PUT {variant}"),
            format!("POST {}", carts())
        ]
    );
    assert_eq!(body(&reqs[1]), fixture("variant.expected.json"));
}

#[tokio::test]
async fn a_cart_that_exists_is_replaced_never_doubled() {
    let server = MockServer::start().await;
    // The first POST finds the cart an earlier attempt created; the second one succeeds.
    Mock::given(method("POST"))
        .and(path(carts().as_str()))
        .respond_with(exists("cart"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    on(
        &server,
        "POST",
        &carts(),
        ResponseTemplate::new(200).set_body_json(json!({"id": "cart_8f2c"})),
    )
    .await;
    on(
        &server,
        "DELETE",
        &format!("{}/cart_8f2c", carts()),
        ResponseTemplate::new(204),
    )
    .await;
    let receipt = sink(bare(&server.uri())).deliver(&message()).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("cart_8f2c"));
    let reqs = requests(&server).await;
    assert_eq!(
        calls(&reqs),
        [
            format!("POST {}", carts()),
            format!("DELETE {}/cart_8f2c", carts()),
            format!("POST {}", carts())
        ]
    );
    assert!(reqs[1].body.is_empty());
    assert_eq!(body(&reqs[2]), fixture("cart.expected.json"));
}

#[tokio::test]
async fn a_purchase_is_the_order_then_the_carts_removal() {
    let server = MockServer::start().await;
    let member = format!("/3.0/lists/{LIST}/members/ann@example.com");
    let products = format!("/3.0/ecommerce/stores/{STORE}/products");
    let orders = format!("/3.0/ecommerce/stores/{STORE}/orders");
    let cart = format!("{}/cart_8f2c", carts());
    on(&server, "PUT", &member, ResponseTemplate::new(200)).await;
    on(&server, "POST", &products, exists("product")).await;
    on(
        &server,
        "PUT",
        &format!("{products}/p1/variants/p1"),
        ResponseTemplate::new(200),
    )
    .await;
    on(
        &server,
        "POST",
        &orders,
        ResponseTemplate::new(200).set_body_json(json!({"id": "order_1001"})),
    )
    .await;
    on(&server, "DELETE", &cart, ResponseTemplate::new(204)).await;

    let receipt = sink(full(&server.uri()))
        .deliver(&converted())
        .await
        .unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("order_1001"));
    let reqs = requests(&server).await;
    assert_eq!(
        calls(&reqs),
        [
            format!("PUT {member}"),
            format!("POST {products}"),
            format!("PUT {products}/p1/variants/p1"),
            format!("POST {orders}"),
            format!("DELETE {cart}")
        ]
    );
    assert_eq!(body(&reqs[3]), fixture("order.expected.json"));
}

#[tokio::test]
async fn a_purchase_retried_is_still_one_order_and_no_cart() {
    let server = MockServer::start().await;
    let orders = format!("/3.0/ecommerce/stores/{STORE}/orders");
    on(&server, "POST", &orders, exists("order")).await;
    // Deleted by the first attempt: 404 is what a second deletion gets.
    on(
        &server,
        "DELETE",
        &format!("{}/cart_8f2c", carts()),
        ResponseTemplate::new(404).set_body_json(json!({
            "title": "Resource Not Found", "status": 404,
            "detail": "The requested resource could not be found."
        })),
    )
    .await;
    let receipt = sink(bare(&server.uri()))
        .deliver(&converted())
        .await
        .unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("order_1001"));
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn without_orders_a_purchase_only_removes_the_cart() {
    let server = MockServer::start().await;
    on(
        &server,
        "DELETE",
        &format!("{}/cart_8f2c", carts()),
        ResponseTemplate::new(204),
    )
    .await;
    let mut s = bare(&server.uri());
    s.create_orders = false;
    sink(s).deliver(&converted()).await.unwrap();
    assert_eq!(
        calls(&requests(&server).await),
        [format!("DELETE {}/cart_8f2c", carts())]
    );
}

#[tokio::test]
async fn consent_opts_in_and_variants_share_their_product() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut m = message();
    m.contact.as_mut().unwrap().email_consent = Consent::Subscribed;
    let cart = m.cart.as_mut().unwrap();
    cart.items = vec![
        LineItem {
            variant_id: Some("v-blue".into()),
            variant_title: Some("Blue".into()),
            ..mug()
        },
        LineItem {
            variant_id: Some("v-red".into()),
            variant_title: Some("Red".into()),
            quantity: 1,
            ..mug()
        },
        LineItem {
            variant_id: Some("v-red".into()),
            variant_title: Some("Red".into()),
            quantity: 1,
            ..mug()
        },
    ];
    cart.total = Money::new(11996, eur());
    sink(full(&server.uri())).deliver(&m).await.unwrap();
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3, "{:?}", calls(&reqs));
    assert_eq!(body(&reqs[0])["status_if_new"], "subscribed");
    let product = body(&reqs[1]);
    let variants: Vec<&str> = product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["v-blue", "v-red"]);
    let cart = body(&reqs[2]);
    assert_eq!(cart["customer"]["opt_in_status"], true);
    assert_eq!(cart["order_total"], json!(119.96));
    let lines: Vec<(&str, &str)> = cart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_str().unwrap(), l["product_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [("v-blue", "p1"), ("v-red", "p1"), ("v-red#2", "p1")]
    );
}

#[tokio::test]
async fn what_can_never_be_sent_is_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut no_email = message();
    no_email.contact.as_mut().unwrap().email = None;
    no_email.to.email = None;
    let mut no_link = message();
    no_link.cart.as_mut().unwrap().recovery_url = None;
    let mut no_items = message();
    no_items.cart.as_mut().unwrap().items.clear();
    for (m, says) in [
        (no_email, "email"),
        (no_link, "recovery link"),
        (no_items, "no items"),
    ] {
        match sink(full(&server.uri())).deliver(&m).await {
            Err(DeliveryError::Permanent { reason }) => assert!(reason.contains(says), "{reason}"),
            other => panic!("{says}: {other:?}"),
        }
    }
    assert!(requests(&server).await.is_empty());
}

/// Mailchimp answering every request with `template`; the reminder's outcome.
async fn answered(template: ResponseTemplate) -> DeliveryError {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&server)
        .await;
    sink(bare(&server.uri()))
        .deliver(&message())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn refused_keys_say_so() {
    for status in [401, 403] {
        let e = answered(ResponseTemplate::new(status).set_body_json(json!({
            "type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": "API Key Invalid", "status": status,
            "detail": "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            "instance": "i-1"
        })))
        .await;
        match e {
            DeliveryError::Permanent { reason } => {
                assert!(reason.starts_with("credential refused:"), "{reason}");
                assert!(reason.contains("API Key Invalid"), "{reason}");
                assert!(!reason.contains(KEY));
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_invalid_resource_names_the_field() {
    let e = answered(ResponseTemplate::new(400).set_body_json(json!({
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": "Invalid Resource", "status": 400,
        "detail": "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
        "instance": "i-2",
        "errors": [{"field": "lines.item:0.product_id", "message": "A product with the provided ID does not exist in the account for this list."}]
    })))
    .await;
    match e {
        DeliveryError::Permanent { reason } => {
            assert!(
                reason.starts_with("HTTP 400: cart: field \"lines.item:0.product_id\""),
                "{reason}"
            );
            assert!(reason.contains("does not exist"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn throttling_and_outages_are_retried() {
    let e = answered(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "7")
            .set_body_json(json!({
                "title": "Too Many Requests", "status": 429,
                "detail": "You have exceeded the limit of 10 simultaneous connections."
            })),
    )
    .await;
    assert!(
        matches!(&e, DeliveryError::Retryable { retry_after: Some(d), reason } if *d == Duration::from_secs(7) && reason.contains("simultaneous")),
        "{e:?}"
    );
    assert!(matches!(
        answered(ResponseTemplate::new(429)).await,
        DeliveryError::Retryable {
            retry_after: None,
            ..
        }
    ));
    assert!(matches!(
        answered(ResponseTemplate::new(503)).await,
        DeliveryError::Retryable { .. }
    ));
}

#[tokio::test]
async fn a_failed_step_stops_the_hand_off() {
    let server = MockServer::start().await;
    on(
        &server,
        "PUT",
        &format!("/3.0/lists/{LIST}/members/ann@example.com"),
        ResponseTemplate::new(500),
    )
    .await;
    match sink(full(&server.uri())).deliver(&message()).await {
        Err(DeliveryError::Retryable { reason, .. }) => {
            assert!(reason.starts_with("HTTP 500: audience member"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        requests(&server).await.len(),
        1,
        "no cart after a failed member upsert"
    );
}
