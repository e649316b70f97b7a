//! A webhook with a wrong signature, against the real binary: the `401` names the scheme the
//! source expects (never a secret), carries no `WWW-Authenticate: Bearer` (the admin API's 401
//! keeps it), and the rejection is logged at warn with the source id.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cartback");

const ADMIN: &str = "admin-401-Test-token-7Q";
const SHOP: &str = "shop-secret-DO-NOT-ECHO-1";
const WOO: &str = "woo-secret-DO-NOT-ECHO-2";
const HUBSPOT: &str = "hubspot-secret-DO-NOT-ECHO-3";
const SEGMENT: &str = "segment-secret-DO-NOT-ECHO-4";
const SEGMENT_KEY: &str = "segment-key-DO-NOT-ECHO-5";
const KLAVIYO: &str = "klaviyo-secret-DO-NOT-ECHO-6";
const TWILIO: &str = "twilio-token-DO-NOT-ECHO-7";
const SENDGRID: &str = "SG.sendgrid-key-DO-NOT-ECHO-8";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
admin_token = "${ADMIN}"

[store]
url = "sqlite://hub.db"

[source.shop]
type = "shopify"
secret = "${SHOP}"

[source.woo]
type = "woocommerce"
secret = "${WOO}"

[source.hubspot]
type = "hubspot"
client_secret = "${HUBSPOT}"

[source.seg]
type = "segment"
shared_secret = "${SEGMENT}"
server_write_keys = ["${SEGMENT_KEY}"]

[source.klaviyo]
type = "klaviyo"
secret = "${KLAVIYO}"

[channel.email]
type = "sendgrid"
api_key = "${SENDGRID}"
from = "Shop <shop@example.com>"

[channel.sms]
type = "twilio"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "${TWILIO}"
from = "+15005550006"
"#;

struct Running {
    child: Child,
    lines: Receiver<String>,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Running {
    let cfg = dir.join("cartback.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let mut child = Command::new(BIN)
        .args(["--log-format", "text", "serve", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .envs([
            ("ADMIN", ADMIN),
            ("SHOP", SHOP),
            ("WOO", WOO),
            ("HUBSPOT", HUBSPOT),
            ("SEGMENT", SEGMENT),
            ("SEGMENT_KEY", SEGMENT_KEY),
            ("KLAVIYO", KLAVIYO),
            ("TWILIO", TWILIO),
            ("SENDGRID", SENDGRID),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the start-up log line");
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
    Running {
        child,
        lines,
        url: format!("http://{addr}"),
    }
}

/// A request's path, the headers of a wrongly signed request, and the start of the scheme the 401
/// must name.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

/// Waits for a log line holding every one of `needles`.
fn logged(lines: &Receiver<String>, needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if needles.iter().all(|n| line.contains(n)) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no log line with {needles:?}; saw:\n{}", seen.join("\n")),
        }
    }
}

#[tokio::test]
async fn a_wrong_signature_names_the_expected_scheme_and_is_logged_at_warn() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(dir.path());
    let client = reqwest::Client::new();
    let secrets = [
        ADMIN,
        SHOP,
        WOO,
        HUBSPOT,
        SEGMENT,
        SEGMENT_KEY,
        KLAVIYO,
        TWILIO,
        SENDGRID,
    ];
    // (path, headers of a request signed with a wrong key, the scheme's header named in the 401)
    let cases: [Case; 8] = [
        (
            "/webhooks/shop",
            vec![
                ("x-shopify-topic", "checkouts/create"),
                ("x-shopify-hmac-sha256", "bm90IHRoZSBzaWduYXR1cmU="),
                ("x-shopify-triggered-at", "2026-11-20T10:05:00Z"),
            ],
            "X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body",
        ),
        (
            "/webhooks/woo",
            vec![
                ("x-wc-webhook-topic", "order.created"),
                ("x-wc-webhook-signature", "bm90IHRoZSBzaWduYXR1cmU="),
            ],
            "X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body",
        ),
        (
            "/webhooks/hubspot",
            vec![("x-hubspot-signature", "00ff")],
            "X-HubSpot-Signature-v3: base64 HMAC-SHA256 of method + URL + raw body",
        ),
        (
            "/webhooks/seg",
            vec![("x-signature", "00ff")],
            "X-Signature: hex HMAC-SHA1 of the raw body",
        ),
        (
            "/v1/track",
            vec![("authorization", "Basic d3Jvbmc6")],
            "Authorization: Basic base64(<write key>:)",
        ),
        (
            "/webhooks/klaviyo",
            vec![("x-cartback-secret", "a-guess")],
            "Klaviyo-Signature: hex HMAC-SHA256 of the raw body followed by Klaviyo-Timestamp",
        ),
        (
            "/webhooks/email",
            vec![],
            "X-Twilio-Email-Event-Webhook-Signature: base64 DER ECDSA P-256",
        ),
        (
            "/webhooks/sms",
            vec![
                ("x-twilio-signature", "bm90IHRoZSBzaWduYXR1cmU="),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            "X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by every form parameter",
        ),
    ];
    for (path, headers, scheme) in cases {
        let mut req = client
            .post(format!("{}{path}", hub.url))
            .body(if path == "/webhooks/sms" {
                "MessageSid=SM1&From=%2B14155550100&Body=START".to_string()
            } else {
                r#"[{"id":1}]"#.to_string()
            });
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert!(
            resp.headers().get("www-authenticate").is_none(),
            "{path}: {:?}",
            resp.headers()
        );
        let body = resp.text().await.unwrap();
        assert!(body.contains(scheme), "{path}: {body}");
        for s in secrets {
            assert!(!body.contains(s), "{path} echoes a secret: {body}");
        }
        if path == "/webhooks/hubspot" || path == "/webhooks/sms" {
            // The URL the hub verified against, so a proxy's rewrite shows.
            assert!(
                body.contains(&format!("http://127.0.0.1:8080{path}")),
                "{body}"
            );
        }
        let source_id = path.rsplit('/').next().unwrap();
        if path.starts_with("/webhooks/") {
            let line = logged(
                &hub.lines,
                &[
                    "WARN",
                    &format!("source_id={source_id}"),
                    "signature check failed",
                ],
            );
            for s in secrets {
                assert!(!line.contains(s), "the log echoes a secret: {line}");
            }
        } else {
            logged(&hub.lines, &["WARN", "seg", "no mounted source accepts"]);
        }
    }
    // The admin API's 401 still challenges for its bearer token.
    let admin = client
        .get(format!("{}/api/v1/carts", hub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 401);
    assert_eq!(admin.headers()["www-authenticate"], "Bearer");
}
