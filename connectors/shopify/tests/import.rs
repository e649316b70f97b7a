//! The Admin GraphQL importer against a wiremock Shopify: pages and cursors, the request's token
//! and variables, the records' identity (the webhooks' cart key, REST ids), the cost-based
//! throttle (waits recorded by an injected sleeper, never slept), and errors.
#![allow(clippy::unwrap_used)]

use cartback_core::{EventKind, Importer, PollError};
use cartback_kit::{Secret, SecretList};
use cartback_shopify::{ShopifyImporter, ShopifySettings};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ENDPOINT: &str = "/admin/api/2026-10/graphql.json";

fn settings(base: &str) -> ShopifySettings {
    let mut s = ShopifySettings::new(SecretList::new(vec![Secret::new("whsec")]));
    s.shop_domain = Some("demo.myshopify.com".into());
    s.admin_access_token = Some(Secret::new("shpat_test"));
    s.admin_base_url = Some(base.into());
    s
}

type Waits = Arc<Mutex<Vec<Duration>>>;

fn importer(base: &str) -> (ShopifyImporter, Waits) {
    let waits: Waits = Arc::default();
    let w = waits.clone();
    let imp = ShopifyImporter::with_sleeper(
        settings(base),
        Arc::new(move |d| {
            w.lock().unwrap().push(d);
            Box::pin(async {})
        }),
    )
    .unwrap();
    (imp, waits)
}

fn money(amount: &str) -> Value {
    json!({ "shopMoney": { "amount": amount, "currencyCode": "USD" },
            "presentmentMoney": { "amount": amount, "currencyCode": "USD" } })
}

fn checkout(id: u64, token: &str, email: &str, completed: Option<&str>) -> Value {
    json!({
        "id": format!("gid://shopify/AbandonedCheckout/{id}"),
        "abandonedCheckoutUrl": format!("https://demo.myshopify.com/1/checkouts/ac/{token}/recover?key=k"),
        "createdAt": "2026-11-20T10:00:00Z",
        "updatedAt": "2026-11-20T10:05:00Z",
        "completedAt": completed,
        "customer": { "id": "gid://shopify/Customer/77", "firstName": "Ann", "lastName": null, "locale": "en",
            "defaultEmailAddress": { "emailAddress": email, "marketingState": "SUBSCRIBED" },
            "defaultPhoneNumber": null },
        "billingAddress": null, "shippingAddress": null,
        "subtotalPriceSet": money("40.00"), "totalPriceSet": money("40.00"),
        "lineItems": { "nodes": [ { "title": "Mug", "quantity": 2, "sku": "MUG", "variantTitle": null,
            "variant": { "id": "gid://shopify/ProductVariant/5" }, "product": { "id": "gid://shopify/Product/4" },
            "image": null, "originalUnitPriceSet": money("20.00"), "discountedTotalPriceSet": money("40.00") } ] }
    })
}

fn order(id: u64, checkout_token: &str, email: &str) -> Value {
    json!({
        "id": format!("gid://shopify/Order/{id}"), "name": "#1001", "email": email, "phone": null,
        "checkoutToken": checkout_token, "cartToken": null, "currencyCode": "USD",
        "presentmentCurrencyCode": "USD", "createdAt": "2026-11-21T09:00:00Z",
        "updatedAt": "2026-11-21T09:01:00Z", "processedAt": "2026-11-21T09:00:00Z", "test": false,
        "customerLocale": "en", "customer": null, "billingAddress": null, "shippingAddress": null,
        "totalPriceSet": money("40.00"),
        "lineItems": { "nodes": [ { "title": "Mug", "quantity": 2, "sku": "MUG", "variantTitle": null,
            "variant": null, "product": null, "image": null,
            "originalUnitPriceSet": money("20.00"), "discountedTotalSet": money("40.00") } ] }
    })
}

fn cost(available: f64) -> Value {
    json!({ "cost": { "requestedQueryCost": 502, "actualQueryCost": 40,
        "throttleStatus": { "maximumAvailable": 1000.0, "currentlyAvailable": available, "restoreRate": 100.0 } } })
}

fn checkouts_page(nodes: Vec<Value>, next: Option<&str>, counts: bool) -> Value {
    let mut data = json!({ "abandonedCheckouts": {
        "pageInfo": { "hasNextPage": next.is_some(), "endCursor": next }, "nodes": nodes } });
    if counts {
        data["abandonedCheckoutsCount"] = json!({ "count": 3 });
        data["ordersCount"] = json!({ "count": 1 });
    }
    json!({ "data": data, "extensions": cost(900.0) })
}

fn since() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-10-29T00:00:00Z")
        .unwrap()
        .into()
}

#[tokio::test]
async fn two_pages_of_checkouts_then_orders_with_the_token_and_variables() {
    let shop = MockServer::start().await;
    let filter = "updated_at:>='2026-10-29T00:00:00Z'";
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("x-shopify-access-token", "shpat_test"))
        .and(body_partial_json(json!({ "variables": {
            "first": 25, "after": null, "query": filter, "counts": true } })))
        .respond_with(ResponseTemplate::new(200).set_body_json(checkouts_page(
            vec![
                checkout(1, "tok1", "ann@shop.test", None),
                checkout(2, "tok2", "bob@shop.test", None),
            ],
            Some("c1"),
            true,
        )))
        .expect(1)
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("x-shopify-access-token", "shpat_test"))
        .and(body_partial_json(json!({ "variables": {
            "after": "c1", "query": filter, "counts": false } })))
        .respond_with(ResponseTemplate::new(200).set_body_json(checkouts_page(
            vec![checkout(
                3,
                "tok3",
                "cy@shop.test",
                Some("2026-11-20T11:00:00Z"),
            )],
            None,
            false,
        )))
        .expect(1)
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("x-shopify-access-token", "shpat_test"))
        .and(body_partial_json(
            json!({ "variables": { "after": null, "query": filter, "first": 25 } }),
        ))
        .and(wiremock::matchers::body_string_contains("query Orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": { "orders": { "pageInfo": { "hasNextPage": false, "endCursor": "o1" },
                "nodes": [ order(900, "tok1", "ann@shop.test") ] } },
            "extensions": cost(950.0) })))
        .expect(1)
        .with_priority(1)
        .mount(&shop)
        .await;

    let (imp, waits) = importer(&shop.uri());
    let now = Utc::now();
    let p1 = imp.page("shop", None, since(), now).await.unwrap();
    assert_eq!(p1.total, Some(4));
    assert_eq!(p1.records, 2);
    assert!(p1.batch.more);
    assert_eq!(p1.batch.cursor.as_deref(), Some("checkouts:c1"));
    let e = &p1.batch.events[0];
    assert_eq!(e.event_id, "checkouts/import:1:2026-11-20T10:05:00Z");
    let EventKind::CheckoutStarted(snap) = &e.kind else {
        panic!("{e:?}")
    };
    // The webhook's key for a checkout without a cart token: the checkout token.
    assert_eq!(snap.key, "tok1");
    assert_eq!(snap.checkout_token.as_deref(), Some("tok1"));
    assert_eq!(snap.platform_id.as_deref(), Some("1"));
    assert_eq!(snap.total.minor, 4000);
    assert_eq!(snap.items[0].variant_id.as_deref(), Some("5"));
    let contact = snap.contact.as_ref().unwrap();
    assert_eq!(contact.email.as_deref(), Some("ann@shop.test"));
    assert_eq!(contact.external_id.as_deref(), Some("77"));

    let p2 = imp
        .page("shop", p1.batch.cursor.as_deref(), since(), now)
        .await
        .unwrap();
    assert!(p2.batch.more, "orders follow");
    assert_eq!(p2.batch.cursor.as_deref(), Some("orders:"));
    let EventKind::CheckoutStarted(done) = &p2.batch.events[0].kind else {
        panic!()
    };
    assert!(done.completed_at.is_some(), "a completed checkout converts");

    let p3 = imp
        .page("shop", p2.batch.cursor.as_deref(), since(), now)
        .await
        .unwrap();
    assert!(!p3.batch.more, "the import is complete");
    let EventKind::OrderPlaced(o) = &p3.batch.events[0].kind else {
        panic!()
    };
    assert_eq!(o.order_id, "900");
    assert_eq!(o.checkout_token.as_deref(), Some("tok1"));
    assert_eq!(
        p3.batch.events[0].event_id,
        "orders/import:900:2026-11-21T09:01:00Z"
    );
    assert!(waits.lock().unwrap().is_empty(), "the bucket never ran low");
}

#[tokio::test]
async fn throttled_waits_for_the_bucket_then_succeeds() {
    let shop = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [ { "message": "Throttled", "extensions": { "code": "THROTTLED" } } ],
            "extensions": cost(2.0) })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&shop)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(200).set_body_json(checkouts_page(
            vec![checkout(1, "tok1", "ann@shop.test", None)],
            None,
            false,
        )))
        .mount(&shop)
        .await;
    let (imp, waits) = importer(&shop.uri());
    let page = imp.page("shop", None, since(), Utc::now()).await.unwrap();
    assert_eq!(page.batch.events.len(), 1);
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1, "{waits:?}");
    // (502 requested − 2 available) / 100 a second = 5 s, less the moment since the answer.
    assert!(
        waits[0] <= Duration::from_secs(5) && waits[0] > Duration::from_millis(4900),
        "{waits:?}"
    );
    assert_eq!(shop.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_refused_token_is_permanent_and_a_server_error_retryable() {
    let shop = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(401).set_body_string("[API] Invalid API key"))
        .mount(&shop)
        .await;
    let (imp, _) = importer(&shop.uri());
    match imp.page("shop", None, since(), Utc::now()).await {
        Err(PollError::Permanent { reason }) => {
            assert!(reason.contains("admin_access_token"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let busy = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "7"))
        .mount(&busy)
        .await;
    let (imp, _) = importer(&busy.uri());
    match imp.page("shop", None, since(), Utc::now()).await {
        Err(PollError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("{other:?}"),
    }
    let denied = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [ { "message": "Access denied for abandonedCheckouts field.",
                          "extensions": { "code": "ACCESS_DENIED" } } ] })))
        .mount(&denied)
        .await;
    let (imp, _) = importer(&denied.uri());
    match imp.page("shop", None, since(), Utc::now()).await {
        Err(PollError::Permanent { reason }) => {
            assert!(reason.contains("ACCESS_DENIED"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_import_needs_a_token_and_a_shop() {
    let s = ShopifySettings::new(SecretList::new(vec![Secret::new("whsec")]));
    let err = ShopifyImporter::new(s).unwrap_err();
    assert!(err.contains("admin_access_token"), "{err}");
}
