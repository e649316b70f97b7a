//! A scripted SMTP listener for the sink tests: plain SMTP on 127.0.0.1 port 0 (with AUTH PLAIN
//! and LOGIN), recording what each client sent; also the conformance suite's fake provider.
#![allow(dead_code)]

use cartback_core::{OutboundMessage, Recipient, SinkContext};
use cartback_smtp::SmtpSettings;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the listener answers where a test wants a failure.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The reply to `RCPT TO` instead of `250 OK`, e.g. `"550 5.1.1 No such user"`.
    pub rcpt_reply: Option<&'static str>,
    /// The reply to the end of DATA instead of `250 OK queued` (the message was received).
    pub data_reply: Option<&'static str>,
    /// Read the data, then never answer (the client times out after DATA was sent).
    pub silent_after_data: bool,
}

/// One SMTP transaction as the listener saw it.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA content, dot-unstuffed, without the final `.` line.
    pub data: String,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    pub transactions: Arc<Mutex<Vec<Transaction>>>,
    /// Every `AUTH` the listener accepted, as `user:password`.
    pub logins: Arc<Mutex<Vec<String>>>,
}

impl SmtpServer {
    pub async fn start(script: Script) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let transactions = Arc::new(Mutex::new(Vec::new()));
        let logins = Arc::new(Mutex::new(Vec::new()));
        let (log, auth_log) = (transactions.clone(), logins.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, auth_log) = (log.clone(), auth_log.clone());
                let script = script.clone();
                tokio::spawn(async move {
                    let _ = session(stream, script, log, auth_log).await;
                });
            }
        });
        SmtpServer {
            addr,
            transactions,
            logins,
        }
    }

    pub fn transactions(&self) -> Vec<Transaction> {
        self.transactions.lock().unwrap().clone()
    }

    pub fn logins(&self) -> Vec<String> {
        self.logins.lock().unwrap().clone()
    }
}

fn base64_text(b64: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn session(
    stream: tokio::net::TcpStream,
    script: Script,
    log: Arc<Mutex<Vec<Transaction>>>,
    logins: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 localhost ESMTP test\r\n").await?;
    let mut tx = Transaction::default();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: &str = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-localhost\r\n250 AUTH PLAIN LOGIN"
        } else if upper.starts_with("AUTH PLAIN") {
            let mut initial = cmd["AUTH PLAIN".len()..].trim().to_string();
            if initial.is_empty() {
                write.write_all(b"334 \r\n").await?;
                line.clear();
                lines.read_line(&mut line).await?;
                initial = line.trim().to_string();
            }
            // authzid NUL authcid NUL password
            let plain = base64_text(&initial);
            let mut parts = plain.split('\0').skip(1);
            let (user, password) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            logins.lock().unwrap().push(format!("{user}:{password}"));
            "235 2.7.0 Authentication successful"
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            line.clear();
            lines.read_line(&mut line).await?;
            let user = base64_text(&line);
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            line.clear();
            lines.read_line(&mut line).await?;
            logins
                .lock()
                .unwrap()
                .push(format!("{user}:{}", base64_text(&line)));
            "235 2.7.0 Authentication successful"
        } else if upper.starts_with("MAIL FROM:") {
            tx = Transaction {
                mail_from: cmd["MAIL FROM:".len()..].to_string(),
                ..Transaction::default()
            };
            "250 OK"
        } else if upper.starts_with("RCPT TO:") {
            match script.rcpt_reply {
                Some(r) => r,
                None => {
                    tx.rcpt_to.push(cmd["RCPT TO:".len()..].to_string());
                    "250 OK"
                }
            }
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            tx.data = data;
            log.lock().unwrap().push(std::mem::take(&mut tx));
            if script.silent_after_data {
                // Keep the connection open and say nothing.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            script.data_reply.unwrap_or("250 OK queued")
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK"
        } else {
            "502 Command not implemented"
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// Plain-SMTP settings for the listener at `addr`.
pub fn settings(addr: SocketAddr) -> SmtpSettings {
    let mut s = SmtpSettings::new("127.0.0.1", "Shop <shop@example.com>");
    s.port = Some(addr.port());
    s.security = "plain".into();
    s.reply_to = Some("help@example.com".into());
    s
}

pub fn ctx(timeout: Duration) -> SinkContext {
    SinkContext {
        channel_id: "email".into(),
        public_url: "https://hub.example.com".into(),
        timeout,
    }
}

pub fn message() -> OutboundMessage {
    let headers = BTreeMap::from([
        (
            "List-Unsubscribe".to_string(),
            "<https://hub.example.com/u/dTA6MDE5M2E2ZjA.k2Zq>".to_string(),
        ),
        (
            "List-Unsubscribe-Post".to_string(),
            "List-Unsubscribe=One-Click".to_string(),
        ),
    ]);
    OutboundMessage {
        id: "0193a6f0-7c1e-7b7a-9f00-000000000001".into(),
        channel_id: "email".into(),
        to: Recipient {
            email: Some("ann.lee@example.com".into()),
            phone: None,
            name: Some("Ann Lee".into()),
        },
        subject: Some("You left something in your cart".into()),
        html: Some("<p>Hi Ann, your cart is waiting.</p>".into()),
        text: Some("Hi Ann, your cart is waiting.".into()),
        headers,
        metadata: BTreeMap::from([("flow_id".to_string(), "abandoned".to_string())]),
        contact: None,
        cart: None,
        test: false,
        discount_code: None,
        purpose: Default::default(),
    }
}
