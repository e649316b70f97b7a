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
}

/// A configured web channel (the on-site pop-up), by site key.
#[derive(Debug, Clone)]
pub struct Site {
    pub channel_id: String,
    pub settings: cartback_web::WebSettings,
}
