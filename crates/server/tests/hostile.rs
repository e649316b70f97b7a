//! Hostile input at the HTTP edge: deeply nested JSON, huge arrays, invalid UTF-8, wrong content
//! types, a body over the limit, and slow-loris clients — each gets a clean answer and none blocks
//! other requests.
#![allow(clippy::unwrap_used)]

use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use std::time::{Duration, Instant};

const SECRET: &str = "hostile-secret";

const CONFIG: &str = r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"
max_body = "256KiB"

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "${SHOPIFY_SECRET}"
"#;

async fn hub() -> Hub {
    spawn_hub(CONFIG, &[("SHOPIFY_SECRET", SECRET)])
        .await
        .unwrap()
}

async fn signed(hub: &Hub, id: &str, body: &[u8]) -> (u16, String) {
    let r = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        id,
        body,
    )
    .send()
    .await
    .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_clean_answers() {
    let hub = hub().await;
    // Deeply nested JSON: a clear 400, no stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, reason) = signed(&hub, "h1", deep.as_bytes()).await;
    assert_eq!(status, 400, "{reason}");
    assert!(
        reason.contains("recursion") || reason.contains("does not fit"),
        "{reason}"
    );
    // The same depth inside a field the hub does not read is skipped without recursion (no stack
    // overflow); the body is then judged on its fields: here a 400 for the missing currency.
    let deep = format!(
        r#"{{"token":"t","updated_at":"2026-11-20T10:00:00Z","total_price":"1","unread":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (status, reason) = signed(&hub, "h1b", deep.as_bytes()).await;
    assert_eq!(status, 400, "{reason}");
    assert!(reason.contains("currency is missing"), "{reason}");
    // A huge array of line items within the body limit: answered (400: it does not fit a checkout), quickly.
    let items: Vec<String> = (0..20_000).map(|_| "{}".to_string()).collect();
    let huge = format!(
        r#"{{"token":"t","updated_at":"2026-11-20T10:00:00Z","total_price":"1","currency":"USD","line_items":[{}]}}"#,
        items.join(",")
    );
    assert!(huge.len() < 256 * 1024);
    let (status, _) = signed(&hub, "h2", huge.as_bytes()).await;
    assert_eq!(status, 400);
    // Invalid UTF-8.
    let (status, reason) = signed(&hub, "h3", &[0xff, 0xfe, b'{', 0x80, b'}']).await;
    assert_eq!(status, 400, "{reason}");
    // A wrong content type does not matter: the raw bytes are what is signed and parsed.
    let body = br#"{"token":"ct","updated_at":"2026-11-20T10:00:00Z","total_price":"1.00","currency":"USD","email":"ct@example.com","line_items":[]}"#;
    let r = shopify_request(
        &hub.client,
        &hub.url("/webhooks/shop"),
        SECRET,
        "checkouts/create",
        "h4",
        body,
    )
    .header("content-type", "text/plain")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    // Over the limit: 413, even when the sender lies about the length by streaming.
    let big = vec![b'a'; 300 * 1024];
    let (status, _) = signed(&hub, "h5", &big).await;
    assert_eq!(status, 413);
    // Admin API: garbage query strings are 400s, not 500s.
    assert_eq!(
        hub.admin_get("/api/v1/carts?limit=-1")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        hub.admin_get("/api/v1/carts?limit=99999999999999999999")
            .await
            .unwrap()
            .status(),
        400
    );
    let r = hub
        .client
        .post(hub.url("/api/v1/flows/x/test"))
        .bearer_auth(&hub.admin_token)
        .body(vec![0xffu8; 10])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // Still healthy.
    assert_eq!(
        hub.client
            .get(hub.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_clients_do_not_block_others() {
    use tokio::io::AsyncWriteExt;
    let hub = hub().await;
    let addr = hub.url.trim_start_matches("http://").to_string();
    // 100 connections that send half a request and then stall.
    let mut idle = Vec::new();
    for i in 0..100 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let partial = if i % 2 == 0 {
            format!("POST /webhooks/shop HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 100000\r\n\r\n{{\"tok")
        } else {
            format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\nx-slow: ")
        };
        s.write_all(partial.as_bytes()).await.unwrap();
        idle.push(s);
    }
    // Everyone else is served promptly.
    let started = Instant::now();
    for i in 0..20 {
        let body = format!(
            r#"{{"token":"sl{i}","updated_at":"2026-11-20T10:00:00Z","total_price":"1.00","currency":"USD","email":"s{i}@example.com","line_items":[]}}"#
        );
        let (status, _) = signed(&hub, &format!("sl{i}"), body.as_bytes()).await;
        assert_eq!(status, 200);
        assert_eq!(
            hub.client
                .get(hub.url("/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "served too slowly beside stalled clients"
    );
    drop(idle);
}
