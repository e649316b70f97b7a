//! `cartback send-test` against the real binary: with a hub running, every step of the flow is
//! sent now to the address given, marked test, and each outcome printed; without one, one line
//! says what to do.
#![allow(clippy::unwrap_used)]

mod common;

use common::BIN;
use std::process::Command;
use std::time::Duration;
const TOKEN: &str = "send-test-admin-token-0123456789";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
admin_token = "${CARTBACK_ADMIN_TOKEN}"
link_hosts = ["shop.example"]

[store]
url = "sqlite://hub.db"

[channel.console]
type = "console"

[flow.recover]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.recover.step]]
  name = "first nudge"
  send = { channel = "console", template = "t" }
  [[flow.recover.step]]
  wait = "1d"
  send = { channel = "console", template = "t" }

[template.t]
subject = "{{ contact.first_name }}, your {{ cart.items[0].title }} is waiting"
text = "{{ cart.total }}"
"#;

#[test]
fn send_test_sends_every_step_now_through_the_running_hub() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let hub = common::spawn_with(&cfg, &[("CARTBACK_ADMIN_TOKEN", TOKEN)]);
    let addr = hub.addr.clone();
    let run = |hub_url: &str| {
        Command::new(BIN)
            .args(["send-test", "--config"])
            .arg(&cfg)
            .args([
                "--flow",
                "recover",
                "--to",
                "qa@shop.example",
                "--hub",
                hub_url,
            ])
            .env("CARTBACK_ADMIN_TOKEN", TOKEN)
            .output()
            .unwrap()
    };
    let out = run(&format!("http://{addr}"));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let shown = format!("{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{shown}");
    assert!(
        printed.contains("step 1 (first nudge) via console: sent"),
        "{shown}"
    );
    assert!(printed.contains("step 2 ("), "both steps, now: {shown}");
    // The console channel printed the test message to the address given.
    let mut seen = Vec::new();
    let printed_to = loop {
        match hub.lines.recv_timeout(Duration::from_secs(5)) {
            Ok(line) => {
                let hit = line.contains("qa@shop.example");
                seen.push(line);
                if hit {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    drop(hub);
    assert!(printed_to, "{}", seen.join("\n"));
    // No hub at that address: one line that says what to do.
    let out = run(&format!("http://{addr}"));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(err.contains("start it with `cartback serve`"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
