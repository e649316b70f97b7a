//! `startup`: process start to the first `/healthz` answer, against starting `true`.

use crate::common::*;
use anyhow::Context;
use std::time::{Duration, Instant};

pub async fn startup() -> anyhow::Result<()> {
    let bin = std::env::current_exe()?.with_file_name("cartback");
    anyhow::ensure!(
        bin.exists(),
        "build the hub first: cargo build --release (looked for {})",
        bin.display()
    );
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let cfg = dir.path().join("cartback.toml");
    std::fs::write(
        &cfg,
        HUB_CONFIG.replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
    )?;
    let t = Instant::now();
    let mut child = std::process::Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("start cartback")?;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let up = loop {
        if client.get(&url).send().await.is_ok() {
            break t.elapsed();
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(30),
            "no answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_string();
    let _ = child.kill();
    let _ = child.wait();
    // Baseline: starting a process that does nothing (`true`).
    let t = Instant::now();
    std::process::Command::new("true").status()?;
    let base = t.elapsed();
    println!("startup: cartback serve (SQLite, migrations on a new database)");
    println!(
        "  ready in            {:>10.1} ms   (process start to first /healthz answer)",
        ms(up)
    );
    println!("  idle RSS            {:>10} kB", rss);
    println!(
        "  `true` runs in      {:>10.1} ms   (baseline: process start alone)",
        ms(base)
    );
    Ok(())
}
