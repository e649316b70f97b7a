//! "Why they left": the one-question survey a reminder (or the on-site pop-up) asks.
//!
//! - The `[survey.<id>]` tables ([`SurveySettings`]): the question, the shop's reasons (a default
//!   list when none is given) and an "Other" choice with a free-text box; their pure validation,
//!   and the check that every step's `survey` names a configured one.
//! - [`Survey`]: a table compiled; [`Surveys`]: the engine's surveys and each channel's.
//! - The engine's shell: which survey a message asks ([`Engine::asked`]) and recording an answer
//!   ([`Engine::answer_survey`]): once per cart, the reason checked against the survey, the text
//!   capped, the cart's value band decided here ([`value_band`]).
//! - Masking for the report: [`mask_email`], [`mask_text`].

use crate::config::{FlowSettings, Problem};
use crate::flows::Step;
use crate::front::{new_id, Engine};
use cartback_core::Money;
use cartback_store::{OutboxRow, RunRecord, StoreError, StoreResult, SurveyAnswer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The question when the table gives none.
pub const DEFAULT_QUESTION: &str = "What stopped you from completing your order?";
/// The id of the "Other" choice (reserved: no reason of the shop's may use it).
pub const OTHER: &str = "other";
/// What the "Other" choice is called.
pub const OTHER_LABEL: &str = "Other";
/// The longest free-text answer kept, in characters; longer text is cut.
pub const MAX_TEXT_CHARS: usize = 500;
/// At most this many reasons (one row of buttons in the pop-up).
pub const MAX_REASONS: usize = 12;

/// The reasons a survey offers when its table lists none.
pub const DEFAULT_REASONS: &[(&str, &str)] = &[
    ("shipping_cost", "Shipping costs were too high"),
    ("account", "I had to create an account"),
    ("payment", "I was worried about payment or security"),
    ("delivery_time", "Delivery would take too long"),
    ("cheaper", "I found it cheaper elsewhere"),
    ("just_looking", "I was just looking"),
];

fn default_question() -> String {
    DEFAULT_QUESTION.to_string()
}

fn yes() -> bool {
    true
}

/// One `[[survey.<id>.reason]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonSettings {
    /// Lower-case a-z, 0-9 and _: what the report counts by.
    pub id: String,
    /// What the shopper reads.
    pub label: String,
}

/// The `[survey.<id>]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    #[serde(default = "default_question")]
    pub question: String,
    /// The shop's reasons, in the order shown; [`DEFAULT_REASONS`] when none is given.
    #[serde(default)]
    pub reason: Vec<ReasonSettings>,
    /// Offer "Other" with a free-text box.
    #[serde(default = "yes")]
    pub other: bool,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl SurveySettings {
    /// The reasons offered: the table's, or the default list.
    pub fn reasons(&self) -> Vec<ReasonSettings> {
        if self.reason.is_empty() {
            DEFAULT_REASONS
                .iter()
                .map(|(id, label)| ReasonSettings {
                    id: (*id).into(),
                    label: (*label).into(),
                })
                .collect()
        } else {
            self.reason.clone()
        }
    }

    /// Every problem, with its path below the table (`reason[1].id`, counted from 0 here).
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let q = self.question.trim();
        if q.is_empty() || q.chars().count() > 200 {
            out.push(Problem::new(
                "question",
                "a question is 1 to 200 characters",
            ));
        }
        if self.reason.len() > MAX_REASONS {
            out.push(Problem::new(
                "reason",
                format!(
                    "at most {MAX_REASONS} reasons ({} given)",
                    self.reason.len()
                ),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in self.reason.iter().enumerate() {
            if !valid_id(&r.id) {
                out.push(Problem::new(
                    format!("reason[{i}].id"),
                    format!("{:?}: ids are 1 to 40 of a-z, 0-9 and _", r.id),
                ));
            } else if r.id == OTHER {
                out.push(Problem::new(
                    format!("reason[{i}].id"),
                    "\"other\" is the hub's own choice: set `other = true` instead",
                ));
            } else if !seen.insert(r.id.clone()) {
                out.push(Problem::new(
                    format!("reason[{i}].id"),
                    format!("another reason already has the id {:?}", r.id),
                ));
            }
            let label = r.label.trim();
            if label.is_empty() || label.chars().count() > 80 {
                out.push(Problem::new(
                    format!("reason[{i}].label"),
                    "a label is 1 to 80 characters",
                ));
            }
        }
        out
    }
}

impl FlowSettings {
    /// Every step's `survey` names a configured `[survey.<id>]` (`surveys`: the configured ids).
    /// Paths are relative to the flow table, as [`FlowSettings::validate`]'s.
    pub fn validate_surveys(&self, surveys: &[String]) -> Vec<Problem> {
        let mut out = Vec::new();
        for (prefix, steps) in self.step_lists() {
            for (i, s) in steps.iter().enumerate() {
                if let Some(id) = &s.survey {
                    if !surveys.contains(id) {
                        out.push(Problem::new(
                            format!("{prefix}[{i}].survey"),
                            unknown_survey(id, surveys),
                        ));
                    }
                }
            }
        }
        out
    }
}

/// "no survey "x" is configured (configured: a, b)": for a step's or a channel's `survey`.
pub fn unknown_survey(id: &str, surveys: &[String]) -> String {
    let declared = if surveys.is_empty() {
        "none is configured: add a [survey.<id>] table".to_string()
    } else {
        format!("configured: {}", surveys.join(", "))
    };
    format!("no survey {id:?} is configured ({declared})")
}

/// One reason as shown and counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub id: String,
    pub label: String,
}

/// A `[survey.<id>]` table, compiled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Survey {
    pub id: String,
    pub question: String,
    /// The shop's reasons, in order (without "Other").
    pub reasons: Vec<Reason>,
    /// Whether "Other" with a free-text box is offered.
    pub other: bool,
}

impl Survey {
    pub fn compile(id: &str, s: &SurveySettings) -> Survey {
        Survey {
            id: id.to_string(),
            question: s.question.trim().to_string(),
            reasons: s
                .reasons()
                .into_iter()
                .map(|r| Reason {
                    id: r.id,
                    label: r.label.trim().to_string(),
                })
                .collect(),
            other: s.other,
        }
    }

    /// What reason `id` is called in this survey (`Other` for `other` when offered).
    pub fn label(&self, id: &str) -> Option<&str> {
        if id == OTHER && self.other {
            return Some(OTHER_LABEL);
        }
        self.reasons
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.label.as_str())
    }

    /// The answer a shopper gave, checked: a reason of this survey, and text only with "Other"
    /// (trimmed, control characters dropped, cut at [`MAX_TEXT_CHARS`]; empty is none).
    pub fn check(
        &self,
        reason: &str,
        text: Option<&str>,
    ) -> Result<(String, Option<String>), String> {
        if self.label(reason).is_none() {
            return Err("choose one of the reasons offered".into());
        }
        let text = if reason == OTHER {
            text.map(|t| {
                t.chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
                    .trim()
                    .chars()
                    .take(MAX_TEXT_CHARS)
                    .collect::<String>()
            })
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.trim_end().to_string())
        } else {
            None
        };
        Ok((reason.to_string(), text))
    }
}

/// The engine's surveys by id, and the survey each channel names (`survey` in a web channel).
#[derive(Debug, Clone, Default)]
pub struct Surveys {
    pub by_id: BTreeMap<String, Survey>,
    pub by_channel: BTreeMap<String, String>,
}

/// The cart-value bands the report splits reasons by: the cart's total in its own currency's
/// major unit, whatever the currency (no conversion): under 50, 50 up to 150, 150 and over.
pub const BANDS: &[(&str, &str)] = &[
    ("under_50", "under 50"),
    ("50_to_150", "50 to under 150"),
    ("150_and_over", "150 and over"),
];

/// The band of a cart total (see [`BANDS`]).
pub fn value_band(total: &Money) -> &'static str {
    let unit = 10_i64.saturating_pow(total.currency.exponent());
    if total.minor < unit.saturating_mul(50) {
        BANDS[0].0
    } else if total.minor < unit.saturating_mul(150) {
        BANDS[1].0
    } else {
        BANDS[2].0
    }
}

/// `ann@example.com` → `a***@example.com`: how the report names a shopper.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// Free text with every email address masked (as [`mask_email`]) and every phone number (7 or
/// more digits, with the spaces, dots, dashes, brackets and `+` people write them with) replaced
/// by `***`.
pub fn mask_text(text: &str) -> String {
    let words: Vec<String> = text
        .split(' ')
        .map(|w| {
            let core = w.trim_matches(|c: char| !c.is_alphanumeric());
            match core.split_once('@') {
                Some((l, d)) if !l.is_empty() && d.contains('.') => {
                    w.replace(core, &mask_email(core))
                }
                _ => w.to_string(),
            }
        })
        .collect();
    mask_phones(&words.join(" "))
}

fn mask_phones(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let part = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '+' | '/');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || chars[i] == '+' || chars[i] == '(' {
            let mut j = i;
            while j < chars.len() && part(chars[j]) {
                j += 1;
            }
            // Trailing separators are not part of the number.
            let mut end = j;
            while end > i && !chars[end - 1].is_ascii_digit() && chars[end - 1] != ')' {
                end -= 1;
            }
            let digits = chars[i..end].iter().filter(|c| c.is_ascii_digit()).count();
            if digits >= 7 {
                out.push_str("***");
                i = end;
                continue;
            }
            out.extend(&chars[i..end.max(i + 1)]);
            i = end.max(i + 1);
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// A message that asks a survey: the message, its run and the survey.
#[derive(Debug, Clone)]
pub struct Asked {
    pub survey: Survey,
    pub message: OutboxRow,
    pub run: RunRecord,
    pub cart_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    /// The shopper's answer is not one the survey offers (a 400).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Engine {
    /// Uses these `[survey.*]` tables; `by_channel`: the survey each channel names.
    pub fn with_surveys(
        mut self,
        surveys: &BTreeMap<String, SurveySettings>,
        by_channel: BTreeMap<String, String>,
    ) -> Self {
        self.surveys = Surveys {
            by_id: surveys
                .iter()
                .map(|(id, s)| (id.clone(), Survey::compile(id, s)))
                .collect(),
            by_channel,
        };
        self
    }

    pub fn survey(&self, id: &str) -> Option<&Survey> {
        self.surveys.by_id.get(id)
    }

    /// The survey a step's message on `channel_id` asks: the step's own, else its channel's.
    pub(crate) fn survey_of_step(&self, step: &Step, channel_id: &str) -> Option<&Survey> {
        step.survey
            .as_deref()
            .or_else(|| self.surveys.by_channel.get(channel_id).map(String::as_str))
            .and_then(|id| self.survey(id))
    }

    /// The survey message `message_id` asks, with the message and its run; `None` for an unknown
    /// message, one without a cart, or one whose step (as configured now) asks none.
    pub async fn asked(&self, message_id: &str) -> StoreResult<Option<Asked>> {
        let Some(message) = self.store.outbox_message(message_id).await? else {
            return Ok(None);
        };
        let Some(cart_id) = message.cart_id.clone() else {
            return Ok(None);
        };
        if message.step >= cartback_store::CLOSING_STEP {
            return Ok(None);
        }
        let Some(run) = self.store.run(&message.run_id).await? else {
            return Ok(None);
        };
        let live = self.live();
        let survey = live.flows.get(&run.flow_id).and_then(|f| {
            let step = f.steps(run.variant.as_deref()).get(message.step as usize)?;
            self.survey_of_step(step, &message.channel_id)
        });
        Ok(survey.cloned().map(|survey| Asked {
            survey,
            message,
            run,
            cart_id,
        }))
    }

    /// Whether the cart's shopper has answered already (asked once per cart).
    pub async fn survey_answered(&self, cart_id: &str) -> StoreResult<bool> {
        Ok(self.store.survey_answer(cart_id).await?.is_some())
    }

    /// Records the shopper's answer to what `asked` asks, once per cart: `Ok(true)` when kept,
    /// `Ok(false)` when the cart had an answer already (nothing changes).
    pub async fn answer_survey(
        &self,
        asked: &Asked,
        reason: &str,
        text: Option<&str>,
    ) -> Result<bool, SurveyError> {
        let (reason, text) = asked
            .survey
            .check(reason, text)
            .map_err(SurveyError::Invalid)?;
        let total = match self.store.cart(&asked.cart_id).await? {
            Some(rec) => Some(rec.cart.total),
            None => asked.message.message.cart.as_ref().map(|c| c.total),
        };
        let answer = SurveyAnswer {
            id: new_id(),
            cart_id: asked.cart_id.clone(),
            survey_id: asked.survey.id.clone(),
            reason,
            text,
            contact_id: asked.message.contact_id.clone(),
            flow_id: asked.run.flow_id.clone(),
            run_id: asked.run.id.clone(),
            step: asked.message.step,
            variant: asked.run.variant.clone(),
            message_id: asked.message.id.clone(),
            channel_id: asked.message.channel_id.clone(),
            value_band: total.as_ref().map_or(BANDS[0].0, value_band).to_string(),
            total_minor: total.as_ref().map(|t| t.minor),
            currency: total.as_ref().map(|t| t.currency.code().to_string()),
            test: asked.message.test || asked.run.test,
            answered_at: self.clock.now(),
        };
        let kept = self.store.record_survey_answer(&answer).await?;
        if kept {
            metrics::counter!("cartback_survey_answers_total").increment(1);
            tracing::info!(message_id = %answer.message_id, flow_id = %answer.flow_id, reason = %answer.reason, "Shopper answered the survey.");
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::Currency;

    fn settings(reasons: &[(&str, &str)]) -> SurveySettings {
        SurveySettings {
            question: DEFAULT_QUESTION.into(),
            reason: reasons
                .iter()
                .map(|(i, l)| ReasonSettings {
                    id: (*i).into(),
                    label: (*l).into(),
                })
                .collect(),
            other: true,
        }
    }

    #[test]
    fn defaults_and_problems_at_their_keys() {
        let s: SurveySettings = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(s.question, DEFAULT_QUESTION);
        assert!(s.other);
        assert_eq!(s.reasons().len(), DEFAULT_REASONS.len());
        assert!(s.validate().is_empty());
        let bad = settings(&[
            ("ok", "Fine"),
            ("Bad Id", "x"),
            ("ok", ""),
            ("other", "Other"),
        ]);
        let paths: Vec<String> = bad.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "reason[1].id",
                "reason[2].id",
                "reason[2].label",
                "reason[3].id"
            ]
        );
        let typo = serde_json::from_value::<SurveySettings>(serde_json::json!({"questoin": "x"}));
        assert!(typo.is_err(), "unknown keys are refused");
    }

    #[test]
    fn answers_are_checked_and_text_capped() {
        let s = Survey::compile("why", &settings(&[("price", "Too dear")]));
        assert_eq!(
            s.check("price", Some("ignored")),
            Ok(("price".into(), None))
        );
        assert!(s.check("nope", None).is_err());
        let long = "x".repeat(600);
        let (_, text) = s.check("other", Some(&long)).unwrap();
        assert_eq!(text.unwrap().chars().count(), MAX_TEXT_CHARS);
        assert_eq!(s.check("other", Some("  \n ")), Ok(("other".into(), None)));
        assert_eq!(
            s.check("other", Some(" too\u{0}slow "))
                .unwrap()
                .1
                .as_deref(),
            Some("too slow")
        );
        let closed = Survey {
            other: false,
            ..s.clone()
        };
        assert!(closed.check("other", Some("x")).is_err());
    }

    #[test]
    fn bands_by_the_total_in_its_own_currency() {
        let m = |minor, c| Money::new(minor, Currency::parse(c).unwrap());
        assert_eq!(value_band(&m(4999, "USD")), "under_50");
        assert_eq!(value_band(&m(5000, "USD")), "50_to_150");
        assert_eq!(value_band(&m(14999, "EUR")), "50_to_150");
        assert_eq!(value_band(&m(15000, "EUR")), "150_and_over");
        assert_eq!(value_band(&m(149, "JPY")), "50_to_150");
        assert_eq!(value_band(&m(150, "JPY")), "150_and_over");
    }

    #[test]
    fn emails_and_phones_are_masked() {
        assert_eq!(mask_email("ann@example.com"), "a***@example.com");
        assert_eq!(
            mask_text("Mail me at bob.smith@mail.example.org, or call +1 (415) 555-0100."),
            "Mail me at b***@mail.example.org, or call ***."
        );
        assert_eq!(mask_text("call 0612345678 please"), "call *** please");
        assert_eq!(
            mask_text("3 items for 45.00, in 2 days"),
            "3 items for 45.00, in 2 days",
            "prices and counts are not phone numbers"
        );
    }
}
