//! The dashboard in a real browser (headless Chromium through WebDriver): sign in, open the
//! dashboard, check the numbers shown against the seeded data, at desktop and phone widths, with
//! nothing in the browser console (no refused style or icon, no failed request, no script error).
//! Screenshots: `target/dashboard.png`, `target/dashboard-phone.png`.
#![allow(clippy::unwrap_used)]

use cartback_e2e::browser::{artifact, launch};
use cartback_store::prelude::*;
use cartback_store::{ConversionRow, NewRun, RunRecord, RunStatus, SqlStore, Store, TimerCommit};
use cartback_testkit::spawn_hub;

const CONFIG: &str = r#"
[server]
link_hosts = ["shop.example", "*.shop.example", "*.myshopify.com", "shop.test", "127.0.0.1"]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"

[store]
url = "sqlite://hub.db"

[channel.email]
type = "console"

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
holdout_percent = 50
  [[flow.recover.step]]
  send = { channel = "email", template = "t" }

[template.t]
text = "hi"
"#;

#[tokio::test]
async fn the_dashboard_shows_the_flow_numbers() {
    let Some(browser) = launch(1280, 900).await else {
        return;
    };
    let hub = spawn_hub(CONFIG, &[]).await.unwrap();
    // Seed 20 treated and 20 held-out runs enrolled yesterday; 6 and 2 of them converted.
    let store = SqlStore::open(&format!(
        "sqlite://{}",
        hub.dir.path().join("hub.db").display()
    ))
    .await
    .unwrap();
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    let mut commit = TimerCommit::default();
    for i in 0..40 {
        let holdout = i >= 20;
        commit.enrol.push(NewRun {
            run: RunRecord {
                id: format!("run-{i}"),
                flow_id: "recover".into(),
                cart_id: format!("cart-{i}"),
                contact_id: None,
                variant: None,
                holdout,
                status: if holdout {
                    RunStatus::HeldOut
                } else {
                    RunStatus::Completed
                },
                step: 1,
                test: false,
                enrolled_at: yesterday,
                updated_at: yesterday,
                exit_reason: None,
            },
            reenter: None,
            first_step_at: None,
            trigger: None,
        });
    }
    for i in (0..6).chain(20..22) {
        commit.conversions.push(ConversionRow {
            source_id: "shop".into(),
            order_id: format!("o-{i}"),
            run_id: format!("run-{i}"),
            flow_id: "recover".into(),
            variant: None,
            holdout: i >= 20,
            message_id: None,
            step: None,
            channel_id: None,
            touch: "none".into(),
            revenue_minor: 4250,
            currency: "EUR".into(),
            placed_at: yesterday + chrono::Duration::hours(2),
            enrolled_at: yesterday,
        });
    }
    store.apply(commit, yesterday).await.unwrap();
    store.close().await;

    // Not signed in: the dashboard sends us to the login form.
    browser.goto(&hub.url("/dashboard")).await;
    assert!(browser.url().await.ends_with("/dashboard/login"));
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.type_into("#token", "wrong-token").await;
    browser.click("button[type=submit]").await;
    assert!(browser.text("[role=alert]").await.contains("not right"));
    // The 401 page itself is logged as a failed load; nothing else may be.
    let errors = browser.console_errors().await;
    assert!(
        errors
            .iter()
            .all(|e| e.contains("/dashboard/login") && e.contains("401")),
        "{errors:?}"
    );
    browser.type_into("#token", &hub.admin_token).await;
    browser.click("button[type=submit]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !browser.url().await.ends_with("/dashboard") {
        assert!(
            std::time::Instant::now() < deadline,
            "not signed in: {}",
            browser.url().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(browser.text("[data-metric=treated-enrolled]").await, "20");
    assert_eq!(browser.text("[data-metric=treated-converted]").await, "6");
    assert_eq!(browser.text("[data-metric=treated-rate]").await, "30.0%");
    assert_eq!(browser.text("[data-metric=holdout-converted]").await, "2");
    assert_eq!(browser.text("[data-metric=holdout-rate]").await, "10.0%");
    assert_eq!(browser.text("[data-metric=uplift]").await, "+20.0 pts");
    assert_eq!(browser.text("[data-metric=revenue]").await, "EUR 255.00");
    assert_eq!(browser.text("[data-stage=converted]").await, "6");
    assert_eq!(browser.count("svg[role=img] rect").await, 5);
    // The session cookie is HttpOnly: scripts cannot read it.
    assert_eq!(browser.eval("return document.cookie").await, "");
    browser.screenshot(&artifact("dashboard.png")).await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    // On a phone the page fits the width (tables scroll inside their cards).
    browser.resize(390, 844).await;
    let overflow = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        .await;
    assert_eq!(overflow, serde_json::Value::Bool(true));
    browser.screenshot(&artifact("dashboard-phone.png")).await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.close().await;
}
