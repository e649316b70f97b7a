//! Provider faults: one provider hangs, another answers 500 for a while; the third channel is
//! unaffected, nothing piles up in memory (the queue is the database), and a provider that comes
//! back gets its messages.
#![allow(clippy::unwrap_used)]

use cartback_e2e::payloads::shopify_checkout;
use cartback_testkit::sign::shopify_request;
use cartback_testkit::{spawn_hub, Hub};
use serde_json::Value;
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "faults-secret";
const SID: &str = "AC0123456789abcdef0123456789abcdef";

fn channel(id: &str, url: &str) -> String {
    format!(
        "[channel.{id}]\ntype = \"twilio\"\naccount_sid = \"{SID}\"\nauth_token = \"t\"\nfrom = \"+15005550006\"\nbase_url = \"{url}\"\n\
         status_callback = false\ntimeout = \"1s\"\nlease = \"12s\"\nmax_attempts = 10\n\n\
         [flow.f_{id}]\ntrigger = \"cart_abandoned\"\nabandon_after = \"1s\"\n  [[flow.f_{id}.step]]\n  send = {{ channel = \"{id}\", template = \"t\" }}\n\n"
    )
}

async fn twilio(status: u16, delay: Duration) -> MockServer {
    let m = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_json(serde_json::json!({ "sid": "SM1", "code": 20500, "message": "x" }))
                .set_delay(delay),
        )
        .mount(&m)
        .await;
    m
}

async fn messages(hub: &Hub, q: &str) -> Vec<Value> {
    let v: Value = hub
        .admin_get(&format!("/api/v1/messages{q}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_hanging_or_failing_provider_does_not_stall_the_others() {
    let healthy = twilio(201, Duration::ZERO).await;
    let hanging = twilio(201, Duration::from_secs(30)).await;
    // Answers 500 three times, then recovers.
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("down"))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({ "sid": "SM2" })))
        .with_priority(2)
        .mount(&flaky)
        .await;
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"${{CARTBACK_ADMIN_TOKEN}}\"\n[store]\nurl = \"sqlite://hub.db\"\n\
         [source.shop]\ntype = \"shopify\"\nsecret = \"{SECRET}\"\n[template.t]\ntext = \"hi\"\n{}{}{}",
        channel("healthy", &healthy.uri()),
        channel("hanging", &hanging.uri()),
        channel("flaky", &flaky.uri())
    );
    let hub = spawn_hub(&config, &[]).await.unwrap();
    for i in 0..3 {
        let now = chrono::Utc::now().to_rfc3339();
        let mut c = shopify_checkout(&format!("f{i}"), &format!("f{i}@example.com"), &now, 1);
        c["phone"] = Value::String(format!("+1415555010{i}"));
        c["customer"]["sms_marketing_consent"] = serde_json::json!({ "state": "subscribed" });
        let body = serde_json::to_vec(&c).unwrap();
        shopify_request(
            &hub.client,
            &hub.url("/webhooks/shop"),
            SECRET,
            "checkouts/create",
            &format!("f{i}"),
            &body,
        )
        .send()
        .await
        .unwrap();
    }
    // The healthy channel delivers all three at once, while the other two struggle.
    let started = Instant::now();
    loop {
        if healthy.received_requests().await.unwrap().len() == 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the healthy channel was stalled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The hanging provider's sends end as `unknown` after the timeout (never re-sent).
    let deadline = Instant::now() + Duration::from_secs(20);
    while messages(&hub, "?channel=hanging&status=unknown")
        .await
        .len()
        < 3
    {
        assert!(Instant::now() < deadline, "hanging sends did not time out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The flaky provider recovers: retried with backoff until sent.
    let deadline = Instant::now() + Duration::from_secs(40);
    while messages(&hub, "?channel=flaky&status=sent").await.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the flaky channel never recovered: {:?}",
            messages(&hub, "?channel=flaky").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let flaky_msgs = messages(&hub, "?channel=flaky").await;
    assert!(
        flaky_msgs
            .iter()
            .any(|m| m["attempts"].as_u64().unwrap() > 1),
        "no retry recorded"
    );
    assert_eq!(
        hanging.received_requests().await.unwrap().len(),
        3,
        "an unknown send was repeated"
    );
    // Unknown messages can be re-driven by the operator.
    let r: Value = hub
        .client
        .post(hub.url("/api/v1/messages/redrive"))
        .bearer_auth(&hub.admin_token)
        .json(&serde_json::json!({ "status": "unknown" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["requeued"], 3);
}
