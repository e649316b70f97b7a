//! `[store.journal]`: whether webhooks are answered from the journal, and its limits.

/// `[store.journal]`: the ingest journal (SQLite; PostgreSQL commits every webhook inline).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSettings {
    /// Answer webhooks once their record is flushed to the journal (on by default). Off: every
    /// webhook waits for its whole commit; records left from an earlier run are still applied.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// A caller with fewer than this many records ahead of it waits for its own projection and
    /// is answered with the effects (`0`: never wait unless the journal is full).
    #[serde(default = "default_wait_below")]
    pub wait_below: u32,
    /// Records waiting to be applied, in MiB of journal, past which every caller waits for its
    /// own projection (backpressure).
    #[serde(default = "default_max_pending_mb")]
    pub max_pending_mb: u32,
}

fn default_enabled() -> bool {
    true
}

fn default_wait_below() -> u32 {
    32
}

fn default_max_pending_mb() -> u32 {
    128
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings {
            enabled: default_enabled(),
            wait_below: default_wait_below(),
            max_pending_mb: default_max_pending_mb(),
        }
    }
}

impl JournalSettings {
    pub fn validate(&self) -> Vec<cartback_core::Problem> {
        let mut errors = Vec::new();
        if self.wait_below > 1_000_000 {
            errors.push(cartback_core::Problem::new(
                "journal.wait_below",
                "must be at most 1000000",
            ));
        }
        if self.max_pending_mb == 0 || self.max_pending_mb > 65_536 {
            errors.push(cartback_core::Problem::new(
                "journal.max_pending_mb",
                "must be between 1 and 65536",
            ));
        }
        errors
    }
}
