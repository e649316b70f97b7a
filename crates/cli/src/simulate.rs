//! `cartback simulate --config NEW.toml`: the events the store recorded in a window, applied
//! again through NEW.toml's flows on a virtual clock with nothing sent
//! (`cartback_engine::simulate`), printed beside what the running configuration sent
//! (`cartback_engine::forecast`).
//!
//! The live store is only read (SQLite's readers do not disturb a running hub); the new flows run
//! on a scratch SQLite database in a temporary folder, deleted at the end.

use crate::config::HubConfig;
use cartback_core::{ManualClock, SystemClock};
use cartback_engine::forecast::{self, FlowForecast, Simulation};
use cartback_engine::report::FlowReport;
use cartback_engine::Engine;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::sync::Arc;

/// What to simulate: the new configuration, the running one, the window.
pub struct Request<'a> {
    pub new: &'a HubConfig,
    pub running: &'a HubConfig,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

/// Runs the simulation and returns its answer.
pub async fn simulate(req: Request<'_>) -> anyhow::Result<Simulation> {
    let (from, to) = cartback_server::flows_api::window(req.from, req.to, Utc::now())
        .map_err(anyhow::Error::msg)?;
    let url = req.running.store_url();
    let live = cartback_store::open_with(&url, 2)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store at {url}: {e}"))?;
    let actual_engine = crate::app::build_engine(req.running, live.clone(), Arc::new(SystemClock))?;
    let actual = reports(&actual_engine, from, to).await?;

    let scratch_dir = tempfile::tempdir()?;
    let flows = cartback_engine::flows::compile(&req.new.flows).map_err(anyhow::Error::msg)?;
    let rules = Arc::new(cartback_engine::rules::LiveRules::new(&flows));
    let scratch: Arc<dyn cartback_store::Store> = Arc::new(
        cartback_store::SqlStore::open_scratch(&scratch_dir.path().join("simulation.db"))
            .await
            .map_err(|e| anyhow::anyhow!("cannot open a scratch database: {e}"))?
            .with_rules(rules.clone()),
    );
    let clock = Arc::new(ManualClock::new(from));
    let (engine, sends) = crate::app::build_engine(req.new, scratch.clone(), clock.clone())?
        .with_rules(rules)
        .dry_run();
    let replayed = cartback_engine::simulate::replay(&engine, &clock, live.as_ref(), from, to)
        .await
        .map_err(|e| anyhow::anyhow!("the replay stopped: {e}"))?;
    let simulated = reports(&engine, from, to).await?;
    let sends = sends.take();
    scratch.close().await;
    live.close().await;
    Ok(forecast::compare(
        from, to, replayed, &simulated, &actual, &sends,
    ))
}

async fn reports(
    engine: &Engine,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<FlowReport>> {
    let mut out = Vec::new();
    for id in engine.flow_ids() {
        if let Some(r) = engine.report(&id, from, to).await? {
            out.push(r);
        }
    }
    Ok(out)
}

/// The command: a table (or the JSON answer).
pub async fn run(req: Request<'_>, json: bool) -> anyhow::Result<String> {
    let sim = simulate(req).await?;
    if json {
        return Ok(serde_json::to_string_pretty(&sim)? + "\n");
    }
    Ok(table(&sim))
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// `3h 05m`, `2d 4h`, `45s`.
fn span(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "-".into(), |n| n.to_string())
}

fn table(sim: &Simulation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Simulated {} → {} (UTC): {} events applied again, {} refused by the new configuration, {} timers fired; nothing was sent.",
        day(sim.from),
        day(sim.to),
        sim.replayed.events,
        sim.replayed.refused,
        sim.replayed.timers
    );
    let _ = writeln!(
        out,
        "Each flow: what the new configuration would have sent, beside what the running one sent (actual)."
    );
    for f in &sim.flows {
        flow(&mut out, f);
    }
    let _ = writeln!(
        out,
        "\nOpens and clicks of the messages really sent are not replayed: a step on `opened` or `clicked` sees none."
    );
    out
}

fn flow(out: &mut String, f: &FlowForecast) {
    let _ = writeln!(out);
    let title = if f.simulated {
        format!("flow {}", f.flow_id)
    } else {
        format!(
            "flow {} (not in the new configuration: it would send nothing)",
            f.flow_id
        )
    };
    let _ = writeln!(out, "{title}");
    let _ = writeln!(
        out,
        "  carts enrolled   {:>7} treated, {:>5} held out    actual {} treated, {} held out",
        f.enrolled,
        f.held_out,
        opt(f.actual_enrolled),
        opt(f.actual_held_out)
    );
    let _ = writeln!(
        out,
        "  {:<4} {:<34} {:<12} {:>8} {:>6}  {:<33} {:>12}  {:>8}",
        "step", "name", "channel", "messages", "people", "sent between", "after cart", "actual"
    );
    for s in &f.steps {
        let step = if s.step == 0 {
            "-".into()
        } else {
            s.step.to_string()
        };
        let between = match (s.first, s.last) {
            (Some(a), Some(b)) => format!("{} – {}", day(a), day(b)),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "  {:<4} {:<34} {:<12} {:>8} {:>6}  {:<33} {:>12}  {:>8}",
            step,
            truncate(&s.name, 34),
            truncate(&s.channel, 12),
            s.messages,
            s.recipients,
            between,
            s.median_after_cart_secs
                .map_or_else(|| "-".into(), |x| format!("median {}", span(x))),
            opt(s.actual_messages)
        );
    }
    match &f.expected {
        Some(e) => {
            let basis = if e.basis == "flow" {
                format!("this flow's {} measured carts", e.measured_carts)
            } else {
                format!(
                    "every running flow's {} carts pooled (this flow has too few of its own)",
                    e.measured_carts
                )
            };
            let _ = write!(
                out,
                "  expected conversions {:.1} ({} carts × {:.1}%",
                e.conversions,
                f.enrolled,
                e.treated_rate * 100.0
            );
            match (e.holdout_rate, e.without_reminders, e.added) {
                (Some(h), Some(w), Some(a)) => {
                    let _ = writeln!(
                        out,
                        "); without reminders {w:.1} (holdout {:.1}%): {a:+.1} from the flow; rates from {basis}",
                        h * 100.0
                    );
                }
                _ => {
                    let _ = writeln!(out, "); no holdout measured; rates from {basis}");
                }
            }
        }
        None if f.simulated => {
            let _ = writeln!(
                out,
                "  expected conversions: no measured rate yet (no flow enrolled a cart in the window)"
            );
        }
        None => {}
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(45), "45s");
        assert_eq!(span(600), "10m");
        assert_eq!(span(3600 + 300), "1h 05m");
        assert_eq!(span(2 * 86400 + 4 * 3600), "2d 4h");
    }
}
