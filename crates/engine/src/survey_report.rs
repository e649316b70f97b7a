//! Reasons in the flow report: the share of answers per reason for the flow and per cart-value
//! band ([`crate::survey::BANDS`]), and the newest free-text answers, masked.
//!
//! Answers count for the runs enrolled in the report's window (as every other figure of the
//! report), test runs left out. A share is the reason's answers ÷ all answers of the group.

use crate::flows::Flow;
use crate::front::Engine;
use crate::survey::{mask_email, mask_text, Survey, BANDS, OTHER, OTHER_LABEL};
use cartback_store::{StoreResult, SurveyData};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Free-text answers listed in a report, newest first.
pub const TEXTS_LISTED: u32 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonShare {
    pub id: String,
    pub label: String,
    pub answers: u64,
    /// answers ÷ the group's answers; 0 when the group has none.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandReasons {
    /// `under_50`, `50_to_150`, `150_and_over`: the cart's total in its own currency.
    pub band: String,
    pub label: String,
    pub answers: u64,
    pub reasons: Vec<ReasonShare>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherText {
    /// The shopper's words with any email address or phone number masked.
    pub text: String,
    /// The shopper's email, masked (`a***@example.com`); `null` once erased.
    pub shopper: Option<String>,
    pub answered_at: DateTime<Utc>,
}

/// "Why they left", for one flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonsReport {
    /// Answers counted.
    pub answers: u64,
    /// Every reason offered (and any answered one no longer offered), most answered first.
    pub reasons: Vec<ReasonShare>,
    /// The same per cart-value band, in band order.
    pub bands: Vec<BandReasons>,
    /// The newest "Other" answers with text (at most [`TEXTS_LISTED`]).
    pub other_texts: Vec<OtherText>,
}

/// The reasons the flow's surveys offer, in order, deduplicated by id.
fn offered(surveys: &[&Survey]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in surveys {
        for r in &s.reasons {
            if !out.iter().any(|(id, _)| *id == r.id) {
                out.push((r.id.clone(), r.label.clone()));
            }
        }
    }
    if surveys.iter().any(|s| s.other) {
        out.push((OTHER.into(), OTHER_LABEL.into()));
    }
    out
}

fn shares(offered: &[(String, String)], counts: &[(String, u64)]) -> Vec<ReasonShare> {
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let mut list: Vec<(String, String)> = offered.to_vec();
    for (id, _) in counts {
        if !list.iter().any(|(o, _)| o == id) {
            let label = if id == OTHER {
                OTHER_LABEL
            } else {
                id.as_str()
            };
            list.push((id.clone(), label.to_string()));
        }
    }
    let mut out: Vec<ReasonShare> = list
        .into_iter()
        .map(|(id, label)| {
            let answers: u64 = counts
                .iter()
                .filter(|(r, _)| *r == id)
                .map(|(_, n)| n)
                .sum();
            ReasonShare {
                share: if total == 0 {
                    0.0
                } else {
                    answers as f64 / total as f64
                },
                id,
                label,
                answers,
            }
        })
        .collect();
    // Stable: equal counts keep the survey's order.
    out.sort_by_key(|s| std::cmp::Reverse(s.answers));
    out
}

/// Builds the reasons report from what the store counted (decided without a database).
pub fn build(surveys: &[&Survey], data: &SurveyData) -> ReasonsReport {
    let offered = offered(surveys);
    let all: Vec<(String, u64)> = data
        .counts
        .iter()
        .map(|c| (c.reason.clone(), c.answers))
        .collect();
    let bands = BANDS
        .iter()
        .map(|(band, label)| {
            let counts: Vec<(String, u64)> = data
                .counts
                .iter()
                .filter(|c| c.value_band == *band)
                .map(|c| (c.reason.clone(), c.answers))
                .collect();
            BandReasons {
                band: (*band).into(),
                label: (*label).into(),
                answers: counts.iter().map(|(_, n)| n).sum(),
                reasons: shares(&offered, &counts),
            }
        })
        .collect();
    ReasonsReport {
        answers: all.iter().map(|(_, n)| n).sum(),
        reasons: shares(&offered, &all),
        bands,
        other_texts: data
            .texts
            .iter()
            .map(|t| OtherText {
                text: mask_text(&t.text),
                shopper: t.email.as_deref().map(mask_email),
                answered_at: t.answered_at,
            })
            .collect(),
    }
}

impl Engine {
    /// The surveys a flow's steps ask (a step's own, or its channel's), in step order.
    fn flow_surveys(&self, flow: &Flow) -> Vec<&Survey> {
        let mut out: Vec<&Survey> = Vec::new();
        for step in flow.variants.iter().flat_map(|v| v.steps.iter()) {
            let channel = step.send.as_ref().map(|s| s.channel.as_str()).unwrap_or("");
            if let Some(s) = self.survey_of_step(step, channel) {
                if !out.iter().any(|o| o.id == s.id) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// The flow's reasons over runs enrolled in `[from, to)`; `None` for a flow that asks no
    /// survey and has no answers.
    pub(crate) async fn reasons_report(
        &self,
        flow: &Flow,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Option<ReasonsReport>> {
        let surveys = self.flow_surveys(flow);
        let data = self
            .store
            .survey_report(&flow.id, from, to, TEXTS_LISTED)
            .await?;
        if surveys.is_empty() && data.counts.is_empty() {
            return Ok(None);
        }
        Ok(Some(build(&surveys, &data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::Reason;
    use cartback_store::{SurveyCount, SurveyText};

    fn count(reason: &str, band: &str, answers: u64) -> SurveyCount {
        SurveyCount {
            survey_id: "why".into(),
            reason: reason.into(),
            value_band: band.into(),
            answers,
        }
    }

    #[test]
    fn shares_per_reason_and_band_on_known_data() {
        let survey = Survey {
            id: "why".into(),
            question: "Why?".into(),
            reasons: vec![
                Reason {
                    id: "shipping".into(),
                    label: "Shipping".into(),
                },
                Reason {
                    id: "price".into(),
                    label: "Price".into(),
                },
                Reason {
                    id: "looking".into(),
                    label: "Looking".into(),
                },
            ],
            other: true,
        };
        let data = SurveyData {
            counts: vec![
                count("shipping", "under_50", 3),
                count("shipping", "150_and_over", 1),
                count("price", "150_and_over", 3),
                count("other", "under_50", 1),
                count("gone", "50_to_150", 2),
            ],
            texts: vec![SurveyText {
                text: "call me on 0612345678 or ann@example.com".into(),
                email: Some("ann@example.com".into()),
                answered_at: Utc::now(),
            }],
        };
        let r = build(&[&survey], &data);
        assert_eq!(r.answers, 10);
        let flat: Vec<(&str, u64, f64)> = r
            .reasons
            .iter()
            .map(|s| (s.id.as_str(), s.answers, s.share))
            .collect();
        assert_eq!(
            flat,
            [
                ("shipping", 4, 0.4),
                ("price", 3, 0.3),
                ("gone", 2, 0.2),
                ("other", 1, 0.1),
                ("looking", 0, 0.0)
            ]
        );
        let low = &r.bands[0];
        assert_eq!((low.band.as_str(), low.answers), ("under_50", 4));
        assert_eq!(low.reasons[0].id, "shipping");
        assert_eq!(low.reasons[0].share, 0.75);
        assert_eq!(low.reasons[1].id, "other");
        assert_eq!(low.reasons[1].share, 0.25);
        let high = &r.bands[2];
        assert_eq!(high.answers, 4);
        assert_eq!(
            (high.reasons[0].id.as_str(), high.reasons[0].share),
            ("price", 0.75)
        );
        assert_eq!(
            r.bands[1].reasons[0].label, "gone",
            "a removed reason keeps its id"
        );
        assert_eq!(
            r.other_texts[0].shopper.as_deref(),
            Some("a***@example.com")
        );
        assert_eq!(r.other_texts[0].text, "call me on *** or a***@example.com");
        // Nothing answered: every share is 0, never NaN.
        let empty = build(&[&survey], &SurveyData::default());
        assert!(empty.reasons.iter().all(|s| s.share == 0.0));
        assert_eq!(empty.reasons.len(), 4);
    }
}
