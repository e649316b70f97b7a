//! Connection floods against a real hub on 127.0.0.1: slow-header clients are cut off after
//! `server.header_read_timeout`, idle ones after `server.idle_timeout`, and past
//! `server.max_connections` idle connections make room; `/healthz` answers throughout.
//! Counts are small and every wait is bounded; nothing asserts how long anything took.
#![allow(clippy::unwrap_used)]

use cartback_testkit::{spawn_hub, Hub};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(header: &str, idle: &str, max: usize) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"
header_read_timeout = "{header}"
idle_timeout = "{idle}"
max_connections = {max}

[store]
url = "sqlite://hub.db"
"#
    )
}

fn addr(hub: &Hub) -> String {
    hub.url.trim_start_matches("http://").to_string()
}

/// Waits (at most `limit`) for the hub to close `s`: `true` when it did.
async fn closed_by_hub(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    });
    read.await.is_ok()
}

async fn healthz(hub: &Hub) -> u16 {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    client
        .get(hub.url("/healthz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// One request on a raw keep-alive connection; returns the status line.
async fn request(s: &mut TcpStream, host: &str) -> String {
    s.write_all(format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"ok\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_clients_are_cut_off_and_healthz_answers() {
    let hub = spawn_hub(&config("1s", "60s", 10_000), &[]).await.unwrap();
    let host = addr(&hub);
    // 300 clients that start a request and then send one more header line every 200 ms, forever.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(&host).await.unwrap();
        s.write_all(format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n").as_bytes())
            .await
            .unwrap();
        slow.push(tokio::spawn(async move {
            let (mut r, mut w) = s.into_split();
            let trickle = async {
                for i in 0..300 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if w.write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            };
            let mut buf = [0u8; 1024];
            let eof = async {
                loop {
                    match r.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => continue,
                    }
                }
            };
            // Closed by the hub (EOF or reset) before the trickle ran out (60 s)?
            tokio::select! {
                () = eof => true,
                () = trickle => false,
            }
        }));
    }
    // Everyone else is answered meanwhile.
    for _ in 0..5 {
        assert_eq!(healthz(&hub).await, 200);
    }
    let mut cut = 0;
    for task in slow {
        if task.await.unwrap() {
            cut += 1;
        }
    }
    assert_eq!(cut, 300, "every slow-header client is disconnected");
    assert_eq!(healthz(&hub).await, 200);
    let metrics = hub.metrics().await.unwrap();
    assert!(
        metrics.contains("cartback_http_connections_closed_total{reason=\"header_timeout\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let hub = spawn_hub(&config("10s", "1s", 10_000), &[]).await.unwrap();
    let host = addr(&hub);
    // 200 that never send anything, 20 that are answered once and then keep the connection open.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(&host).await.unwrap());
    }
    for _ in 0..20 {
        let mut s = TcpStream::connect(&host).await.unwrap();
        assert_eq!(request(&mut s, &host).await, "HTTP/1.1 200 OK");
        idle.push(s);
    }
    assert_eq!(healthz(&hub).await, 200);
    for s in &mut idle {
        assert!(
            closed_by_hub(s, Duration::from_secs(30)).await,
            "an idle connection stayed open"
        );
    }
    assert_eq!(healthz(&hub).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_idle_connections_make_room() {
    // Timeouts far beyond the test: only the cap can free a slot here.
    let hub = spawn_hub(&config("5m", "1h", 20), &[]).await.unwrap();
    let host = addr(&hub);
    // Take every slot with a keep-alive connection that was answered once (so it was accepted).
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(&host).await.unwrap();
        assert_eq!(request(&mut s, &host).await, "HTTP/1.1 200 OK");
        held.push(s);
    }
    // A 21st client is still answered: idle connections were closed to make room for it.
    assert_eq!(healthz(&hub).await, 200);
    let mut closed = 0;
    for s in &mut held {
        if closed_by_hub(s, Duration::from_millis(200)).await {
            closed += 1;
        }
    }
    assert!(closed >= 1, "no idle connection made room");
    let metrics = hub.metrics().await.unwrap();
    assert!(
        metrics.contains("cartback_http_connections_closed_total{reason=\"shed\"}"),
        "{metrics}"
    );
}
