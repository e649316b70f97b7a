//! The real `cartback` binary: `check-config` exit codes and output, and SIGTERM draining an
//! in-flight request before exiting.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cartback");

#[test]
fn check_config_accepts_the_default_and_names_problems() {
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/cartback.toml");
    let ok = Command::new(BIN)
        .args(["check-config", "--config", default])
        .env("CARTBACK_ADMIN_TOKEN", "dev-admin-token-local")
        .env("SHOPIFY_WEBHOOK_SECRET", "dev")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("OK"));

    let missing = Command::new(BIN)
        .args(["check-config", "--config", default])
        .env_remove("CARTBACK_ADMIN_TOKEN")
        .env_remove("SHOPIFY_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("server.admin_token: environment variable CARTBACK_ADMIN_TOKEN is not set"),
        "{err}"
    );
    assert!(
        err.contains("source.shop.secret: environment variable SHOPIFY_WEBHOOK_SECRET is not set"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[source.shop]\ntype = \"magentoo\"\n[server]\nlisten = \"x\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("source.shop.type: unknown type \"magentoo\""),
        "{err}"
    );
    assert!(err.contains("server.listen:"), "{err}");
}

#[test]
fn serve_refuses_a_bad_config_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[flow.x]\ntrigger = \"cart_abandoned\"\nabandon_after = \"whenever\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("flow.x.abandon_after"));
    assert!(!dir.path().join("cartback.db").exists(), "nothing started");
}

/// `cartback_http_connections` (connections open now, the asking one included), read through
/// `probe`, one keep-alive connection kept for every reading so none lingers in the count.
fn open_connections(probe: &mut TcpStream, addr: &str) -> f64 {
    write!(probe, "GET /metrics HTTP/1.1\r\nhost: {addr}\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        probe.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .expect("a content-length");
    let mut body = vec![0u8; len];
    probe.read_exact(&mut body).unwrap();
    String::from_utf8(body)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("cartback_http_connections "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"drain-test-token\"\n[source.shop]\ntype = \"shopify\"\nsecret = \"s\"\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The bound address is in the start-up log line.
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
            .expect("start-up log line");
        // Text (`addr=...`) or JSON (`"addr":"..."`) log lines.
        if let Some(rest) = line
            .split("addr=")
            .nth(1)
            .or_else(|| line.split("\"addr\":\"").nth(1))
        {
            break rest
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap()
                .to_string();
        }
    };
    // Start a request and leave its body half-sent.
    let body = br#"{"foo": "bar"}"#;
    let sig = cartback_kit::Encoding::Base64.encode(&cartback_kit::hmac_sha256(b"s", &[body]));
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        stream,
        "POST /webhooks/shop HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nx-shopify-topic: products/update\r\nx-shopify-webhook-id: d-1\r\nx-shopify-triggered-at: {}\r\nx-shopify-hmac-sha256: {sig}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        chrono::Utc::now().to_rfc3339(),
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..5]).unwrap();
    stream.flush().unwrap();
    // The hub has taken that connection: two open (it and the one asking), by its own gauge.
    let mut probe = TcpStream::connect(&addr).unwrap();
    probe
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let taken = Instant::now() + Duration::from_secs(10);
    while open_connections(&mut probe, &addr) < 2.0 {
        assert!(Instant::now() < taken, "the hub never took the connection");
        std::thread::sleep(Duration::from_millis(20)); // between polls
    }
    drop(probe);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The hub has the signal (its log says it is draining) before the body is finished.
    let draining = Instant::now() + Duration::from_secs(10);
    loop {
        let line = rx
            .recv_timeout(draining.saturating_duration_since(Instant::now()))
            .expect("the shutdown log line");
        if line.contains("Shutdown signal received") {
            break;
        }
    }
    // The in-flight request still completes.
    stream.write_all(&body[5..]).unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // And the process exits, cleanly, well within 10 s.
    let waited = Instant::now();
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(code.success(), "exit {code:?}");
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "did not exit within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // New connections are refused after shutdown.
    assert!(TcpStream::connect(&addr).is_err());
}

/// The README's first five minutes: the shipped config, the README's signed webhook, a reminder
/// printed by the console channel.
#[test]
fn the_readme_webhook_prints_a_reminder_on_the_default_config() {
    let dir = tempfile::tempdir().unwrap();
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/cartback.toml");
    let mut child = Command::new(BIN)
        .args(["serve", "--config", default])
        .env("CARTBACK_ADMIN_TOKEN", "dev-admin-token-local")
        .env("SHOPIFY_WEBHOOK_SECRET", "dev-shopify-secret")
        .env("CARTBACK__SERVER__LISTEN", "127.0.0.1:0")
        .env(
            "CARTBACK__STORE__URL",
            format!("sqlite://{}", dir.path().join("readme.db").display()),
        )
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let next = |rx: &std::sync::mpsc::Receiver<String>| {
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    };
    let addr = loop {
        let line = next(&rx).expect("start-up log line");
        // Text (`addr=...`) or JSON (`"addr":"..."`) log lines.
        if let Some(rest) = line
            .split("addr=")
            .nth(1)
            .or_else(|| line.split("\"addr\":\"").nth(1))
        {
            break rest
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap()
                .to_string();
        }
    };
    // The README's body, signed as the README's openssl line does.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let body = readme
        .lines()
        .find_map(|l| l.strip_prefix("BODY='"))
        .unwrap()
        .trim_end_matches('\'')
        // The shell's `$(date ...)`: the cart is dated now, as a real one is.
        .replace(
            "'\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"'",
            &chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
    let sig = cartback_kit::Encoding::Base64.encode(&cartback_kit::hmac_sha256(
        b"dev-shopify-secret",
        &[body.as_bytes()],
    ));
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /webhooks/shop HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nx-shopify-topic: checkouts/create\r\nx-shopify-webhook-id: readme-test-1\r\nx-shopify-triggered-at: {}\r\nx-shopify-hmac-sha256: {sig}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        chrono::Utc::now().to_rfc3339(),
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let mut printed = Vec::new();
    let found = loop {
        match next(&rx) {
            Ok(line) => {
                let hit =
                    line.contains("Subject:") && line.contains("you left something in your cart");
                printed.push(line);
                if hit {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    // A forged webhook with the caller's request id: answered 401 with the id echoed, and the
    // warning it logs carries the same id (the request's span).
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /webhooks/shop HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nx-request-id: readme-req-1\r\nx-shopify-topic: checkouts/create\r\nx-shopify-webhook-id: readme-test-2\r\nx-shopify-hmac-sha256: AAAA\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut forged = String::new();
    stream.read_to_string(&mut forged).unwrap();
    assert!(forged.starts_with("HTTP/1.1 401"), "{forged}");
    assert!(
        forged
            .to_ascii_lowercase()
            .contains("x-request-id: readme-req-1"),
        "{forged}"
    );
    let traced = loop {
        match next(&rx) {
            Ok(line) => {
                let hit = line.contains("readme-req-1") && line.contains("Rejected webhook");
                printed.push(line);
                if hit {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(found, "no reminder printed:\n{}", printed.join("\n"));
    assert!(
        printed.iter().any(|l| l.contains("To: ann@example.com")),
        "{}",
        printed.join("\n")
    );
    assert!(
        traced,
        "no log line with the request id:\n{}",
        printed.join("\n")
    );
    // Standard output is not a terminal: log lines are JSON, and none at info or above names the
    // shopper (only the console channel's own output does).
    let logs: Vec<serde_json::Value> = printed
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !logs.is_empty(),
        "no JSON log line:\n{}",
        printed.join("\n")
    );
    for log in &logs {
        let level = log["level"].as_str().unwrap_or("");
        if matches!(level, "INFO" | "WARN" | "ERROR") {
            assert!(
                !log.to_string().contains("ann@example.com"),
                "an address in a log line: {log}"
            );
        }
    }
}

#[test]
fn report_prints_a_flow_table() {
    let dir = tempfile::tempdir().unwrap();
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/cartback.toml");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(["report", "--config", default])
            .args(args)
            .env("CARTBACK_ADMIN_TOKEN", "dev-admin-token-local")
            .env("SHOPIFY_WEBHOOK_SECRET", "dev")
            .env(
                "CARTBACK__STORE__URL",
                format!("sqlite://{}", dir.path().join("report.db").display()),
            )
            .output()
            .unwrap()
    };
    let out = run(&["--flow", "cart_recovery"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Flow cart_recovery"), "{text}");
    for needle in ["treated", "holdout", "step / channel", "click-rate"] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let json = run(&["--flow", "cart_recovery", "--json", "--from", "2026-01-01"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["flow_id"], "cart_recovery");
    assert_eq!(v["enrolled"], 0);
    let missing = run(&["--flow", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no flow \"nope\""));
    let bad = run(&["--flow", "cart_recovery", "--from", "yesterday"]);
    assert!(!bad.status.success());
}

#[test]
fn simulate_prints_each_flow_beside_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/cartback.toml");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(["simulate", "--config", default, "--running", default])
            .args(args)
            .env("CARTBACK_ADMIN_TOKEN", "dev-admin-token-local")
            .env("SHOPIFY_WEBHOOK_SECRET", "dev")
            .env(
                "CARTBACK__STORE__URL",
                format!("sqlite://{}", dir.path().join("simulate.db").display()),
            )
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Simulated "), "{text}");
    for needle in [
        "0 events applied again",
        "nothing was sent",
        "flow cart_recovery",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let json = run(&["--json", "--from", "2026-01-01", "--to", "2026-02-01"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["replayed"]["events"], 0);
    assert_eq!(v["flows"][0]["flow_id"], "cart_recovery");
    let bad = run(&["--from", "yesterday"]);
    assert!(!bad.status.success());
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
}
