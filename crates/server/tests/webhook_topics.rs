//! Metric labels from what callers send: a webhook's topic header is not signed, so made-up
//! topics must not each become a `cartback_webhooks_total` series.
#![allow(clippy::unwrap_used)]

use cartback_testkit::sign::shopify_request;
use cartback_testkit::spawn_hub;

const SHOP_SECRET: &str = "topics-test-shop-secret";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"

[store]
url = "sqlite://hub.db"

[source.topics]
type = "shopify"
secret = "${SHOP_SECRET}"
"#;

#[tokio::test]
async fn random_topic_headers_make_one_other_series() {
    let hub = spawn_hub(CONFIG, &[("SHOP_SECRET", SHOP_SECRET)])
        .await
        .unwrap();
    // The topic header is not signed: a captured delivery replayed with 100 made-up topics.
    let body = br#"{"id": 1}"#;
    for i in 0..100 {
        let resp = shopify_request(
            &hub.client,
            &hub.url("/webhooks/topics"),
            SHOP_SECRET,
            &format!("evil/{i:03}-{:x}", i * 7919),
            &format!("delivery-{i}"),
            body,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // A topic the source uses keeps its own label.
    shopify_request(
        &hub.client,
        &hub.url("/webhooks/topics"),
        SHOP_SECRET,
        "checkouts/create",
        "delivery-known",
        body,
    )
    .send()
    .await
    .unwrap();
    let metrics = hub.metrics().await.unwrap();
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("cartback_webhooks_total{") && l.contains("source=\"topics\""))
        .collect();
    let other: Vec<&&str> = series
        .iter()
        .filter(|l| l.contains("topic=\"other\""))
        .collect();
    assert_eq!(other.len(), 1, "{series:#?}");
    assert!(
        other[0].contains("outcome=\"ignored\"") && other[0].ends_with(" 100"),
        "{other:?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains("topic=\"checkouts/create\"")),
        "{series:#?}"
    );
    assert_eq!(series.len(), 2, "{series:#?}");
}
