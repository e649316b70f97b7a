//! `cartback report --flow ID`: the same report as `GET /api/v1/flows/{id}/report`, as a table.

use crate::config::HubConfig;
use cartback_core::SystemClock;
use cartback_engine::report::{FlowReport, GroupStats, MessageStats};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

pub async fn run(
    cfg: &HubConfig,
    flow: &str,
    from: Option<&str>,
    to: Option<&str>,
    json: bool,
) -> anyhow::Result<String> {
    let url = cfg.store_url();
    let store = cartback_store::open_with(&url, 2)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store at {url}: {e}"))?;
    let engine = crate::app::build_engine(cfg, store.clone(), Arc::new(SystemClock))?;
    let (from, to) = cartback_server::flows_api::window(from, to, chrono::Utc::now())
        .map_err(anyhow::Error::msg)?;
    let report = engine.report(flow, from, to).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "no flow {flow:?} (configured: {})",
            engine.flow_ids().join(", ")
        )
    })?;
    store.close().await;
    if json {
        return Ok(serde_json::to_string_pretty(&report)? + "\n");
    }
    Ok(table(&report))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn money(r: &BTreeMap<String, String>) -> String {
    if r.is_empty() {
        return "-".into();
    }
    r.iter()
        .map(|(c, a)| format!("{c} {a}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn group_line(out: &mut String, name: &str, g: &GroupStats) {
    let _ = writeln!(
        out,
        "{name:<10} {:>9} {:>10} {:>8}  {}",
        g.enrolled,
        g.converted,
        pct(g.conversion_rate),
        money(&g.revenue)
    );
}

fn stats_line(out: &mut String, head: &str, s: &MessageStats) {
    let _ = writeln!(
        out,
        "{head:<18} {:>6} {:>10} {:>7} {:>8} {:>11} {:>6} {:>10}  {}",
        s.sent,
        s.delivered,
        s.opened,
        s.clicked,
        s.click_rate.map(pct).unwrap_or_else(|| "-".into()),
        s.unsubscribed,
        s.converted,
        money(&s.revenue)
    );
}

/// The report as a plain-text table.
pub fn table(r: &FlowReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Flow {}  {} → {}",
        r.flow_id,
        r.from.format("%Y-%m-%d %H:%M"),
        r.to.format("%Y-%m-%d %H:%M")
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<10} {:>9} {:>10} {:>8}  revenue",
        "group", "enrolled", "converted", "rate"
    );
    group_line(&mut out, "treated", &r.treated);
    group_line(&mut out, "holdout", &r.holdout);
    match &r.comparison {
        Some(c) => {
            let _ = writeln!(
                out,
                "uplift {:+.1} pts (95% CI {:+.1} to {:+.1}), z = {:.2}, p = {:.3}",
                c.uplift * 100.0,
                c.ci95_low * 100.0,
                c.ci95_high * 100.0,
                c.z,
                c.p_value
            );
        }
        None => {
            let _ = writeln!(
                out,
                "uplift: needs enrolments in both groups (set holdout_percent)"
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<18} {:>6} {:>10} {:>7} {:>8} {:>11} {:>6} {:>10}  revenue",
        "step / channel",
        "sent",
        "delivered",
        "opened",
        "clicked",
        "click-rate",
        "unsub",
        "converted"
    );
    for s in &r.steps {
        stats_line(&mut out, &format!("{} {}", s.step, s.channel), &s.stats);
    }
    for c in &r.channels {
        stats_line(&mut out, &format!("all {}", c.channel), &c.stats);
    }
    stats_line(&mut out, "total", &r.totals);
    // Step numbers count from 1, as in check-config, the APIs and the dashboard; their names.
    let mut named: Vec<(u32, &str)> = r
        .steps
        .iter()
        .map(|s| (s.step, s.name.as_str()))
        .chain(r.outcomes.iter().map(|o| (o.step, o.name.as_str())))
        .filter(|(_, name)| !name.is_empty())
        .collect();
    named.sort();
    named.dedup();
    if !named.is_empty() {
        let _ = writeln!(out);
        for (step, name) in named {
            let _ = writeln!(out, "step {step}: {name}");
        }
    }
    if !r.variants.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>10} {:>8}  revenue",
            "variant", "enrolled", "converted", "rate"
        );
        for v in &r.variants {
            group_line(&mut out, &v.variant, &v.group);
        }
    }
    if let Some(reasons) = &r.reasons {
        reasons_table(&mut out, reasons);
    }
    out
}

/// "Why they left": each reason's share, overall and per cart-value band; the newest free text.
fn reasons_table(out: &mut String, r: &cartback_engine::survey_report::ReasonsReport) {
    let _ = writeln!(out);
    let _ = writeln!(out, "why they left: {} answers", r.answers);
    let mut head = format!("{:<36} {:>8} {:>7}", "reason", "answers", "share");
    for b in &r.bands {
        let _ = write!(head, " {:>16}", b.label);
    }
    let _ = writeln!(out, "{head}");
    for reason in &r.reasons {
        let label: String = reason.label.chars().take(36).collect();
        let mut line = format!("{label:<36} {:>8} {:>7}", reason.answers, pct(reason.share));
        for b in &r.bands {
            let share = b
                .reasons
                .iter()
                .find(|x| x.id == reason.id)
                .map_or(0.0, |x| x.share);
            let _ = write!(line, " {:>16}", pct(share));
        }
        let _ = writeln!(out, "{line}");
    }
    for t in &r.other_texts {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            t.answered_at.format("%Y-%m-%d"),
            t.shopper.as_deref().unwrap_or("(erased)"),
            t.text.replace(['\n', '\r'], " ")
        );
    }
}
