//! Flows compiled from configuration: conditions parsed, quiet windows and time zones resolved,
//! variants laid out. Built once at start-up.

use crate::config::{
    parse_cap, parse_condition, Cap, Condition, DiscountSettings, FlowSettings, LimitsSettings,
    SendSettings, StepSettings,
};
use crate::quiet::QuietWindow;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Step {
    /// The step's name (`name`), or what it does ("cart_email via sendgrid").
    pub name: String,
    pub wait: Duration,
    pub unless: Vec<Condition>,
    pub if_all: Vec<Condition>,
    pub send: Option<SendSettings>,
    pub discount: Option<DiscountSettings>,
    /// The `[survey.<id>]` the step's message asks, if any.
    pub survey: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Variant {
    /// `None` for a flow without variants.
    pub name: Option<String>,
    pub weight: u32,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    /// Removed from the configuration by a reload: enrols nothing, its running runs finish.
    pub retired: bool,
    pub settings: FlowSettings,
    pub variants: Vec<Variant>,
    pub quiet: Option<QuietWindow>,
    pub default_tz: Tz,
}

impl Flow {
    pub fn enabled(&self) -> bool {
        !self.retired && self.settings.enabled.unwrap_or(true)
    }

    pub fn steps(&self, variant: Option<&str>) -> &[Step] {
        let v = match variant {
            Some(name) => self
                .variants
                .iter()
                .find(|v| v.name.as_deref() == Some(name)),
            None => self.variants.first(),
        };
        v.map(|v| v.steps.as_slice()).unwrap_or(&[])
    }

    /// The step at `index` (as stored) of the run's variant, numbered as people count. A closing
    /// message (`CLOSING_STEP` + the step it closes) is named after the step it closes. `None` when
    /// the flow no longer has that step.
    pub fn step_ref(&self, variant: Option<&str>, index: u32) -> Option<StepRef> {
        let closing = index >= cartback_store::CLOSING_STEP;
        let at = if closing {
            index - cartback_store::CLOSING_STEP
        } else {
            index
        };
        let step = self.steps(variant).get(at as usize)?;
        Some(StepRef {
            number: step_number(at),
            name: if closing {
                format!("purchase closes {}", step.name)
            } else {
                step.name.clone()
            },
        })
    }

    /// The name of step `index` whatever the variant: the variants' names joined by " / " where
    /// they differ (reports count a step number across variants).
    pub fn step_name_any(&self, index: u32) -> Option<String> {
        let mut names: Vec<&str> = Vec::new();
        for v in &self.variants {
            if let Some(s) = v.steps.get(index as usize) {
                if !names.contains(&s.name.as_str()) {
                    names.push(&s.name);
                }
            }
        }
        (!names.is_empty()).then(|| names.join(" / "))
    }

    /// Every channel any step of any variant sends to.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.variants
            .iter()
            .flat_map(|v| v.steps.iter())
            .filter_map(|s| s.send.as_ref().map(|s| s.channel.as_str()))
    }
}

/// A step's name: the shop's own, or what the step does.
fn describe(s: &StepSettings) -> String {
    if let Some(name) = s.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        return name.to_string();
    }
    match (&s.send, s.wait) {
        (Some(send), _) => match &send.template {
            Some(t) => format!("{t} via {}", send.channel),
            None => format!("hand-off to {}", send.channel),
        },
        (None, Some(w)) => format!("wait {}", humantime::format_duration(w.0)),
        (None, None) => "empty step".to_string(),
    }
}

/// How every surface a person reads (the runs and messages APIs, reports, the dashboard,
/// check-config, a hand-off's `step` property, templates' `flow.step`) names a step: its number
/// counted from 1 (the first `[[flow.<id>.step]]` is step 1) and its name. The store keeps the
/// index (from 0); this is the one place that turns one into the other.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepRef {
    pub number: u32,
    pub name: String,
}

/// A step index as people count it.
pub fn step_number(index: u32) -> u32 {
    index.saturating_add(1)
}

fn compile_steps(steps: &[StepSettings]) -> Result<Vec<Step>, String> {
    steps
        .iter()
        .map(|s| {
            let parse = |list: &[String]| {
                list.iter()
                    .map(|c| parse_condition(c))
                    .collect::<Result<Vec<_>, _>>()
            };
            Ok(Step {
                name: describe(s),
                wait: s.wait.map(|w| w.0).unwrap_or_default(),
                unless: parse(&s.unless)?,
                if_all: parse(&s.if_all)?,
                send: s.send.clone(),
                discount: s.discount.clone(),
                survey: s.survey.clone(),
            })
        })
        .collect()
}

/// Compiles validated flow settings (validation already reported problems with key paths).
pub fn compile(flows: &BTreeMap<String, FlowSettings>) -> Result<BTreeMap<String, Flow>, String> {
    let mut out = BTreeMap::new();
    for (id, f) in flows {
        let variants = if f.variants.is_empty() {
            vec![Variant {
                name: None,
                weight: 1,
                steps: compile_steps(&f.step)?,
            }]
        } else {
            f.variants
                .iter()
                .map(|v| {
                    Ok(Variant {
                        name: Some(v.name.clone()),
                        weight: v.weight,
                        steps: compile_steps(&v.step)?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?
        };
        let quiet = match &f.quiet_hours {
            Some(q) => Some(
                QuietWindow::parse(&q.from, &q.to)
                    .ok_or_else(|| format!("flow.{id}.quiet_hours: bad time"))?,
            ),
            None => None,
        };
        let default_tz = match &f.timezone {
            Some(tz) => tz
                .parse::<Tz>()
                .map_err(|_| format!("flow.{id}.timezone: unknown zone"))?,
            None => Tz::UTC,
        };
        out.insert(
            id.clone(),
            Flow {
                id: id.clone(),
                retired: false,
                settings: f.clone(),
                variants,
                quiet,
                default_tz,
            },
        );
    }
    Ok(out)
}

pub fn compile_limits(limits: &LimitsSettings) -> Result<BTreeMap<String, Cap>, String> {
    limits
        .0
        .iter()
        .map(|(k, v)| {
            parse_cap(v)
                .map(|c| (k.clone(), c))
                .map_err(|e| format!("limits.{k}: {e}"))
        })
        .collect()
}
