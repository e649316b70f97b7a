//! The REST poller against a wiremock WooCommerce.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, EventKind, PollError, Poller, Source};
use cartback_kit::Secret;
use cartback_woocommerce::{WooPoller, WooSettings, WooSource};
use common::{fixture, now, request};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{basic_auth, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn poller(store: &str) -> WooPoller {
    WooPoller::new(WooSettings {
        store_url: Some(format!("{store}/")),
        consumer_key: Some(Secret::new("ck_test")),
        consumer_secret: Some(Secret::new("cs_test")),
        ..WooSettings::default()
    })
}

/// The pending fixture order with another id, status and modification time.
fn order(id: u64, status: &str, modified: &str) -> Value {
    let mut o: Value = serde_json::from_slice(&fixture("order_pending.json")).unwrap();
    o["id"] = json!(id);
    o["number"] = json!(id.to_string());
    o["status"] = json!(status);
    o["date_modified_gmt"] = json!(modified);
    o
}

fn orders_endpoint() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/orders"))
        .and(basic_auth("ck_test", "cs_test"))
        .and(query_param("dates_are_gmt", "true"))
        .and(query_param("orderby", "modified"))
        .and(query_param("order", "asc"))
        .and(query_param("per_page", "100"))
}

#[tokio::test]
async fn two_pages_advance_the_cursor() {
    let server = MockServer::start().await;
    // First poll: no cursor, so 24 h before now (minus the one-second overlap); a full page.
    let first: Vec<Value> = (0..100)
        .map(|i| {
            order(
                1000 + i,
                "pending",
                &format!("2026-11-20T10:{:02}:{:02}", i / 60, i % 60),
            )
        })
        .collect();
    orders_endpoint()
        .and(query_param("modified_after", "2026-11-19T15:59:59"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&first))
        .expect(1)
        .mount(&server)
        .await;
    // Second poll: from the last modification seen; a short page.
    let second = vec![
        order(1099, "pending", "2026-11-20T10:01:39"),
        order(2000, "cancelled", "2026-11-20T11:00:00"),
        order(727, "processing", "2026-11-20T11:30:00"),
    ];
    orders_endpoint()
        .and(query_param("modified_after", "2026-11-20T10:01:38"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&second))
        .expect(1)
        .mount(&server)
        .await;

    let p = poller(&server.uri());
    assert_eq!(p.kind(), "woocommerce");
    assert_eq!(p.interval(), Duration::from_secs(300));
    let batch = p.poll("woo", None, now()).await.unwrap();
    assert_eq!(batch.events.len(), 100);
    assert!(batch.more, "a full page means more");
    assert_eq!(batch.cursor.as_deref(), Some("2026-11-20T10:01:39"));
    assert_eq!(batch.events[0].event_id, "order:1000:2026-11-20T10:00:00");
    assert_eq!(batch.events[0].topic, "order.polled");
    assert_eq!(batch.events[0].source_id, "woo");

    let batch = p.poll("woo", batch.cursor.as_deref(), now()).await.unwrap();
    assert!(!batch.more);
    assert_eq!(batch.cursor.as_deref(), Some("2026-11-20T11:30:00"));
    assert_eq!(batch.events.len(), 2, "the cancelled order is skipped");
    assert_eq!(
        batch.events[0].event_id, "order:1099:2026-11-20T10:01:39",
        "the boundary order is read again with the same id (deduplicated by the store)"
    );
    assert!(matches!(batch.events[1].kind, EventKind::OrderPlaced(_)));
}

#[tokio::test]
async fn polled_and_webhook_orders_share_event_ids() {
    let server = MockServer::start().await;
    let body: Value = serde_json::from_slice(&fixture("order_pending.json")).unwrap();
    orders_endpoint()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([body])))
        .mount(&server)
        .await;
    let polled = poller(&server.uri())
        .poll("woo", Some("2026-11-20T15:00:00"), now())
        .await
        .unwrap();
    let src = WooSource::new(WooSettings {
        store_url: Some(server.uri()),
        ..common::settings()
    });
    let req = request("order.created", &fixture("order_pending.json"), &[]);
    let hooked = src.translate(verify(&src, &req).unwrap()).unwrap();
    assert_eq!(polled.events[0].event_id, hooked.events[0].event_id);
    assert_eq!(polled.events[0].kind, hooked.events[0].kind);
    assert_eq!(polled.cursor.as_deref(), Some("2026-11-20T15:14:02"));
}

#[tokio::test]
async fn a_full_page_within_one_second_moves_to_the_next_page() {
    let server = MockServer::start().await;
    let same: Vec<Value> = (0..100)
        .map(|i| order(1 + i, "pending", "2026-11-20T12:00:00"))
        .collect();
    orders_endpoint()
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&same))
        .mount(&server)
        .await;
    orders_endpoint()
        .and(query_param("modified_after", "2026-11-20T11:59:59"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let p = poller(&server.uri());
    let batch = p
        .poll("woo", Some("2026-11-20T12:00:00"), now())
        .await
        .unwrap();
    assert!(batch.more);
    assert_eq!(batch.cursor.as_deref(), Some("2026-11-20T12:00:00#2"));
    let batch = p.poll("woo", batch.cursor.as_deref(), now()).await.unwrap();
    assert!(!batch.more);
    assert!(batch.events.is_empty());
    assert_eq!(batch.cursor.as_deref(), Some("2026-11-20T12:00:00"));
}

#[tokio::test]
async fn statuses_are_classified() {
    let server = MockServer::start().await;
    let p = poller(&server.uri());
    for (status, permanent) in [
        (401, true),
        (403, true),
        (404, true),
        (500, false),
        (503, false),
    ] {
        server.reset().await;
        orders_endpoint()
            .respond_with(ResponseTemplate::new(status).set_body_string(
                r#"{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot list resources."}"#,
            ))
            .mount(&server)
            .await;
        let err = p.poll("woo", None, now()).await.unwrap_err();
        match (&err, permanent) {
            (PollError::Permanent { reason }, true) => {
                assert!(reason.contains(&status.to_string()), "{reason}")
            }
            (PollError::Retryable { retry_after, .. }, false) => assert_eq!(*retry_after, None),
            _ => panic!("{status}: {err:?}"),
        }
    }
    server.reset().await;
    orders_endpoint()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&server)
        .await;
    assert_eq!(
        p.poll("woo", None, now()).await.unwrap_err(),
        PollError::Retryable {
            reason: "HTTP 429: ".into(),
            retry_after: Some(Duration::from_secs(7))
        }
    );
    server.reset().await;
    orders_endpoint()
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    assert!(matches!(
        p.poll("woo", None, now()).await,
        Err(PollError::Permanent { .. })
    ));
}

#[tokio::test]
async fn network_errors_are_retryable_and_settings_checked() {
    // A port nothing listens on (wiremock keeps dropped servers alive in a pool).
    let uri = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    assert!(matches!(
        poller(&uri).poll("woo", None, now()).await,
        Err(PollError::Retryable { .. })
    ));
    let no_keys = WooPoller::new(WooSettings {
        store_url: Some(uri.clone()),
        ..WooSettings::default()
    });
    assert!(matches!(
        no_keys.poll("woo", None, now()).await,
        Err(PollError::Permanent { .. })
    ));
    assert!(matches!(
        poller(&uri).poll("woo", Some("garbage"), now()).await,
        Err(PollError::Permanent { .. })
    ));
}
