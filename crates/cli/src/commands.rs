//! Command-line entry points.

use crate::config::{self, HubConfig};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "cartback",
    version,
    about = "Wins back abandoned shopping carts.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// How log lines are written: `json` (one object per line, for a log pipeline), `text`, or
    /// `auto` (JSON when standard output is not a terminal).
    #[arg(long, global = true, env = "CARTBACK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Json,
    Text,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the hub.
    Serve {
        /// The configuration file [default: the first found of config/cartback.toml,
        /// cartback.toml, ~/.config/cartback/cartback.toml, /etc/cartback/cartback.toml, ...].
        #[arg(long, short, env = "CARTBACK_CONFIG", long_help = CONFIG_HELP)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file: print every problem with its key path; exit 1 if any.
    CheckConfig {
        /// The configuration file [default: the first found, as for `serve`].
        #[arg(long, short, env = "CARTBACK_CONFIG", long_help = CONFIG_HELP)]
        config: Option<PathBuf>,
    },
    /// Print a flow's report: funnel per step and channel, treated vs holdout.
    Report {
        /// The configuration file [default: the first found, as for `serve`].
        #[arg(long, short, env = "CARTBACK_CONFIG", long_help = CONFIG_HELP)]
        config: Option<PathBuf>,
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
    /// Replay the events of a period through another configuration's flows on a virtual clock,
    /// sending nothing: what it would have sent (per step and channel, to how many, when) beside
    /// what the running configuration sent, and the conversions to expect.
    #[command(after_help = SIMULATE_HELP)]
    Simulate {
        /// The configuration to try (its flows, templates, channels and limits).
        #[arg(long, short)]
        config: PathBuf,
        /// The running configuration: where the recorded events are, and what was really sent
        /// [default: the first found, as for `serve`].
        #[arg(long, env = "CARTBACK_CONFIG")]
        running: Option<PathBuf>,
        /// Start of the window (2026-11-01 or RFC 3339); default 30 days before `to`.
        #[arg(long)]
        from: Option<String>,
        /// End of the window; default now.
        #[arg(long)]
        to: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Render and send every step of a flow now to one address, marked test (real sends: the
    /// providers deliver them). Asks the running hub; prints each message's outcome.
    SendTest {
        /// The configuration file (for the hub's address and admin token) [default: the first
        /// found, as for `serve`].
        #[arg(long, short, env = "CARTBACK_CONFIG", long_help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// The flow id.
        #[arg(long)]
        flow: String,
        /// Where to send: an email address, or a phone number as +<country><number>.
        #[arg(long)]
        to: String,
        /// The running hub [default: http://<server.listen> on this machine].
        #[arg(long)]
        hub: Option<String>,
        /// The sample cart's currency.
        #[arg(long, default_value = "USD")]
        currency: String,
    },
    /// Import a source's history (the backfill): abandoned checkouts and orders updated since a
    /// time, read from the platform's API by the running hub. Resumable after Ctrl-C; running it
    /// twice changes nothing; carts older than a flow's max_cart_age are kept, never reminded.
    #[command(after_help = IMPORT_HELP)]
    Import {
        /// The configuration file (for the hub's address and admin token) [default: the first
        /// found, as for `serve`].
        #[arg(long, short, env = "CARTBACK_CONFIG", long_help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// The source id (`[source.<id>]`): shopify, woocommerce or magento.
        #[arg(long)]
        source: String,
        /// Records updated at or after: a duration before now (`30d`, `12h`), a date
        /// (`2026-11-01`) or an RFC 3339 time.
        #[arg(long, default_value = "30d")]
        since: String,
        /// The running hub [default: http://<server.listen> on this machine].
        #[arg(long)]
        hub: Option<String>,
        /// Start over instead of resuming a stopped import.
        #[arg(long)]
        restart: bool,
    },
}

const IMPORT_HELP: &str = "Examples:
  cartback import --source shop --since 30d          the last 30 days of abandoned checkouts and orders
  cartback import --source shop --since 2026-11-01   since a date (UTC)

Ctrl-C stops after the current page; the same command resumes there. Exit code 0 done, 1 failed,
130 stopped. Shopify needs admin_access_token and shop_domain in [source.<id>] (docs/CONNECTORS.md).";

const AFTER_HELP: &str = "Examples:
  cartback serve                                   run the hub on config/cartback.toml
  cartback check-config --config prod.toml         every problem with its key path, nothing started
  cartback report --flow cart_recovery --from 2026-11-01
  cartback send-test --flow cart_recovery --to qa@your-shop.example
  cartback simulate --config new.toml              last 30 days through new flows, nothing sent
  cartback import --source shop --since 30d        backfill: the platform's last 30 days, resumable

Secrets come from the environment (CARTBACK_ADMIN_TOKEN, the ${VAR}s of the file); RUST_LOG picks
what is logged. README.md starts you in five minutes; docs/CONFIG.md has every key, docs/API.md
every route.";

const SIMULATE_HELP: &str = "Examples:
  cartback simulate --config new.toml                       the last 30 days through new.toml's flows
  cartback simulate --config new.toml --from 2026-11-01 --to 2026-11-15 --json

The recorded events are read from the running configuration's store (--running, else the
configuration `serve` would use); the running hub can keep running. Nothing is sent: every channel
of new.toml is replaced by one that only counts. Expected conversions use the conversion rates the
running flows measured, treated and held out, in the same window.";

const CONFIG_HELP: &str = "The configuration file. Without this option (or CARTBACK_CONFIG), the \
first that exists of: config/cartback.toml and cartback.toml in the current folder, \
$XDG_CONFIG_HOME/cartback/cartback.toml (~/.config/cartback/cartback.toml), \
/etc/cartback/cartback.toml, config/cartback.toml beside the executable or up to three folders \
above it, and the repository the binary was built from. docs/CONFIG.md describes every key.";

/// Where a configuration is looked for, in order, when neither `--config` nor `CARTBACK_CONFIG`
/// names one: the current folder (`config/cartback.toml`, as in the repository, then
/// `cartback.toml`), the user's and the system's configuration folders, beside the executable
/// (or up to three folders above it: `target/release/cartback` in a checkout, `bin/` in an
/// install), and the repository the binary was built from.
pub fn config_candidates(
    cwd: &Path,
    env: &crate::config::Env,
    exe: Option<&Path>,
    built_from: &Path,
) -> Vec<PathBuf> {
    let mut out = vec![cwd.join("config/cartback.toml"), cwd.join("cartback.toml")];
    let user = env
        .get("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env.get("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(h).join(".config"))
        });
    if let Some(dir) = user {
        out.push(dir.join("cartback/cartback.toml"));
    }
    out.push(PathBuf::from("/etc/cartback/cartback.toml"));
    if let Some(dir) = exe.and_then(Path::parent) {
        out.extend(
            dir.ancestors()
                .take(4)
                .map(|a| a.join("config/cartback.toml")),
        );
    }
    out.push(built_from.join("config/cartback.toml"));
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// The message when no configuration was given and none was found: every place looked at, and
/// how to name one.
pub fn not_found_message(looked: &[PathBuf]) -> String {
    let mut m = String::from(
        "no configuration file: none was given (--config PATH or CARTBACK_CONFIG=PATH) and none \
         exists where cartback looks:\n",
    );
    for p in looked {
        m.push_str(&format!("  {}\n", p.display()));
    }
    m.push_str(
        "Point cartback at one: `cartback serve --config /path/to/cartback.toml` (or \
         CARTBACK_CONFIG=/path/to/cartback.toml), or copy the repository's config/cartback.toml \
         (and its templates/ folder) to one of the places above. docs/CONFIG.md describes every key.\n",
    );
    m
}

/// The configuration file to use: the one given, else the first candidate that exists.
fn resolve_config(given: Option<PathBuf>) -> Result<PathBuf, ExitCode> {
    if let Some(path) = given {
        return Ok(path);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let exe = std::env::current_exe().ok();
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = config_candidates(&cwd, &config::process_env(), exe.as_deref(), &built_from);
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => {
            // Shown as found, relative to the current folder when it is there.
            Ok(found
                .strip_prefix(&cwd)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| found.clone()))
        }
        None => {
            eprint!("{}", not_found_message(&candidates));
            Err(ExitCode::from(2))
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => match resolve_config(config) {
            Ok(config) => check_config(&config),
            Err(_) => ExitCode::from(1),
        },
        Command::Report {
            config,
            flow,
            from,
            to,
            json,
        } => printing(config, async move |cfg| {
            crate::report::run(&cfg, &flow, from.as_deref(), to.as_deref(), json).await
        }),
        Command::Simulate {
            config,
            running,
            from,
            to,
            json,
        } => {
            let new = match load_or_report(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            printing(running, async move |running| {
                let req = crate::simulate::Request {
                    new: &new,
                    running: &running,
                    from: from.as_deref(),
                    to: to.as_deref(),
                };
                crate::simulate::run(req, json).await
            })
        }
        Command::SendTest {
            config,
            flow,
            to,
            hub,
            currency,
        } => printing(config, async move |cfg| {
            crate::send_test::run(&cfg, &flow, &to, hub.as_deref(), &currency).await
        }),
        Command::Import {
            config,
            source,
            since,
            hub,
            restart,
        } => importing(
            config,
            crate::import::Args {
                source,
                since,
                hub,
                restart,
            },
        ),
        Command::Serve { config } => {
            let config = match resolve_config(config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let cfg = match load_or_report(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_tracing(cli.log_format);
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(serve(cfg, config)) {
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

/// The configuration a command reads, loaded (or its problems printed), and a runtime to run the
/// command on; `Err` is the exit code to return.
fn configured(config: Option<PathBuf>) -> Result<(HubConfig, tokio::runtime::Runtime), ExitCode> {
    let config = resolve_config(config)?;
    let cfg = load_or_report(&config)?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("cannot start the runtime: {e}");
        ExitCode::FAILURE
    })?;
    Ok((cfg, rt))
}

/// A command that reads the configuration and prints text: `run` on a runtime, its text on
/// standard output, or its error as one line on standard error.
fn printing(
    config: Option<PathBuf>,
    run: impl AsyncFnOnce(HubConfig) -> anyhow::Result<String>,
) -> ExitCode {
    let (cfg, rt) = match configured(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match rt.block_on(run(cfg)) {
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

/// `cartback import`: its own exit codes (0 done, 1 failed, 130 stopped).
fn importing(config: Option<PathBuf>, args: crate::import::Args) -> ExitCode {
    let (cfg, rt) = match configured(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match rt.block_on(crate::import::run(&cfg, &args)) {
        Ok(outcome) => outcome.code(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Log lines on standard output, `RUST_LOG` (default `info`) choosing what. Shoppers' email
/// addresses and phone numbers never appear at info and above (only the `console` channel prints
/// them, as its output, not as log lines).
fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

async fn serve(cfg: HubConfig, path: PathBuf) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&cfg.server.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.server.listen))?;
    let running = crate::app::start_default(&cfg, listener, shutdown_signal()).await?;
    tracing::info!(
        addr = %running.addr,
        config = %path.display(),
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
    // SIGHUP: read the file again; a bad one changes nothing and says why.
    if let Some(reload) = running.state.reload.clone() {
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    let reload = reload.clone();
                    match tokio::task::spawn_blocking(move || reload.reload()).await {
                        Ok(Ok(r)) => tracing::info!(
                            added = ?r.added, changed = ?r.changed, retired = ?r.retired,
                            "SIGHUP: configuration reloaded."
                        ),
                        Ok(Err(problems)) => tracing::warn!(
                            %problems,
                            "SIGHUP: the configuration has problems; nothing changed."
                        ),
                        Err(e) => tracing::warn!(error = %e, "SIGHUP: reload did not finish."),
                    }
                }
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_order_and_the_message_name_every_place() {
        let env: crate::config::Env = [("HOME".to_string(), "/home/ann".to_string())].into();
        let found = config_candidates(
            Path::new("/srv/shop"),
            &env,
            Some(Path::new("/opt/cartback/bin/cartback")),
            Path::new("/src/cartback"),
        );
        let want: Vec<PathBuf> = [
            "/srv/shop/config/cartback.toml",
            "/srv/shop/cartback.toml",
            "/home/ann/.config/cartback/cartback.toml",
            "/etc/cartback/cartback.toml",
            "/opt/cartback/bin/config/cartback.toml",
            "/opt/cartback/config/cartback.toml",
            "/opt/config/cartback.toml",
            "/config/cartback.toml",
            "/src/cartback/config/cartback.toml",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(found, want);
        let xdg: crate::config::Env = [
            ("HOME".to_string(), "/home/ann".to_string()),
            ("XDG_CONFIG_HOME".to_string(), "/cfg".to_string()),
        ]
        .into();
        assert_eq!(
            config_candidates(Path::new("/w"), &xdg, None, Path::new("/w"))[2],
            PathBuf::from("/cfg/cartback/cartback.toml")
        );
        let m = not_found_message(&want);
        for p in &want {
            assert!(m.contains(&format!("  {}\n", p.display())), "{m}");
        }
        assert!(m.contains("--config"), "{m}");
        assert!(m.contains("CARTBACK_CONFIG="), "{m}");
    }
}
