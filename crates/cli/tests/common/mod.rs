//! Shared by the multi-process tests: start the real binary and learn its address, and send
//! signed Shopify checkouts.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cartback");
pub const SECRET: &str = "scale-secret";

pub struct Hub {
    pub child: Child,
    pub addr: String,
    /// The hub's standard output after its start-up line (log lines, the console channel).
    pub lines: std::sync::mpsc::Receiver<String>,
}

/// A test that fails still stops its hub: an orphan would hold the test run's output open.
impl Drop for Hub {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn spawn(cfg: &std::path::Path) -> Hub {
    spawn_with(cfg, &[])
}

/// Starts `cartback serve` on `cfg` with these environment variables, and waits for its address.
pub fn spawn_with(cfg: &std::path::Path, env: &[(&str, &str)]) -> Hub {
    let mut child = Command::new(BIN)
        .args(["--log-format", "text", "serve", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "warn,cartback_cli=info")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("start-up line");
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    Hub {
        child,
        addr,
        lines: rx,
    }
}

pub fn checkout(i: usize) -> Vec<u8> {
    let now = chrono::Utc::now().to_rfc3339();
    serde_json::to_vec(&serde_json::json!({
        "id": 1_000_000 + i,
        "token": format!("chk-{i}"),
        "cart_token": format!("cart-{i}"),
        "email": format!("shopper{i}@example.com"),
        "phone": format!("+1415555{i:04}"),
        "updated_at": now,
        "currency": "USD",
        "total_price": "25.00",
        "abandoned_checkout_url": format!("https://shop.example/recover/{i}"),
        "line_items": [{ "product_id": 1, "variant_id": 2, "title": "Mug", "quantity": 1, "price": "25.00" }],
        "customer": { "id": 5_000_000 + i, "email": format!("shopper{i}@example.com"),
            "sms_marketing_consent": { "state": "subscribed" } }
    }))
    .unwrap()
}

pub async fn post(
    client: &reqwest::Client,
    addr: &str,
    i: usize,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let body = checkout(i);
    let sig = cartback_kit::Encoding::Base64
        .encode(&cartback_kit::hmac_sha256(SECRET.as_bytes(), &[&body]));
    client
        .post(format!("http://{addr}/webhooks/shop"))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "checkouts/create")
        .header("x-shopify-webhook-id", format!("scale-{i}"))
        .header(
            "x-shopify-triggered-at",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .header("x-shopify-hmac-sha256", sig)
        .body(body)
        .send()
        .await
        .map(|r| r.status())
}

/// Waits until every timer has fired and every one of `expected` outbox rows has left the queue
/// (sent or unknown), failing after `within`.
pub async fn wait_until_done(store: &cartback_store::SqlStore, expected: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let open: i64 = store.query_i64("SELECT (SELECT COUNT(*) FROM timers) + (SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'claimed', 'sending'))", vec![]).await.unwrap().unwrap();
        let rows: i64 = store
            .query_i64("SELECT COUNT(*) FROM outbox", vec![])
            .await
            .unwrap()
            .unwrap();
        if open == 0 && rows as usize == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "work left after the deadline: {open} open, {rows} outbox rows"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
