//! What can change while the hub runs: the flows, templates and caps (a configuration reload,
//! `SIGHUP` or `POST /api/v1/config/reload`), and which flows are paused (`POST
//! /api/v1/flows/{id}/pause`, kept in the store so every instance sees it). A reload swaps them
//! whole, already validated; runs in flight carry on with the new definitions. A flow removed
//! from the file is kept, retired: it enrols nothing more and lets its running runs finish. A
//! paused flow enrols nothing and its runs wait, step by step, until it is resumed.

use crate::config::Cap;
use crate::flows::Flow;
use crate::front::Engine;
use crate::template::Templates;
use cartback_store::StoreResult;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The definitions in force.
#[derive(Debug)]
pub struct Live {
    pub flows: BTreeMap<String, Flow>,
    pub templates: Templates,
    pub limits: BTreeMap<String, Cap>,
}

/// How stale the paused set may be: other instances' pauses are seen within this.
pub const PAUSED_REFRESH: Duration = Duration::from_secs(2);

/// How long a paused flow's run waits before it looks again.
pub const PAUSED_WAIT: Duration = Duration::from_secs(60);

/// The paused flows, as last read from the store.
#[derive(Debug, Default)]
pub(crate) struct Paused {
    pub flows: BTreeSet<String>,
    pub read_at: Option<Instant>,
}

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    /// Flows no longer in the file: retired (no new enrolments; running runs finish).
    pub retired: Vec<String>,
}

pub(crate) fn new_live(
    flows: BTreeMap<String, Flow>,
    templates: Templates,
    limits: BTreeMap<String, Cap>,
) -> RwLock<Arc<Live>> {
    RwLock::new(Arc::new(Live {
        flows,
        templates,
        limits,
    }))
}

impl Engine {
    /// The definitions in force (a snapshot: a reload does not change it under the caller).
    pub fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts new flows, templates and caps in force (validated by the caller). Flows the new set
    /// lacks are kept, retired, so their running runs finish.
    pub fn reload(
        &self,
        mut flows: BTreeMap<String, Flow>,
        templates: Templates,
        limits: BTreeMap<String, Cap>,
    ) -> ReloadReport {
        let old = self.live();
        let mut report = ReloadReport::default();
        for (id, flow) in &flows {
            match old.flows.get(id) {
                None => report.added.push(id.clone()),
                Some(o)
                    if o.retired
                        || format!("{:?}", o.settings) != format!("{:?}", flow.settings) =>
                {
                    report.changed.push(id.clone())
                }
                Some(_) => {}
            }
        }
        for (id, flow) in &old.flows {
            if !flows.contains_key(id) {
                let mut kept = flow.clone();
                if !kept.retired {
                    report.retired.push(id.clone());
                }
                kept.retired = true;
                flows.insert(id.clone(), kept);
            }
        }
        if let Some(rules) = &self.rules_handle {
            rules.update(&flows);
        }
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Live {
            flows,
            templates,
            limits,
        });
        tracing::info!(
            added = report.added.len(),
            changed = report.changed.len(),
            retired = report.retired.len(),
            "Configuration reloaded."
        );
        report
    }

    /// Whether a flow is paused, as the store said at most [`PAUSED_REFRESH`] ago.
    pub(crate) async fn is_paused(&self, flow_id: &str) -> StoreResult<bool> {
        {
            let p = self.paused.read().unwrap_or_else(|p| p.into_inner());
            if p.read_at.is_some_and(|t| t.elapsed() < PAUSED_REFRESH) {
                return Ok(p.flows.contains(flow_id));
            }
        }
        Ok(self.paused_flows().await?.contains(flow_id))
    }

    /// The paused flows, re-read from the store when older than [`PAUSED_REFRESH`].
    pub async fn paused_flows(&self) -> StoreResult<BTreeSet<String>> {
        {
            let p = self.paused.read().unwrap_or_else(|p| p.into_inner());
            if p.read_at.is_some_and(|t| t.elapsed() < PAUSED_REFRESH) {
                return Ok(p.flows.clone());
            }
        }
        let flows: BTreeSet<String> = self.store.paused_flows().await?.into_iter().collect();
        let mut p = self.paused.write().unwrap_or_else(|p| p.into_inner());
        p.flows = flows.clone();
        p.read_at = Some(Instant::now());
        Ok(flows)
    }

    /// Pauses or resumes a flow for every instance; `false` for a flow that is not configured.
    pub async fn set_paused(&self, flow_id: &str, paused: bool) -> StoreResult<bool> {
        if !self.live().flows.contains_key(flow_id) {
            return Ok(false);
        }
        self.store
            .set_flow_paused(flow_id, paused, self.clock.now())
            .await?;
        // Seen here at once; elsewhere within PAUSED_REFRESH.
        self.paused
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .read_at = None;
        tracing::info!(%flow_id, paused, "Flow paused or resumed.");
        Ok(true)
    }
}
