//! What a simulation (`simulate.rs`) tells a shop: per flow of the new configuration, what would
//! have been sent — per step and channel, to how many, when — next to what the running
//! configuration actually sent in the same window, and the conversions to expect, from the
//! conversion rates the running flows measured against their holdout. Pure: no store.

use crate::report::FlowReport;
use crate::simulate::{DrySend, ReplayTally};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A simulation's whole answer (`cartback simulate --json` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub replayed: ReplayTally,
    /// The flows of the simulated configuration, then the running one's flows it no longer has.
    pub flows: Vec<FlowForecast>,
}

/// One flow, simulated beside its actual run.
#[derive(Debug, Clone, Serialize)]
pub struct FlowForecast {
    pub flow_id: String,
    /// `false`: a flow only the running configuration has (the new one would send nothing).
    pub simulated: bool,
    /// Carts the simulated flow enrolled, treated and held out.
    pub enrolled: u64,
    pub held_out: u64,
    /// The same, as the running configuration did; `null` when it has no such flow.
    pub actual_enrolled: Option<u64>,
    pub actual_held_out: Option<u64>,
    pub steps: Vec<StepForecast>,
    /// `null` when nothing measured a rate yet.
    pub expected: Option<Expected>,
}

/// One step on one channel.
#[derive(Debug, Clone, Serialize)]
pub struct StepForecast {
    /// Counted from 1; 0 for a hand-off's closing message (the cart was bought).
    pub step: u32,
    pub name: String,
    pub channel: String,
    /// Messages the simulation would have sent, and to how many people.
    pub messages: u64,
    pub recipients: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// The median time from the cart's last change to the message, in seconds.
    pub median_after_cart_secs: Option<i64>,
    /// Messages the running configuration sent for this flow, step and channel in the window.
    pub actual_messages: Option<u64>,
}

/// Conversions to expect from the simulated enrolment at measured rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expected {
    /// Where the rates come from: `flow` (this flow's own measured runs) or `all_flows` (every
    /// running flow pooled: a new flow has none of its own).
    pub basis: &'static str,
    /// Carts the rates were measured on (treated + holdout).
    pub measured_carts: u64,
    pub treated_rate: f64,
    /// `null` when the measurement had no holdout.
    pub holdout_rate: Option<f64>,
    /// Treated carts × treated rate.
    pub conversions: f64,
    /// Treated carts × holdout rate: what they would have bought without a reminder.
    pub without_reminders: Option<f64>,
    /// The difference: conversions the reminders add.
    pub added: Option<f64>,
}

/// Rates are taken from a flow's own runs only with at least this many treated carts; else pooled.
pub const MIN_OWN_CARTS: u64 = 30;

/// Puts the simulation's reports and sends beside the running configuration's reports.
pub fn compare(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    replayed: ReplayTally,
    simulated: &[FlowReport],
    actual: &[FlowReport],
    sends: &[DrySend],
) -> Simulation {
    let actual_by_id: BTreeMap<&str, &FlowReport> =
        actual.iter().map(|r| (r.flow_id.as_str(), r)).collect();
    let pooled = pooled_rates(actual);
    let mut flows: Vec<FlowForecast> = simulated
        .iter()
        .map(|sim| {
            let real = actual_by_id.get(sim.flow_id.as_str()).copied();
            let own = real
                .filter(|r| r.treated.enrolled >= MIN_OWN_CARTS)
                .map(|r| ("flow", rates(r)));
            let basis = own.or_else(|| pooled.map(|p| ("all_flows", p)));
            FlowForecast {
                flow_id: sim.flow_id.clone(),
                simulated: true,
                enrolled: sim.treated.enrolled,
                held_out: sim.holdout.enrolled,
                actual_enrolled: real.map(|r| r.treated.enrolled),
                actual_held_out: real.map(|r| r.holdout.enrolled),
                steps: steps(sim, real, sends),
                expected: basis.map(|(name, m)| expect(name, m, sim.treated.enrolled)),
            }
        })
        .collect();
    for real in actual {
        if simulated.iter().any(|s| s.flow_id == real.flow_id) {
            continue;
        }
        flows.push(FlowForecast {
            flow_id: real.flow_id.clone(),
            simulated: false,
            enrolled: 0,
            held_out: 0,
            actual_enrolled: Some(real.treated.enrolled),
            actual_held_out: Some(real.holdout.enrolled),
            steps: real
                .steps
                .iter()
                .map(|s| StepForecast {
                    step: s.step,
                    name: s.name.clone(),
                    channel: s.channel.clone(),
                    messages: 0,
                    recipients: 0,
                    first: None,
                    last: None,
                    median_after_cart_secs: None,
                    actual_messages: Some(s.stats.sent),
                })
                .collect(),
            expected: None,
        });
    }
    Simulation {
        from,
        to,
        replayed,
        flows,
    }
}

/// A measurement: carts and conversions, treated and holdout.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Measured {
    treated: u64,
    treated_converted: u64,
    holdout: u64,
    holdout_converted: u64,
}

fn rates(r: &FlowReport) -> Measured {
    Measured {
        treated: r.treated.enrolled,
        treated_converted: r.treated.converted,
        holdout: r.holdout.enrolled,
        holdout_converted: r.holdout.converted,
    }
}

fn pooled_rates(actual: &[FlowReport]) -> Option<Measured> {
    let sum = actual.iter().map(rates).fold(
        Measured {
            treated: 0,
            treated_converted: 0,
            holdout: 0,
            holdout_converted: 0,
        },
        |a, b| Measured {
            treated: a.treated + b.treated,
            treated_converted: a.treated_converted + b.treated_converted,
            holdout: a.holdout + b.holdout,
            holdout_converted: a.holdout_converted + b.holdout_converted,
        },
    );
    (sum.treated > 0).then_some(sum)
}

fn expect(basis: &'static str, m: Measured, treated_carts: u64) -> Expected {
    let treated_rate = m.treated_converted as f64 / m.treated as f64;
    let holdout_rate = (m.holdout > 0).then(|| m.holdout_converted as f64 / m.holdout as f64);
    let carts = treated_carts as f64;
    let conversions = carts * treated_rate;
    let without = holdout_rate.map(|h| carts * h);
    Expected {
        basis,
        measured_carts: m.treated + m.holdout,
        treated_rate,
        holdout_rate,
        conversions,
        without_reminders: without,
        added: without.map(|w| conversions - w),
    }
}

fn steps(sim: &FlowReport, real: Option<&FlowReport>, sends: &[DrySend]) -> Vec<StepForecast> {
    let mut keys: BTreeSet<(u32, String)> = BTreeSet::new();
    let mut names: BTreeMap<(u32, String), String> = BTreeMap::new();
    for s in sim
        .steps
        .iter()
        .chain(real.map(|r| &r.steps[..]).unwrap_or(&[]))
    {
        keys.insert((s.step, s.channel.clone()));
        names
            .entry((s.step, s.channel.clone()))
            .or_insert_with(|| s.name.clone());
    }
    let mine: Vec<&DrySend> = sends.iter().filter(|d| d.flow == sim.flow_id).collect();
    for d in &mine {
        keys.insert((d.step, d.channel.clone()));
    }
    keys.into_iter()
        .map(|(step, channel)| {
            let these: Vec<&&DrySend> = mine
                .iter()
                .filter(|d| d.step == step && d.channel == channel)
                .collect();
            let mut delays: Vec<i64> = these
                .iter()
                .filter_map(|d| Some((d.at - d.cart_updated_at?).num_seconds()))
                .collect();
            delays.sort_unstable();
            StepForecast {
                step,
                name: names
                    .get(&(step, channel.clone()))
                    .cloned()
                    .unwrap_or_else(|| {
                        if step == 0 {
                            "closing".into()
                        } else {
                            String::new()
                        }
                    }),
                messages: these.len() as u64,
                recipients: these
                    .iter()
                    .map(|d| d.contact.as_str())
                    .collect::<BTreeSet<_>>()
                    .len() as u64,
                first: these.iter().map(|d| d.at).min(),
                last: these.iter().map(|d| d.at).max(),
                median_after_cart_secs: delays.get(delays.len() / 2).copied(),
                actual_messages: real.map(|r| {
                    r.steps
                        .iter()
                        .filter(|s| s.step == step && s.channel == channel)
                        .map(|s| s.stats.sent)
                        .sum()
                }),
                channel,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(t: u64, tc: u64, h: u64, hc: u64) -> Measured {
        Measured {
            treated: t,
            treated_converted: tc,
            holdout: h,
            holdout_converted: hc,
        }
    }

    #[test]
    fn expected_conversions_are_carts_times_measured_rates() {
        let e = expect("flow", measured(200, 30, 50, 4), 100);
        assert_eq!(e.measured_carts, 250);
        assert!((e.treated_rate - 0.15).abs() < 1e-12);
        assert!((e.conversions - 15.0).abs() < 1e-9);
        assert!((e.without_reminders.unwrap() - 8.0).abs() < 1e-9);
        assert!((e.added.unwrap() - 7.0).abs() < 1e-9);
    }

    #[test]
    fn no_holdout_means_no_baseline() {
        let e = expect("all_flows", measured(10, 1, 0, 0), 40);
        assert_eq!(e.holdout_rate, None);
        assert_eq!(e.without_reminders, None);
        assert_eq!(e.added, None);
        assert!((e.conversions - 4.0).abs() < 1e-9);
    }
}
