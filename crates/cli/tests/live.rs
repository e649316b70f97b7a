//! Live changes on the real binary: a flow paused through the admin API enrols nothing until it is
//! resumed; a bad configuration file changes nothing and says why; `SIGHUP` puts a new file in
//! force, a flow removed from it retired while its running run carries on.
#![allow(clippy::unwrap_used)]

mod common;

use common::{post, spawn, SECRET};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const TOKEN: &str = "live-admin-token-0123456789abcdef";

fn config(flows: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_token = "{TOKEN}"
link_hosts = ["shop.example"]

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "{SECRET}"

[channel.console]
type = "console"

[template.t]
subject = "Your cart"
text = "{{{{ cart.total }}}}"
{flows}
"#
    )
}

const FLOW_A: &str = r#"
[flow.a]
trigger = "cart_abandoned"
abandon_after = "1s"
  [[flow.a.step]]
  send = { channel = "console", template = "t" }
  [[flow.a.step]]
  wait = "1d"
  send = { channel = "console", template = "t" }
"#;

const FLOW_B: &str = r#"
[flow.b]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.b.step]]
  send = { channel = "console", template = "t" }
"#;

async fn get(client: &reqwest::Client, addr: &str, path: &str) -> Value {
    client
        .get(format!("http://{addr}/api/v1{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn call(client: &reqwest::Client, addr: &str, path: &str) -> (u16, Value) {
    let r = client
        .post(format!("http://{addr}/api/v1{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn pause_resume_reload_and_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(&cfg, config(FLOW_A)).unwrap();
    let mut hub = spawn(&cfg);
    let addr = hub.addr.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let flows = get(&client, &addr, "/flows").await;
    assert_eq!(flows["flows"][0]["id"], "a");
    assert_eq!(flows["flows"][0]["paused"], false);
    assert_eq!(call(&client, &addr, "/flows/nope/pause").await.0, 404);
    // Paused: a cart comes due and is not enrolled.
    assert_eq!(call(&client, &addr, "/flows/a/pause").await.0, 200);
    assert_eq!(
        get(&client, &addr, "/flows").await["flows"][0]["paused"],
        true
    );
    assert_eq!(post(&client, &addr, 1).await.unwrap(), 200);
    until("the paused flow's cart to be abandoned", async || {
        get(&client, &addr, "/carts?email=shopper1@example.com").await["carts"][0]["status"]
            == "abandoned"
    })
    .await;
    assert_eq!(get(&client, &addr, "/messages").await["count"], 0);
    // Resumed: the next cart is reminded.
    assert_eq!(call(&client, &addr, "/flows/a/resume").await.0, 200);
    assert_eq!(post(&client, &addr, 2).await.unwrap(), 200);
    until("the resumed flow's reminder", async || {
        get(&client, &addr, "/messages?status=sent").await["count"] == 1
    })
    .await;
    // A bad file: refused with its problem, nothing changed.
    std::fs::write(
        &cfg,
        config(&FLOW_A.replace("abandon_after = \"1s\"", "abandon_after = \"soon\"")),
    )
    .unwrap();
    let (status, body) = call(&client, &addr, "/config/reload").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("flow.a.abandon_after"), "{body}");
    assert_eq!(
        get(&client, &addr, "/flows").await["flows"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // SIGHUP with a new file: flow b added, flow a retired; its running run carries on.
    std::fs::write(&cfg, config(FLOW_B)).unwrap();
    Command::new("kill")
        .args(["-HUP", &hub.child.id().to_string()])
        .status()
        .unwrap();
    until("the new flows in force", async || {
        let flows = get(&client, &addr, "/flows").await;
        let list = flows["flows"].as_array().cloned().unwrap_or_default();
        list.iter().any(|f| f["id"] == "b")
            && list.iter().any(|f| f["id"] == "a" && f["retired"] == true)
    })
    .await;
    let cart = get(&client, &addr, "/carts?email=shopper2@example.com").await["carts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let runs = get(&client, &addr, &format!("/carts/{cart}/runs")).await;
    assert_eq!(runs["runs"][0]["status"], "running", "{runs}");
    assert_eq!(runs["runs"][0]["next_step"]["step"], 2, "{runs}");
    let _ = Command::new("kill")
        .args(["-TERM", &hub.child.id().to_string()])
        .status();
    let _ = hub.child.wait();
}
