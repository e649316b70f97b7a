//! Turning a validated [`HubConfig`] into a running hub: store, sources, engine, server.

use crate::config::HubConfig;
use cartback_core::{Clock, Source, SystemClock};
use cartback_engine::import::{Importable, Imports};
use cartback_engine::Engine;
use cartback_server::AppState;
use cartback_store::Store;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

/// Builds the engine: flows, templates, caps, channels.
pub fn build_engine(
    cfg: &HubConfig,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Engine> {
    let templates = cartback_engine::template::Templates::load(&cfg.templates, &cfg.base_dir)
        .map_err(|errors| {
            anyhow::anyhow!(errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "))
        })?;
    let flows = cartback_engine::flows::compile(&cfg.flows).map_err(|e| anyhow::anyhow!(e))?;
    let limits =
        cartback_engine::flows::compile_limits(&cfg.limits).map_err(|e| anyhow::anyhow!(e))?;
    let mut channels: BTreeMap<String, cartback_engine::Channel> = BTreeMap::new();
    for (id, entry) in &cfg.channels {
        let ctx = cartback_core::SinkContext {
            channel_id: id.clone(),
            public_url: cfg.server.public_base().to_string(),
            timeout: entry.common.timeout.0,
        };
        let sink = entry
            .settings
            .sink(ctx)
            .map_err(|e| anyhow::anyhow!("channel.{id}: {e}"))?
            .ok_or_else(|| anyhow::anyhow!("channel.{id}: type {} builds no sink", entry.kind))?;
        let address = entry.settings.address().ok_or_else(|| {
            anyhow::anyhow!("channel.{id}: type {} has no address kind", entry.kind)
        })?;
        let channel =
            cartback_engine::Channel::with_settings(id.clone(), sink, address, &entry.common);
        channels.insert(id.clone(), channel);
    }
    let engine = Engine::new(
        store,
        clock,
        flows,
        templates,
        limits,
        channels,
        cfg.server.public_base(),
    );
    let mut engine = engine
        .with_link_policy(
            cfg.server
                .link_policy()
                .map_err(|e| anyhow::anyhow!("server.{e}"))?,
        )
        .with_surveys(&cfg.surveys, cfg.channel_surveys.clone());
    engine.timer_lease = cfg.engine.timer_lease.0;
    engine.idle_poll = cfg.engine.poll_interval.0;
    engine.timer_batch = cfg.engine.timer_batch;
    Ok(engine)
}

/// Opens the store and builds every configured source and the engine.
pub async fn build_state(cfg: &HubConfig, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let url = cfg.store_url();
    // The engine's ingest rules (debounce, order matching) for these flows, told to the store once.
    let flows = cartback_engine::flows::compile(&cfg.flows).map_err(|e| anyhow::anyhow!(e))?;
    let rules = Arc::new(cartback_engine::rules::LiveRules::new(&flows));
    let store: Arc<dyn Store> = cartback_store::open_settings(&url, &cfg.store, rules.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store at {url}: {e}"))?;
    let mut sources: HashMap<String, Arc<dyn Source>> = cfg
        .sources
        .iter()
        .filter_map(|(id, entry)| entry.settings.source().map(|s| (id.clone(), s)))
        .collect();
    for (id, entry) in &cfg.channels {
        if let Some(source) = entry.settings.receiver() {
            sources.insert(id.clone(), source);
        }
    }
    // Link tokens are signed with the configured key, else with one the store generates once and
    // keeps, so links stay valid across restarts and instances.
    let key = match &cfg.server.link_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => store
            .hub_key("link_signing", clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the link signing key: {e}"))?,
    };
    let signer = cartback_kit::token::LinkSigner::new(key);
    let engine = Arc::new(
        build_engine(cfg, store.clone(), clock.clone())?
            .with_link_signer(signer)
            .with_rules(rules),
    );
    let sites: HashMap<String, cartback_server::onsite::Site> = cfg
        .channels
        .iter()
        .filter_map(|(id, entry)| {
            let w = entry
                .settings
                .settings()
                .downcast_ref::<cartback_web::WebSettings>()?;
            Some((
                w.site_key.clone(),
                cartback_server::onsite::Site {
                    channel_id: id.clone(),
                    settings: w.clone(),
                },
            ))
        })
        .collect();
    let reload = cfg.file.clone().map(|file| {
        Arc::new(FileReload {
            file,
            engine: engine.clone(),
        }) as Arc<dyn cartback_server::state::Reload>
    });
    let importers = cfg
        .sources
        .iter()
        .map(|(id, entry)| {
            let importable = match entry.settings.importer() {
                Ok(Some(i)) => Importable::Yes(i),
                Ok(None) => Importable::No(format!("its type {} cannot import", entry.kind)),
                Err(e) => Importable::No(e.to_string()),
            };
            (id.clone(), importable)
        })
        .collect();
    let imports = Arc::new(Imports::new(
        engine.clone(),
        importers,
        crate::registry::importing_types(),
    ));
    Ok(AppState {
        imports,
        reload,
        sites: Arc::new(sites),
        store,
        sources: Arc::new(sources),
        settings: Arc::new(cfg.server.clone()),
        clock,
        engine,
    })
}

/// Reloads the configuration file the hub started from: every problem first (nothing changes
/// when there is one), then its flows, templates and caps in force. Sources, channels, the store
/// and `[server]` take effect at the next start.
#[derive(Debug)]
pub struct FileReload {
    file: std::path::PathBuf,
    engine: Arc<Engine>,
}

impl cartback_server::state::Reload for FileReload {
    fn reload(&self) -> Result<cartback_engine::live::ReloadReport, String> {
        let cfg = crate::config::load(&self.file, &crate::config::process_env())
            .map_err(|e| e.to_string().trim_end().to_string())?;
        let templates = cartback_engine::template::Templates::load(&cfg.templates, &cfg.base_dir)
            .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        let flows = cartback_engine::flows::compile(&cfg.flows)?;
        let limits = cartback_engine::flows::compile_limits(&cfg.limits)?;
        Ok(self.engine.reload(flows, templates, limits))
    }
}

/// A running hub: its address and the handle that stops it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    pub state: AppState,
}

/// Serves on `listener` and runs the engine's workers until `shutdown` resolves; then drains
/// in-flight requests, stops the workers and closes the store.
pub async fn start(
    cfg: &HubConfig,
    listener: tokio::net::TcpListener,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    // server.max_connections, not the open-file table, bounds how many clients are served.
    cartback_server::conn::raise_fd_limit(cfg.server.max_connections);
    let state = build_state(cfg, clock).await?;
    let addr = listener.local_addr()?;
    let drain = cfg.server.shutdown_grace.0;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = state.engine.spawn(stop_rx.clone());
    workers.extend(cartback_engine::retention::spawn(
        state.store.clone(),
        state.clock.clone(),
        cfg.retention.clone(),
        stop_rx.clone(),
    ));
    for (id, entry) in &cfg.sources {
        let poller = entry
            .settings
            .poller()
            .map_err(|e| anyhow::anyhow!("source.{id}: {e}"))?;
        if let Some(poller) = poller {
            workers.push(cartback_engine::poll::spawn(
                state.engine.clone(),
                id.clone(),
                poller,
                stop_rx.clone(),
            ));
        }
    }
    let serve_state = state.clone();
    let task = tokio::spawn(async move {
        let store = serve_state.store.clone();
        let imports = serve_state.imports.clone();
        let result = cartback_server::serve(listener, serve_state, shutdown, drain).await;
        // Running imports stop after their current page (resumable), before the store closes;
        // a page still being read after the grace is left to fail (the import resumes before it).
        if tokio::time::timeout(
            drain.max(std::time::Duration::from_secs(5)),
            imports.stop_all(),
        )
        .await
        .is_err()
        {
            tracing::warn!("An import was still reading a page; it resumes from the page before.");
        }
        let _ = stop_tx.send(true);
        for w in workers {
            let _ = w.await;
        }
        store.close().await;
        result
    });
    Ok(Running { addr, task, state })
}

/// [`start`] with the system clock.
pub async fn start_default(
    cfg: &HubConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    start(cfg, listener, Arc::new(SystemClock), shutdown).await
}
