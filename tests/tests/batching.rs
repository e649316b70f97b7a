//! The outbox and a sink that takes several messages per request (`Sink::batch_limit`, as
//! HubSpot's contact batch upsert does): due messages go in requests of that size, each message
//! keeps its own answer (one refused in a batch fails alone), and nothing goes twice.
#![allow(clippy::unwrap_used)]

use cartback_core::{DeliveryError, ManualClock};
use cartback_e2e::rig::*;
use cartback_store::{MessageFilter, OutboxStatus};
use cartback_testkit::RecordingSink;

const ONE_STEP: &str = r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  send = { channel = "email", template = "cart_email" }
"#;

async fn statuses(r: &Rig) -> Vec<OutboxStatus> {
    r.store
        .messages(&MessageFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|m| m.status)
        .collect()
}

#[tokio::test]
async fn due_messages_go_in_requests_of_the_sinks_size_each_with_its_own_answer() {
    let email = RecordingSink::batching(2);
    let mut r = rig_with(
        tempfile::tempdir().unwrap(),
        ONE_STEP,
        ManualClock::new(t0()),
        email.clone(),
    )
    .await;
    for i in 0..5 {
        r.cart(&format!("k{i}"), &format!("c{i}@test.io"), 1).await;
    }
    r.advance(H + 60).await;
    assert_eq!(
        email.calls(),
        [2, 2, 1],
        "five due messages, two per request"
    );
    assert_eq!(email.sent().len(), 5);
    assert!(statuses(&r).await.iter().all(|s| *s == OutboxStatus::Sent));
    // Nothing goes twice.
    r.advance(H).await;
    assert_eq!(email.calls(), [2, 2, 1]);
    assert_eq!(email.sent().len(), 5);
}

#[tokio::test]
async fn a_message_refused_inside_a_batch_fails_alone() {
    let email = RecordingSink::batching(10);
    let mut r = rig_with(
        tempfile::tempdir().unwrap(),
        ONE_STEP,
        ManualClock::new(t0()),
        email.clone(),
    )
    .await;
    for i in 0..3 {
        r.cart(&format!("k{i}"), &format!("c{i}@test.io"), 1).await;
    }
    email.fail_next(vec![DeliveryError::Permanent {
        reason: "refused".into(),
    }]);
    r.advance(H + 60).await;
    assert_eq!(email.calls(), [3], "one request for the three");
    let mut s = statuses(&r).await;
    s.sort_by_key(|s| s.as_str());
    assert_eq!(
        s,
        [OutboxStatus::Failed, OutboxStatus::Sent, OutboxStatus::Sent]
    );
}
