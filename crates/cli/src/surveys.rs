//! The `[survey.<id>]` tables ("why they left"), read beside the flows: each table's problems at
//! its key path (`survey.why.reason[2].id`), a step's or a web channel's `survey` naming a
//! configured one, and a template printing `links.survey` only on a step that asks a survey.

use crate::config::{typed, Problem};
use cartback_engine::config::{FlowSettings, SurveySettings};
use cartback_engine::survey::unknown_survey;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Reads every `[survey.<id>]` table.
pub fn load(
    table: Map<String, Value>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, SurveySettings> {
    let mut out = BTreeMap::new();
    for (id, v) in table {
        let at = format!("survey.{id}");
        if !crate::config::valid_id(&id) {
            problems.push(Problem::new(
                at.clone(),
                "ids are lower-case a-z, 0-9 and _",
            ));
        }
        if let Some(s) = typed::<SurveySettings>(v, &at, problems) {
            problems.extend(s.validate().into_iter().map(|p| p.under(&at)));
            out.insert(id, s);
        }
    }
    out
}

/// The `survey` a channel table names (only the `web` channel takes the key; any other type
/// refuses it as an unknown key). The web connector keeps it in its settings too.
pub fn channel_survey(table: &Value) -> Option<String> {
    table
        .get("survey")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Every step's and web channel's `survey` names a configured survey.
pub fn check_ids(
    flows: &BTreeMap<String, FlowSettings>,
    channel_surveys: &BTreeMap<String, String>,
    surveys: &BTreeMap<String, SurveySettings>,
) -> Vec<Problem> {
    let ids: Vec<String> = surveys.keys().cloned().collect();
    let mut out = Vec::new();
    for (id, f) in flows {
        out.extend(
            f.validate_surveys(&ids)
                .into_iter()
                .map(|p| p.under(&format!("flow.{id}"))),
        );
    }
    for (channel, survey) in channel_surveys {
        if !surveys.contains_key(survey) {
            out.push(Problem::new(
                format!("channel.{channel}.survey"),
                unknown_survey(survey, &ids),
            ));
        }
    }
    out
}

/// A step whose message asks no survey (neither the step's `survey` nor its channel's) must not
/// print `links.survey` unguarded, as a step without a discount must not print `discount.*`.
pub fn step_templates(
    at: &str,
    flow: &FlowSettings,
    channel_surveys: &BTreeMap<String, String>,
    templates: &cartback_engine::template::Templates,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for (prefix, steps) in flow.step_lists() {
        for (i, step) in steps.iter().enumerate() {
            let Some(send) = &step.send else { continue };
            let Some(t) = send.template.as_deref().filter(|t| templates.contains(t)) else {
                continue;
            };
            if step.survey.is_some() || channel_surveys.contains_key(&send.channel) {
                continue;
            }
            if let Err(e) = templates.check_without_survey(t) {
                out.push(Problem::new(
                    format!("{at}.{prefix}[{i}].send.template"),
                    format!(
                        "template.{t}.{}: {} (this step asks no survey: give it `survey = \"<id>\"`, or guard with {{% if links.survey %}})",
                        e.part, e.message
                    ),
                ));
            }
        }
    }
    out
}
