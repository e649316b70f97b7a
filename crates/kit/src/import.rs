//! [`ThroughPoller`]: an [`Importer`] made of a platform's [`Poller`]: the poller's cursor starts
//! at the import's `since` (the connector says how to write that cursor) and the import ends when a
//! poll says nothing more is waiting (caught up). The poller's event ids are the webhook's (or the
//! live poller's), so an imported record and the same record polled or pushed later are one.

use cartback_core::{ImportPage, Importer, PollError, Poller};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Writes the poller's cursor for "everything changed at or after `since`".
pub type StartCursor = fn(DateTime<Utc>) -> String;

/// An importer that runs a poller from `since` until it is caught up.
#[derive(Debug, Clone)]
pub struct ThroughPoller {
    poller: Arc<dyn Poller>,
    start: StartCursor,
}

impl ThroughPoller {
    pub fn new(poller: Arc<dyn Poller>, start: StartCursor) -> Self {
        ThroughPoller { poller, start }
    }
}

#[async_trait::async_trait]
impl Importer for ThroughPoller {
    fn kind(&self) -> &'static str {
        self.poller.kind()
    }

    async fn page(
        &self,
        source_id: &str,
        cursor: Option<&str>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ImportPage, PollError> {
        let start;
        let at = match cursor {
            Some(c) => c,
            None => {
                start = (self.start)(since);
                &start
            }
        };
        let batch = self.poller.poll(source_id, Some(at), now).await?;
        Ok(ImportPage {
            records: batch.events.len() as u64,
            batch,
            total: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::PollBatch;
    use std::sync::Mutex;
    use std::time::Duration;

    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Poller for Seen {
        fn kind(&self) -> &'static str {
            "demo"
        }
        fn interval(&self) -> Duration {
            Duration::from_secs(60)
        }
        async fn poll(
            &self,
            _: &str,
            cursor: Option<&str>,
            _: DateTime<Utc>,
        ) -> Result<PollBatch, PollError> {
            let c = cursor.unwrap_or_default().to_string();
            self.0.lock().unwrap().push(c.clone());
            Ok(PollBatch {
                events: Vec::new(),
                cursor: Some(format!("{c}+")),
                more: c.len() < 3,
            })
        }
    }

    #[tokio::test]
    async fn the_first_page_starts_at_since_and_the_rest_follow_the_poller() {
        let poller = Arc::new(Seen::default());
        let import = ThroughPoller::new(poller.clone(), |_| "s".to_string());
        let now = Utc::now();
        let p1 = import.page("x", None, now, now).await.unwrap();
        assert!(p1.batch.more);
        let p2 = import
            .page("x", p1.batch.cursor.as_deref(), now, now)
            .await
            .unwrap();
        let p3 = import
            .page("x", p2.batch.cursor.as_deref(), now, now)
            .await
            .unwrap();
        assert!(!p3.batch.more, "caught up");
        assert_eq!(*poller.0.lock().unwrap(), ["s", "s+", "s++"]);
    }
}
