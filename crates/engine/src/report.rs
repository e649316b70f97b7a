//! Flow reports: what each flow, step, channel and variant did, and what it earned against its
//! holdout group, with the uplift's 95% confidence interval and a two-proportion z-test.
//!
//! Conversion (the group comparison) counts a run as converted when an order followed its
//! enrolment within the flow's attribution window — the same rule for treated and holdout runs.
//! Credit to a step and channel goes to the last touch in the window before the order: the last
//! clicked message, else the last delivered, else the last sent. Revenue is kept per currency,
//! never summed across currencies.

use cartback_core::{Currency, Money};
use cartback_store::ReportData;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    pub enrolled: u64,
    pub converted: u64,
    pub conversion_rate: f64,
    /// Decimal strings by currency code.
    pub revenue: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Treated conversion rate minus holdout conversion rate.
    pub uplift: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    pub z: f64,
    pub p_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct MessageStats {
    pub sent: u64,
    pub delivered: u64,
    pub opened: u64,
    pub clicked: u64,
    pub unsubscribed: u64,
    /// Clicks ÷ delivered (click-rate on products); `null` with nothing delivered.
    pub click_rate: Option<f64>,
    /// Orders credited here by last touch.
    pub converted: u64,
    pub revenue: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepStats {
    /// 1-based, as shops count steps.
    pub step: u32,
    /// The step's name (`Flow::step_name_any`); empty for a step the flow no longer has.
    pub name: String,
    pub channel: String,
    #[serde(flatten)]
    pub stats: MessageStats,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelStats {
    pub channel: String,
    #[serde(flatten)]
    pub stats: MessageStats,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantStats {
    pub variant: String,
    #[serde(flatten)]
    pub group: GroupStats,
    #[serde(flatten)]
    pub messages: MessageStats,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowReport {
    pub flow_id: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub enrolled: u64,
    pub held_out: u64,
    pub treated: GroupStats,
    pub holdout: GroupStats,
    /// `null` when either group is empty.
    pub comparison: Option<Comparison>,
    pub totals: MessageStats,
    pub steps: Vec<StepStats>,
    pub channels: Vec<ChannelStats>,
    pub variants: Vec<VariantStats>,
    /// What became of each step in runs (1-based), skips with their reason included: `queued`,
    /// `waited`, `deferred`, `skipped`, `no_consent`, `unverified_address`, `template_error`.
    #[serde(default)]
    pub outcomes: Vec<StepOutcome>,
    /// "Why they left": shares per reason, per cart-value band, the newest free text; `null`
    /// for a flow that asks no survey (`survey_report.rs`).
    #[serde(default)]
    pub reasons: Option<crate::survey_report::ReasonsReport>,
}

/// Runs whose step ended one way.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepOutcome {
    /// 1-based, as shops count steps.
    pub step: u32,
    pub name: String,
    pub outcome: String,
    pub runs: u64,
}

fn rate(x: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        x as f64 / n as f64
    }
}

fn add_revenue(into: &mut BTreeMap<String, i64>, currency: &str, minor: i64) {
    *into.entry(currency.to_string()).or_default() += minor;
}

fn format_revenue(r: &BTreeMap<String, i64>) -> BTreeMap<String, String> {
    r.iter()
        .map(|(c, m)| {
            let text = match Currency::parse(c) {
                Ok(cur) => Money::new(*m, cur).to_decimal_string(),
                Err(_) => m.to_string(),
            };
            (c.clone(), text)
        })
        .collect()
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Two-proportion comparison of `x1/n1` (treated) against `x2/n2` (holdout).
pub fn compare(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Comparison> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (rate(x1, n1), rate(x2, n2));
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let uplift = p1 - p2;
    let se = (p1 * (1.0 - p1) / n1f + p2 * (1.0 - p2) / n2f).sqrt();
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    let (z, p_value) = if se_pooled > 0.0 {
        let z = uplift / se_pooled;
        (z, erfc(z.abs() / std::f64::consts::SQRT_2))
    } else {
        (0.0, 1.0)
    };
    Some(Comparison {
        uplift,
        ci95_low: uplift - 1.959_964 * se,
        ci95_high: uplift + 1.959_964 * se,
        z,
        p_value,
    })
}

#[derive(Default)]
struct Acc {
    m: MessageStats,
    revenue: BTreeMap<String, i64>,
}

impl Acc {
    fn add_messages(&mut self, g: &cartback_store::MessageGroup) {
        self.m.sent += g.sent;
        self.m.delivered += g.delivered;
        self.m.opened += g.opened;
        self.m.clicked += g.clicked;
        self.m.unsubscribed += g.unsubscribed;
    }

    fn finish(mut self) -> MessageStats {
        self.m.click_rate = (self.m.delivered > 0).then(|| rate(self.m.clicked, self.m.delivered));
        self.m.revenue = format_revenue(&self.revenue);
        self.m
    }
}

/// Builds a flow's report from the store's grouped counts.
pub fn build(
    flow_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    data: &ReportData,
) -> FlowReport {
    let enrolled_in = |holdout: bool, variant: Option<&str>| -> u64 {
        data.runs
            .iter()
            .filter(|g| {
                g.holdout == holdout && variant.is_none_or(|v| g.variant.as_deref() == Some(v))
            })
            .map(|g| g.runs)
            .sum()
    };
    let converted_in = |holdout: bool, variant: Option<&str>| -> u64 {
        data.converted_runs
            .iter()
            .filter(|g| {
                g.holdout == holdout && variant.is_none_or(|v| g.variant.as_deref() == Some(v))
            })
            .map(|g| g.runs)
            .sum()
    };
    let revenue_in = |holdout: bool, variant: Option<&str>| -> BTreeMap<String, i64> {
        let mut r = BTreeMap::new();
        for c in data.conversions.iter().filter(|c| {
            c.holdout == holdout && variant.is_none_or(|v| c.variant.as_deref() == Some(v))
        }) {
            add_revenue(&mut r, &c.currency, c.revenue_minor);
        }
        r
    };
    let group = |holdout: bool, variant: Option<&str>| {
        let (n, x) = (
            enrolled_in(holdout, variant),
            converted_in(holdout, variant),
        );
        GroupStats {
            enrolled: n,
            converted: x,
            conversion_rate: rate(x, n),
            revenue: format_revenue(&revenue_in(holdout, variant)),
        }
    };
    let treated = group(false, None);
    let holdout = group(true, None);
    let comparison = compare(
        treated.converted,
        treated.enrolled,
        holdout.converted,
        holdout.enrolled,
    );

    let mut steps: BTreeMap<(u32, String), Acc> = BTreeMap::new();
    let mut channels: BTreeMap<String, Acc> = BTreeMap::new();
    let mut variants: BTreeMap<String, Acc> = BTreeMap::new();
    let mut totals = Acc::default();
    for g in &data.messages {
        steps
            .entry((g.step, g.channel_id.clone()))
            .or_default()
            .add_messages(g);
        channels
            .entry(g.channel_id.clone())
            .or_default()
            .add_messages(g);
        if let Some(v) = &g.variant {
            variants.entry(v.clone()).or_default().add_messages(g);
        }
        totals.add_messages(g);
    }
    for c in data.conversions.iter().filter(|c| !c.holdout) {
        if let (Some(step), Some(channel)) = (c.step, &c.channel_id) {
            let s = steps.entry((step, channel.clone())).or_default();
            s.m.converted += c.orders;
            add_revenue(&mut s.revenue, &c.currency, c.revenue_minor);
            let ch = channels.entry(channel.clone()).or_default();
            ch.m.converted += c.orders;
            add_revenue(&mut ch.revenue, &c.currency, c.revenue_minor);
            totals.m.converted += c.orders;
            add_revenue(&mut totals.revenue, &c.currency, c.revenue_minor);
        }
        if let Some(v) = &c.variant {
            let acc = variants.entry(v.clone()).or_default();
            acc.m.converted += c.orders;
            add_revenue(&mut acc.revenue, &c.currency, c.revenue_minor);
        }
    }
    let mut variant_names: Vec<String> =
        data.runs.iter().filter_map(|g| g.variant.clone()).collect();
    variant_names.sort();
    variant_names.dedup();
    let mut outcomes: Vec<StepOutcome> = data
        .outcomes
        .iter()
        .map(|o| StepOutcome {
            step: crate::flows::step_number(o.step),
            name: String::new(),
            outcome: o.outcome.clone(),
            runs: o.runs,
        })
        .collect();
    outcomes.sort_by(|a, b| (a.step, &a.outcome).cmp(&(b.step, &b.outcome)));
    FlowReport {
        outcomes,
        reasons: None,
        flow_id: flow_id.to_string(),
        from,
        to,
        enrolled: treated.enrolled + holdout.enrolled,
        held_out: holdout.enrolled,
        treated,
        holdout,
        comparison,
        totals: totals.finish(),
        steps: steps
            .into_iter()
            .map(|((step, channel), acc)| StepStats {
                step: crate::flows::step_number(step),
                name: String::new(),
                channel,
                stats: acc.finish(),
            })
            .collect(),
        channels: channels
            .into_iter()
            .map(|(channel, acc)| ChannelStats {
                channel,
                stats: acc.finish(),
            })
            .collect(),
        variants: variant_names
            .into_iter()
            .map(|v| {
                let g = group(false, Some(&v));
                let m = variants.remove(&v).unwrap_or_default().finish();
                VariantStats {
                    variant: v,
                    group: g,
                    messages: m,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
        assert!((erfc(1.959_964 / std::f64::consts::SQRT_2) - 0.05).abs() < 1e-6);
    }

    #[test]
    fn two_proportion_z_test_by_hand() {
        // Treated 60/500 = 0.12, holdout 40/500 = 0.08. Pooled p = 0.10;
        // se = sqrt(0.1 * 0.9 * (2/500)) = 0.018973666; z = 0.04 / 0.018973666 = 2.108185;
        // p = erfc(2.108185 / sqrt 2) = 0.035015. Unpooled se = sqrt(.12*.88/500 + .08*.92/500)
        // = 0.0189314; CI = 0.04 ± 1.959964 * 0.0189314 = [0.002895, 0.077105].
        let c = compare(60, 500, 40, 500).expect("both groups");
        assert!((c.uplift - 0.04).abs() < 1e-12);
        assert!((c.z - 2.108_185).abs() < 1e-5, "{}", c.z);
        assert!((c.p_value - 0.035_015).abs() < 1e-5, "{}", c.p_value);
        assert!((c.ci95_low - 0.002_895).abs() < 1e-5, "{}", c.ci95_low);
        assert!((c.ci95_high - 0.077_105).abs() < 1e-5, "{}", c.ci95_high);
        assert!(compare(1, 10, 0, 0).is_none());
        let same = compare(0, 10, 0, 10).expect("groups");
        assert_eq!((same.z, same.p_value), (0.0, 1.0));
    }
}
