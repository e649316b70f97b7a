//! The REST poller against a wiremock Magento.
#![allow(clippy::unwrap_used)]

use cartback_core::{Event, EventKind, PollError, Poller};
use cartback_kit::Secret;
use cartback_magento::{MagentoPoller, MagentoSettings};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{header, method, path, path_regex, query_param};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const TOKEN: &str = "xk2m9q4t7v1b8n3c5z6w0p2r4y6u8i1o";
const FIRST_SINCE: &str = "2026-11-19 16:00:00";
const CRITERIA: &str = "searchCriteria[filter_groups][0][filters][0]";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).unwrap()
}

fn fixture(name: &str) -> Value {
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn settings(uri: &str) -> MagentoSettings {
    MagentoSettings {
        product_url_template: Some("https://shop.example/{sku}.html".into()),
        recovery_url: Some("https://shop.example/checkout/cart/".into()),
        ..MagentoSettings::new(format!("{uri}/"), Secret::new(TOKEN))
    }
}

fn poller(uri: &str) -> MagentoPoller {
    let s = settings(uri);
    assert_eq!(s.validate(), Ok(()));
    MagentoPoller::new(s)
}

fn paged(uri: &str, page_size: u32) -> MagentoPoller {
    MagentoPoller::new(MagentoSettings {
        page_size: Some(page_size),
        ..settings(uri)
    })
}

fn result(items: Vec<Value>, total: usize) -> Value {
    json!({"items": items, "search_criteria": {}, "total_count": total})
}

fn empty() -> Value {
    result(Vec::new(), 0)
}

/// The fixture quote `id` with another update time.
fn quote(id: u64, updated_at: &str) -> Value {
    let all = fixture("carts_search.json");
    let mut q = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == json!(id))
        .unwrap()
        .clone();
    q["updated_at"] = json!(updated_at);
    q
}

/// A search with the bearer token, `field gteq since`, sorted ascending, paged.
fn search(resource: &str, field: &str, since: &str, page: u32, size: u32) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/rest/V1/{resource}")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param(format!("{CRITERIA}[field]"), field))
        .and(query_param(format!("{CRITERIA}[value]"), since))
        .and(query_param(format!("{CRITERIA}[condition_type]"), "gteq"))
        .and(query_param("searchCriteria[sortOrders][0][field]", field))
        .and(query_param(
            "searchCriteria[sortOrders][0][direction]",
            "ASC",
        ))
        .and(query_param("searchCriteria[pageSize]", size.to_string()))
        .and(query_param("searchCriteria[currentPage]", page.to_string()))
}

fn carts(since: &str, page: u32, size: u32) -> MockBuilder {
    search("carts/search", "updated_at", since, page, size)
        .and(query_param(
            "searchCriteria[filter_groups][1][filters][0][field]",
            "is_active",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][1][filters][0][value]",
            "1",
        ))
}

fn orders(since: &str, page: u32, size: u32) -> MockBuilder {
    search("orders", "created_at", since, page, size)
}

async fn mount_totals(server: &MockServer) {
    for id in [1201, 1202] {
        Mock::given(method("GET"))
            .and(path(format!("/rest/V1/carts/{id}/totals")))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(fixture(&format!("totals_{id}.json"))),
            )
            .mount(server)
            .await;
    }
}

fn cart(e: &Event) -> &cartback_core::CartSnapshot {
    match &e.kind {
        EventKind::CheckoutStarted(c) => c,
        other => panic!("{other:?}"),
    }
}

/// Compares `events` with `tests/fixtures/<name>` (`UPDATE_GOLDEN=1` rewrites it).
fn golden(name: &str, events: &[Event]) {
    let actual = serde_json::to_value(events).unwrap();
    let file = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&actual).unwrap();
        std::fs::write(&file, text + "\n").unwrap();
    }
    assert_eq!(actual, fixture(name), "{name} differs");
}

#[tokio::test]
async fn guest_and_customer_quotes_become_checkouts() {
    let server = MockServer::start().await;
    carts(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("carts_search.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_totals(&server).await;
    // The quote without an email and the inactive one never cost a totals request.
    Mock::given(path_regex(r"^/rest/V1/carts/\d+/totals$"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(10)
        .expect(0)
        .mount(&server)
        .await;
    orders(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(200).set_body_json(empty()))
        .expect(1)
        .mount(&server)
        .await;

    let p = poller(&server.uri());
    assert_eq!(p.kind(), "magento");
    assert_eq!(p.interval(), Duration::from_secs(120));
    let batch = p.poll("mage", None, now()).await.unwrap();
    assert!(!batch.more);
    assert_eq!(
        batch.cursor.as_deref(),
        Some("q=2026-11-20 14:50:12;qp=1;o=2026-11-19 16:00:00;op=1"),
        "quotes move to the last update seen (the skipped ones count); orders saw nothing"
    );
    assert_eq!(
        batch.events.len(),
        2,
        "no-email and inactive quotes are skipped"
    );

    let guest = &batch.events[0];
    assert_eq!(guest.event_id, "quote:1201:2026-11-20 14:05:09");
    assert_eq!(guest.topic, "quote.polled");
    assert_eq!(guest.source_id, "mage");
    let c = cart(guest);
    assert_eq!(c.key, "quote:1201");
    assert_eq!(c.checkout_token.as_deref(), Some("1201"));
    assert_eq!(c.cart_token, None);
    assert_eq!(c.currency.code(), "USD");
    assert_eq!(
        c.total.minor, 10015,
        "grand_total 100.14999999999999 from /totals"
    );
    assert_eq!(c.subtotal.map(|m| m.minor), Some(8790));
    assert_eq!(c.items.len(), 2);
    assert_eq!(
        (
            c.items[0].quantity,
            c.items[0].unit_price.minor,
            c.items[0].line_price.minor
        ),
        (2, 3400, 6800)
    );
    assert_eq!(
        (c.items[1].unit_price.minor, c.items[1].line_price.minor),
        (1990, 1990),
        "price 19.900000000000002 rounds on its text"
    );
    assert_eq!(
        c.items[0].url.as_deref(),
        Some("https://shop.example/24-MB01.html")
    );
    let contact = c.contact.as_ref().unwrap();
    assert_eq!(contact.email.as_deref(), Some("ann.lee@example.com"));
    assert_eq!(contact.phone.as_deref(), Some("+14158675309"));
    assert_eq!(contact.external_id, None);
    assert_eq!(
        c.recovery_url.as_deref(),
        Some("https://shop.example/checkout/cart/")
    );

    let customer = cart(&batch.events[1]);
    assert_eq!(customer.key, "quote:1202");
    assert_eq!(customer.currency.code(), "EUR");
    assert_eq!(customer.total.minor, 3840, "38.400000000000006 → 38.40");
    let contact = customer.contact.as_ref().unwrap();
    assert_eq!(contact.email.as_deref(), Some("Marie.Dubois@example.fr"));
    assert_eq!(contact.phone.as_deref(), Some("+33612345678"));
    assert_eq!(contact.external_id.as_deref(), Some("57"));

    golden("carts_search.expected.json", &batch.events);
}

#[tokio::test]
async fn orders_become_order_placed_with_the_quote_id() {
    let server = MockServer::start().await;
    carts(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(200).set_body_json(empty()))
        .expect(1)
        .mount(&server)
        .await;
    orders(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("orders_search.json")))
        .expect(1)
        .mount(&server)
        .await;
    let batch = poller(&server.uri())
        .poll("mage", None, now())
        .await
        .unwrap();
    assert!(!batch.more);
    assert_eq!(
        batch.cursor.as_deref(),
        Some("q=2026-11-19 16:00:00;qp=1;o=2026-11-20 14:20:00;op=1")
    );
    assert_eq!(batch.events.len(), 1, "the canceled order is skipped");
    let e = &batch.events[0];
    assert_eq!(e.event_id, "order:881");
    assert_eq!(e.topic, "order.polled");
    let EventKind::OrderPlaced(o) = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(o.order_id, "000000881");
    assert_eq!(o.checkout_token.as_deref(), Some("1190"));
    assert_eq!((o.total.minor, o.total.currency.code()), (5700, "GBP"));
    assert_eq!(
        o.placed_at,
        Utc.with_ymd_and_hms(2026, 11, 20, 14, 12, 44).unwrap()
    );
    let contact = o.contact.as_ref().unwrap();
    assert_eq!(contact.email.as_deref(), Some("sam.reed@example.co.uk"));
    assert_eq!(contact.phone.as_deref(), Some("+442079460958"));
    assert_eq!(o.items.len(), 1, "the configurable's child line is folded");
    assert_eq!(o.items[0].product_id.as_deref(), Some("1812"));
    golden("orders_search.expected.json", &batch.events);
}

#[tokio::test]
async fn a_full_page_within_one_second_asks_for_the_next_page() {
    let server = MockServer::start().await;
    let at = "2026-11-20 15:00:00";
    let cursor = format!("q={at};qp=1;o={at};op=1");
    carts(at, 1, 2)
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(result(vec![quote(1201, at), quote(1202, at)], 5)),
        )
        .expect(1)
        .mount(&server)
        .await;
    carts(at, 2, 2)
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(result(vec![quote(1203, at), quote(1204, at)], 5)),
        )
        .expect(1)
        .mount(&server)
        .await;
    carts(at, 3, 2)
        .respond_with(ResponseTemplate::new(200).set_body_json(result(vec![quote(1201, at)], 5)))
        .expect(1)
        .mount(&server)
        .await;
    orders(at, 1, 2)
        .respond_with(ResponseTemplate::new(200).set_body_json(empty()))
        .expect(3)
        .mount(&server)
        .await;
    mount_totals(&server).await;

    let p = paged(&server.uri(), 2);
    let batch = p.poll("mage", Some(&cursor), now()).await.unwrap();
    assert!(batch.more, "a full page means more");
    assert_eq!(batch.events.len(), 2);
    assert_eq!(
        batch.cursor.as_deref(),
        Some("q=2026-11-20 15:00:00;qp=2;o=2026-11-20 15:00:00;op=1"),
        "same time, next page"
    );
    let batch = p
        .poll("mage", batch.cursor.as_deref(), now())
        .await
        .unwrap();
    assert!(batch.more);
    assert!(batch.events.is_empty(), "no email / inactive");
    assert_eq!(
        batch.cursor.as_deref(),
        Some("q=2026-11-20 15:00:00;qp=3;o=2026-11-20 15:00:00;op=1")
    );
    let batch = p
        .poll("mage", batch.cursor.as_deref(), now())
        .await
        .unwrap();
    assert!(!batch.more, "a short page ends the run");
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.cursor.as_deref(), Some(cursor.as_str()));
}

#[tokio::test]
async fn a_page_past_the_end_is_empty() {
    // Magento clamps currentPage: page 2 of a 2-record result answers page 1 again.
    let server = MockServer::start().await;
    let at = "2026-11-20 15:00:00";
    carts(at, 2, 2)
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(result(vec![quote(1201, at), quote(1202, at)], 2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    orders(at, 1, 2)
        .respond_with(ResponseTemplate::new(200).set_body_json(empty()))
        .mount(&server)
        .await;
    let batch = paged(&server.uri(), 2)
        .poll("mage", Some(&format!("q={at};qp=2;o={at};op=1")), now())
        .await
        .unwrap();
    assert!(!batch.more);
    assert!(batch.events.is_empty());
    assert_eq!(
        batch.cursor.as_deref(),
        Some("q=2026-11-20 15:00:00;qp=1;o=2026-11-20 15:00:00;op=1")
    );
}

#[tokio::test]
async fn the_cursor_round_trips_across_a_restart() {
    let server = MockServer::start().await;
    // A full page spanning time: the cursor moves to its last update (page 1), so records that
    // change between polls can never shift past an offset unread.
    carts(FIRST_SINCE, 1, 2)
        .respond_with(ResponseTemplate::new(200).set_body_json(result(
            vec![
                quote(1201, "2026-11-20 14:05:09"),
                quote(1202, "2026-11-20 14:30:00"),
            ],
            4,
        )))
        .expect(1)
        .mount(&server)
        .await;
    orders(FIRST_SINCE, 1, 2)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("orders_search.json")))
        .expect(1)
        .mount(&server)
        .await;
    // After the restart: from the last update seen, not from the start.
    carts("2026-11-20 14:30:00", 1, 2)
        .respond_with(ResponseTemplate::new(200).set_body_json(result(
            vec![
                quote(1202, "2026-11-20 14:30:00"),
                quote(1201, "2026-11-20 15:10:00"),
            ],
            2,
        )))
        .expect(1)
        .mount(&server)
        .await;
    orders("2026-11-20 14:20:00", 1, 2)
        .respond_with(ResponseTemplate::new(200).set_body_json(empty()))
        .expect(1)
        .mount(&server)
        .await;
    mount_totals(&server).await;

    let first = paged(&server.uri(), 2)
        .poll("mage", None, now())
        .await
        .unwrap();
    assert!(first.more, "the quote page was full");
    assert_eq!(
        first.cursor.as_deref(),
        Some("q=2026-11-20 14:30:00;qp=1;o=2026-11-20 14:20:00;op=1")
    );
    // A new poller: only the stored cursor survives.
    let second = paged(&server.uri(), 2)
        .poll("mage", first.cursor.as_deref(), now())
        .await
        .unwrap();
    assert!(!second.more);
    assert_eq!(
        second.cursor.as_deref(),
        Some("q=2026-11-20 15:10:00;qp=1;o=2026-11-20 14:20:00;op=1")
    );
    assert_eq!(
        second.events[0].event_id, first.events[1].event_id,
        "the boundary quote is read again with the same id (deduplicated by the store)"
    );
    assert_eq!(second.events[1].event_id, "quote:1201:2026-11-20 15:10:00");
}

#[tokio::test]
async fn statuses_are_classified() {
    let server = MockServer::start().await;
    let p = poller(&server.uri());
    let cases = [
        (
            401,
            json!({"message": "The consumer isn't authorized to access %resources.",
                   "parameters": {"resources": "Magento_Cart::manage"}}),
            "HTTP 401: The consumer isn't authorized to access Magento_Cart::manage.",
        ),
        (403, json!({"message": "Forbidden"}), "HTTP 403: Forbidden"),
        (
            404,
            json!({"message": "Request does not match any route."}),
            "HTTP 404: Request does not match any route.",
        ),
        (
            400,
            json!({"message": "\"%1\" is not a valid field for %2.",
                   "parameters": ["updatedat", "searchCriteria"]}),
            "HTTP 400: \"updatedat\" is not a valid field for searchCriteria.",
        ),
    ];
    for (status, body, reason) in cases {
        server.reset().await;
        Mock::given(path("/rest/V1/carts/search"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        assert_eq!(
            p.poll("mage", None, now()).await.unwrap_err(),
            PollError::Permanent {
                reason: reason.into()
            }
        );
    }
    for status in [500, 502, 503] {
        server.reset().await;
        Mock::given(path("/rest/V1/carts/search"))
            .respond_with(ResponseTemplate::new(status).set_body_string("<html>down</html>"))
            .mount(&server)
            .await;
        assert!(
            matches!(
                p.poll("mage", None, now()).await,
                Err(PollError::Retryable {
                    retry_after: None,
                    ..
                })
            ),
            "{status}"
        );
    }
    server.reset().await;
    Mock::given(path("/rest/V1/carts/search"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "5"))
        .mount(&server)
        .await;
    assert_eq!(
        p.poll("mage", None, now()).await.unwrap_err(),
        PollError::Retryable {
            reason: "HTTP 429: ".into(),
            retry_after: Some(Duration::from_secs(5))
        }
    );
    // A rate limit on a totals request fails the whole poll (the cursor does not move).
    server.reset().await;
    carts(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("carts_search.json")))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"/totals$"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "5"))
        .mount(&server)
        .await;
    assert!(matches!(
        p.poll("mage", None, now()).await,
        Err(PollError::Retryable {
            retry_after: Some(d),
            ..
        }) if d == Duration::from_secs(5)
    ));
    // An error on the orders search after good quotes also fails the poll.
    server.reset().await;
    carts(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(200).set_body_json(empty()))
        .mount(&server)
        .await;
    orders(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "nope"})))
        .mount(&server)
        .await;
    assert!(matches!(
        p.poll("mage", None, now()).await,
        Err(PollError::Permanent { .. })
    ));
    // A 200 that is not a search result (a wrong base_url answering HTML).
    server.reset().await;
    Mock::given(path("/rest/V1/carts/search"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    assert!(matches!(
        p.poll("mage", None, now()).await,
        Err(PollError::Permanent { .. })
    ));
}

#[tokio::test]
async fn a_quote_deleted_after_the_search_is_skipped() {
    let server = MockServer::start().await;
    carts(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("carts_search.json")))
        .mount(&server)
        .await;
    Mock::given(path("/rest/V1/carts/1201/totals"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "No such entity with %fieldName = %fieldValue",
            "parameters": {"fieldName": "cartId", "fieldValue": 1201}
        })))
        .mount(&server)
        .await;
    mount_totals(&server).await;
    orders(FIRST_SINCE, 1, 100)
        .respond_with(ResponseTemplate::new(200).set_body_json(empty()))
        .mount(&server)
        .await;
    let batch = poller(&server.uri())
        .poll("mage", None, now())
        .await
        .unwrap();
    let keys: Vec<&str> = batch.events.iter().map(|e| cart(e).key.as_str()).collect();
    assert_eq!(keys, ["quote:1202"]);
}

#[tokio::test]
async fn store_codes_scope_the_rest_path() {
    let server = MockServer::start().await;
    for p in ["/rest/default/V1/carts/search", "/rest/default/V1/orders"] {
        Mock::given(path(p))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(empty()))
            .expect(1)
            .mount(&server)
            .await;
    }
    let p = MagentoPoller::new(MagentoSettings {
        store_code: Some("default".into()),
        ..settings(&server.uri())
    });
    let batch = p.poll("mage", None, now()).await.unwrap();
    assert!(batch.events.is_empty());
    assert!(!batch.more);
}

#[tokio::test]
async fn network_errors_are_retryable_and_bad_cursors_permanent() {
    // A port nothing listens on (wiremock keeps dropped servers alive in a pool).
    let uri = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    assert!(matches!(
        poller(&uri).poll("mage", None, now()).await,
        Err(PollError::Retryable { .. })
    ));
    assert!(matches!(
        poller(&uri)
            .poll("mage", Some("2026-11-20T15:04:05"), now())
            .await,
        Err(PollError::Permanent { .. })
    ));
}
