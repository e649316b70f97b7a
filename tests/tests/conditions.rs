//! Step conditions end to end through the engine and a real store, driven by a manual clock:
//! `item_count` and `cart_value` on the cart as it stands, `opened` and `delivered` on what the
//! provider (or the open pixel) reported for the run's earlier messages.
#![allow(clippy::unwrap_used)]

use cartback_core::{EventKind, MessageStatus, MessageStatusUpdate};
use cartback_e2e::rig::*;

/// Step 1 always goes; step 2 only if its condition holds (a day later).
fn flow(condition: &str) -> String {
    format!(
        r#"
[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  send = {{ channel = "email", template = "cart_email" }}
  [[flow.recover.step]]
  wait = "1d"
  if = ["{condition}"]
  send = {{ channel = "email", template = "cart_sms" }}
"#
    )
}

async fn status(r: &mut Rig, message_id: &str, s: MessageStatus) {
    r.ingest(EventKind::MessageStatus(MessageStatusUpdate {
        message_id: Some(message_id.into()),
        provider_message_id: None,
        status: s,
        url: None,
    }))
    .await;
}

/// Who got the second step: `c<i>@test.io` for each cart `k<i>`, with `qty` units of a $25 mug;
/// `before_second` runs after the first step went out.
async fn second_step_to(
    condition: &str,
    carts: &[u32],
    before_second: impl AsyncFnOnce(&mut Rig),
) -> Vec<String> {
    let mut r = rig(&flow(condition)).await;
    for (i, qty) in carts.iter().enumerate() {
        r.cart(&format!("k{i}"), &format!("c{i}@test.io"), *qty)
            .await;
    }
    r.advance(H + 60).await;
    assert_eq!(r.email.sent().len(), carts.len(), "every first step went");
    before_second(&mut r).await;
    r.advance(25 * H).await;
    let mut to: Vec<String> = r.email.sent()[carts.len()..]
        .iter()
        .map(|m| m.to.email.clone().unwrap())
        .collect();
    to.sort();
    to
}

#[tokio::test]
async fn item_count_counts_units_in_the_cart() {
    let to = second_step_to("item_count >= 3", &[1, 3, 5], async |_| {}).await;
    assert_eq!(to, ["c1@test.io", "c2@test.io"]);
}

#[tokio::test]
async fn cart_value_compares_in_the_carts_currency() {
    // $25, $75 and $125 carts.
    let to = second_step_to("cart_value >= 75", &[1, 3, 5], async |_| {}).await;
    assert_eq!(to, ["c1@test.io", "c2@test.io"]);
}

#[tokio::test]
async fn opened_and_delivered_read_what_the_provider_reported() {
    let report = |s: MessageStatus, who: usize| {
        async move |r: &mut Rig| {
            let first = r
                .email
                .sent()
                .into_iter()
                .find(|m| m.to.email.as_deref() == Some(format!("c{who}@test.io").as_str()))
                .unwrap();
            status(r, &first.id, s).await;
        }
    };
    let to = second_step_to("opened", &[1, 1, 1], report(MessageStatus::Opened, 1)).await;
    assert_eq!(to, ["c1@test.io"]);
    let to = second_step_to("delivered", &[1, 1], report(MessageStatus::Delivered, 0)).await;
    assert_eq!(to, ["c0@test.io"]);
}
