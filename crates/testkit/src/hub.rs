//! Boot a real hub in-process.

use cartback_cli::config::{self, Env};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A running hub on an ephemeral port.
pub struct Hub {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub admin_token: String,
    pub dir: Arc<tempfile::TempDir>,
    toml: String,
    env: Env,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub client: reqwest::Client,
}

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Writes `toml` to `cartback.toml` in a fresh temporary folder (its relative SQLite path lands
/// there), loads it with `env` (plus an admin token), and serves it on `127.0.0.1:0`.
pub async fn spawn_hub(toml: &str, env: &[(&str, &str)]) -> anyhow::Result<Hub> {
    let dir = Arc::new(tempfile::tempdir()?);
    let env: Env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("CARTBACK_ADMIN_TOKEN".to_string(), ADMIN_TOKEN.to_string())])
        .collect();
    start(dir, toml.to_string(), env).await
}

async fn start(dir: Arc<tempfile::TempDir>, toml: String, mut env: Env) -> anyhow::Result<Hub> {
    let path: PathBuf = dir.path().join("cartback.toml");
    std::fs::write(&path, &toml)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    env.insert("CARTBACK__SERVER__PUBLIC_URL".into(), url.clone());
    let cfg = config::load(&path, &env).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (tx, rx) = oneshot::channel::<()>();
    let running = cartback_cli::app::start_default(&cfg, listener, async move {
        let _ = rx.await;
    })
    .await?;
    Ok(Hub {
        url,
        admin_token: ADMIN_TOKEN.into(),
        dir,
        toml,
        env,
        stop: Some(tx),
        task: Some(running.task),
        client: reqwest::Client::new(),
    })
}

impl Hub {
    /// Stops the server (draining) and waits for it.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }

    /// Stops this hub and starts a new one on the same database and configuration.
    pub async fn restart(mut self) -> anyhow::Result<Hub> {
        self.stop().await?;
        let mut env = self.env.clone();
        env.remove("CARTBACK__SERVER__PUBLIC_URL");
        start(self.dir.clone(), self.toml.clone(), env).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(self
            .client
            .get(self.url("/metrics"))
            .send()
            .await?
            .text()
            .await?)
    }

    /// GET an admin API path with the admin token.
    pub async fn admin_get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .get(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await?)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
