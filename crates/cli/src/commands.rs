//! Command-line entry points.

use crate::config::{self, HubConfig};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "cartback",
    version,
    about = "Wins back abandoned shopping carts."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the hub.
    Serve {
        /// The configuration file.
        #[arg(
            long,
            short,
            default_value = "config/cartback.toml",
            env = "CARTBACK_CONFIG"
        )]
        config: PathBuf,
    },
    /// Validate a configuration file: print every problem with its key path; exit 1 if any.
    CheckConfig {
        #[arg(
            long,
            short,
            default_value = "config/cartback.toml",
            env = "CARTBACK_CONFIG"
        )]
        config: PathBuf,
    },
    /// Print a flow's report: funnel per step and channel, treated vs holdout.
    Report {
        #[arg(
            long,
            short,
            default_value = "config/cartback.toml",
            env = "CARTBACK_CONFIG"
        )]
        config: PathBuf,
        /// The flow id.
        #[arg(long)]
        flow: String,
        /// Start of the window (2026-11-01 or RFC 3339); default 30 days before `to`.
        #[arg(long)]
        from: Option<String>,
        /// End of the window; default now.
        #[arg(long)]
        to: Option<String>,
        /// Print JSON (the API's shape) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => check_config(&config),
        Command::Report {
            config,
            flow,
            from,
            to,
            json,
        } => {
            let cfg = match load_or_report(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(crate::report::run(
                &cfg,
                &flow,
                from.as_deref(),
                to.as_deref(),
                json,
            )) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve { config } => {
            let cfg = match load_or_report(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_tracing();
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(serve(cfg)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn load_or_report(path: &std::path::Path) -> Result<HubConfig, ExitCode> {
    config::load(path, &config::process_env()).map_err(|e| {
        eprint!("{}: {e}", path.display());
        ExitCode::from(2)
    })
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match load_or_report(path) {
        Ok(cfg) => {
            println!(
                "{}: OK ({} source{}, {} channel{}, {} flow{}, {} template{})",
                path.display(),
                cfg.sources.len(),
                plural(cfg.sources.len()),
                cfg.channels.len(),
                plural(cfg.channels.len()),
                cfg.flows.len(),
                plural(cfg.flows.len()),
                cfg.templates.len(),
                plural(cfg.templates.len()),
            );
            for w in warnings(&cfg) {
                println!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(_) => ExitCode::from(1),
    }
}

/// Every warning of a configuration that loads, each with its key path.
pub fn warnings(cfg: &HubConfig) -> Vec<String> {
    let mut out = Vec::new();
    if cfg.server.link_hosts.is_empty() {
        out.push("server.link_hosts: empty, so every link in incoming carts is dropped and reminders carry no recovery link; list the shop's hosts (docs/SECURITY.md)".to_string());
    }
    for (id, entry) in &cfg.sources {
        for w in entry.settings.warnings() {
            out.push(format!("source.{id}: {w}"));
        }
    }
    for (id, entry) in &cfg.channels {
        for w in entry.settings.warnings() {
            out.push(format!("channel.{id}: {w}"));
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

async fn serve(cfg: HubConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&cfg.server.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.server.listen))?;
    let running = crate::app::start_default(&cfg, listener, shutdown_signal()).await?;
    tracing::info!(
        addr = %running.addr,
        public_url = %cfg.server.public_url,
        store = %cfg.store_url(),
        sources = cfg.sources.len(),
        "cartback is listening."
    );
    if cfg.server.admin_token.is_none() {
        tracing::warn!("server.admin_token is not set: the admin API refuses every call.");
    }
    for w in warnings(&cfg) {
        tracing::warn!("{w}");
    }
    running.task.await??;
    tracing::info!("cartback stopped.");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("Shutdown signal received; draining in-flight requests.");
}
