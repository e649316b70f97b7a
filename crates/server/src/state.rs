//! What every handler shares.

use crate::settings::ServerSettings;
use cartback_core::{Clock, Source};
use cartback_engine::Engine;
use cartback_store::Store;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Configured sources by id (the `{source_id}` of `/webhooks/{source_id}`).
    pub sources: Arc<HashMap<String, Arc<dyn Source>>>,
    pub settings: Arc<ServerSettings>,
    pub clock: Arc<dyn Clock>,
    pub engine: Arc<Engine>,
    /// Web channels by site key (the on-site pop-up).
    pub sites: Arc<HashMap<String, Site>>,
    /// Reads the configuration again and puts its flows, templates and caps in force
    /// (`POST /api/v1/config/reload`, `SIGHUP`); none when the hub was not started from a file.
    pub reload: Option<Arc<dyn Reload>>,
    /// Import jobs (`/api/v1/sources/{id}/import`): the sources' importers and the running jobs.
    pub imports: Arc<cartback_engine::import::Imports>,
}

/// A configuration reload: validated first; a bad file changes nothing and says why.
pub trait Reload: Send + Sync + std::fmt::Debug {
    /// What changed, or every problem (one per line) when the file is not valid.
    fn reload(&self) -> Result<cartback_engine::live::ReloadReport, String>;
}

/// A configured web channel (the on-site pop-up), by site key.
#[derive(Debug, Clone)]
pub struct Site {
    pub channel_id: String,
    pub settings: cartback_web::WebSettings,
}
