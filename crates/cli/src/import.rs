//! `cartback import --source ID --since 30d`: a source's history read into the hub (the
//! backfill). The running hub runs the import (its admin API, `POST /api/v1/sources/{id}/import`:
//! SQLite is the hub's, and the job's pages go through the same door as webhooks); this command
//! starts it (or resumes a stopped one), follows its status, draws a progress bar when standard
//! error is a terminal (plain lines otherwise), and prints a summary. Ctrl-C asks the hub to stop
//! after the current page and waits for it: the same command resumes there.
//!
//! Exit codes: 0 done, 1 failed (or refused), 130 stopped.

use crate::config::HubConfig;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How often the status is read.
const POLL: Duration = Duration::from_millis(250);
/// How often a plain progress line is written (standard error not a terminal).
const LINE_EVERY: Duration = Duration::from_secs(5);

/// What the command was asked.
#[derive(Debug, Clone)]
pub struct Args {
    pub source: String,
    pub since: String,
    pub hub: Option<String>,
    pub restart: bool,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
    Stopped,
}

impl Outcome {
    pub fn code(self) -> ExitCode {
        match self {
            Outcome::Done => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::FAILURE,
            Outcome::Stopped => ExitCode::from(130),
        }
    }
}

struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last_line: Option<Instant>,
    last_pages: u64,
}

impl Progress {
    fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            last_line: None,
            last_pages: u64::MAX,
        }
    }

    fn show(&mut self, s: &Value) {
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        let message = format!(
            "page {} · carts {} · orders {} · unchanged {}",
            n("pages"),
            n("carts"),
            n("orders"),
            n("unchanged")
        );
        if let Some(bar) = &self.bar {
            if let Some(total) = s["total"].as_u64() {
                if bar.length() != Some(total) {
                    bar.set_length(total);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} [{bar:30}] {pos}/{len} records  {msg}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                }
            }
            bar.set_position(n("records"));
            bar.set_message(message);
            return;
        }
        let due = !matches!(self.last_line, Some(t) if t.elapsed() < LINE_EVERY);
        if due && n("pages") != self.last_pages {
            let of = s["total"]
                .as_u64()
                .map(|t| format!(" of {t}"))
                .unwrap_or_default();
            eprintln!("importing: {} records{of}, {message}", n("records"));
            self.last_line = Some(Instant::now());
            self.last_pages = n("pages");
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The summary printed at the end.
pub fn summary(s: &Value, took: Duration) -> String {
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    let state = s["state"].as_str().unwrap_or("?");
    let mut out = format!(
        "import of source {}: {state} (records updated since {})\n",
        s["source"].as_str().unwrap_or("?"),
        s["since"].as_str().unwrap_or("?")
    );
    let of = s["total"]
        .as_u64()
        .map(|t| format!(" of {t}"))
        .unwrap_or_default();
    out.push_str(&format!("  pages      {}\n", n("pages")));
    out.push_str(&format!("  records    {}{of}\n", n("records")));
    out.push_str(&format!("  events     {}\n", n("events")));
    out.push_str(&format!(
        "  carts      {} new or updated ({} too old to remind: never reminded)\n",
        n("carts"),
        n("too_old")
    ));
    out.push_str(&format!("  orders     {} new\n", n("orders")));
    out.push_str(&format!(
        "  unchanged  {} (already known: imported before or delivered by webhook)\n",
        n("unchanged")
    ));
    if n("skipped") > 0 {
        out.push_str(&format!(
            "  skipped    {} (failed the checks; see the hub's log)\n",
            n("skipped")
        ));
    }
    if n("retries") > 0 {
        out.push_str(&format!("  retries    {}\n", n("retries")));
    }
    out.push_str(&format!("  took       {:.1}s\n", took.as_secs_f64()));
    if let Some(e) = s["error"].as_str() {
        out.push_str(&format!("  error      {e}\n"));
    }
    if s["resumed"].as_bool() == Some(true) {
        out.push_str("  (resumed a stopped import: the counts include its earlier pages)\n");
    }
    out
}

/// Runs the command against the hub; prints the summary; how it ended.
pub async fn run(cfg: &HubConfig, args: &Args) -> anyhow::Result<Outcome> {
    let base = crate::send_test::hub_url(cfg, args.hub.as_deref());
    let token = cfg
        .server
        .admin_token
        .as_ref()
        .map(|t| t.expose())
        .ok_or_else(|| {
            anyhow::anyhow!(
            "server.admin_token is not set: set CARTBACK_ADMIN_TOKEN (import uses the admin API)"
        )
        })?;
    let url = format!("{base}/api/v1/sources/{}/import", args.source);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let started = Instant::now();
    let resp = client
        .post(&url)
        .bearer_auth(token)
        .json(&json!({ "since": args.since, "restart": args.restart }))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "no hub answers at {base} ({e}): start it with `cartback serve`, or give --hub URL"
            )
        })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    match status.as_u16() {
        202 => {
            let s: Value = serde_json::from_str(&text)?;
            if s["resumed"].as_bool() == Some(true) {
                eprintln!(
                    "resuming the import stopped at page {} (records updated since {})",
                    s["pages"],
                    s["since"].as_str().unwrap_or("?")
                );
            }
        }
        409 => eprintln!("an import of this source is already running; following it"),
        _ => {
            let reason = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| text.trim().to_string());
            anyhow::bail!("the hub refused the import ({status}): {reason}");
        }
    }
    let mut progress = Progress::new();
    let mut stopping = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let last = loop {
        let s: Value = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if s["state"].as_str() != Some("running") {
            break s;
        }
        progress.show(&s);
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut ctrl_c, if !stopping => {
                stopping = true;
                progress.finish();
                eprintln!("stopping after the current page...");
                let _ = client.delete(&url).bearer_auth(token).send().await;
            }
        }
    };
    progress.finish();
    print!("{}", summary(&last, started.elapsed()));
    Ok(match last["state"].as_str() {
        Some("done") => Outcome::Done,
        Some("stopped") => {
            println!(
                "stopped at page {}; run the same command again to resume",
                last["pages"]
            );
            Outcome::Stopped
        }
        _ => Outcome::Failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_was_done() {
        let s = json!({
            "source": "shop", "state": "done", "since": "2026-10-29T12:00:00Z", "pages": 3,
            "records": 5, "total": 5, "events": 5, "carts": 3, "orders": 2, "unchanged": 0,
            "too_old": 1, "skipped": 0, "retries": 0, "error": null, "resumed": false
        });
        let text = summary(&s, Duration::from_millis(1500));
        assert!(text.starts_with("import of source shop: done"), "{text}");
        assert!(text.contains("records    5 of 5"), "{text}");
        assert!(
            text.contains("carts      3 new or updated (1 too old"),
            "{text}"
        );
        assert!(text.contains("took       1.5s"), "{text}");
        assert!(!text.contains("skipped"), "{text}");
    }
}
