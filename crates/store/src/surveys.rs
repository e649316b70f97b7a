//! "Why they left": survey answers, one per cart, and what the flow report reads of them; the
//! [`Surveys`] role of [`SqlStore`] for SQLite and PostgreSQL, written once against `exec::Exec`.
//! The engine decides everything (which survey, which reason is valid, the cart's value band);
//! the store keeps the answer and counts.

use crate::exec::{query, Exec};
use crate::roles::Surveys;
use crate::sql::{count, SqlStore};
use crate::time::{from_ms, to_ms};
use crate::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One shopper's answer, tied to the message that asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyAnswer {
    pub id: String,
    pub cart_id: String,
    pub survey_id: String,
    /// A reason id of the survey, or `other`.
    pub reason: String,
    /// The free text of an `other` answer (already capped by the engine).
    pub text: Option<String>,
    pub contact_id: Option<String>,
    pub flow_id: String,
    pub run_id: String,
    /// The step index as stored (from 0).
    pub step: u32,
    pub variant: Option<String>,
    pub message_id: String,
    pub channel_id: String,
    /// The cart's value band when answered (`under_50`, `50_to_150`, `150_and_over`).
    pub value_band: String,
    pub total_minor: Option<i64>,
    pub currency: Option<String>,
    pub test: bool,
    pub answered_at: DateTime<Utc>,
}

/// Answers per (reason, value band) of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyCount {
    pub survey_id: String,
    pub reason: String,
    pub value_band: String,
    pub answers: u64,
}

/// A free-text answer as the report lists it: the shopper only by email (masked by the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyText {
    pub text: String,
    pub email: Option<String>,
    pub answered_at: DateTime<Utc>,
}

/// What a flow's report reads about its survey answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SurveyData {
    pub counts: Vec<SurveyCount>,
    /// Newest first, at most the limit asked for.
    pub texts: Vec<SurveyText>,
}

const COLUMNS: &str = "id, cart_id, survey_id, reason, text, contact_id, flow_id, run_id, step, \
    variant, message_id, channel_id, value_band, total_minor, currency, test, answered_at";

pub(crate) async fn record(tx: &mut dyn Exec, a: &SurveyAnswer) -> StoreResult<bool> {
    let sql = format!(
        "INSERT INTO survey_answers ({COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (cart_id) DO NOTHING"
    );
    let done = query(&sql)
        .bind(a.id.clone())
        .bind(a.cart_id.clone())
        .bind(a.survey_id.clone())
        .bind(a.reason.clone())
        .bind(a.text.clone())
        .bind(a.contact_id.clone())
        .bind(a.flow_id.clone())
        .bind(a.run_id.clone())
        .bind(i64::from(a.step))
        .bind(a.variant.clone())
        .bind(a.message_id.clone())
        .bind(a.channel_id.clone())
        .bind(a.value_band.clone())
        .bind(a.total_minor)
        .bind(a.currency.clone())
        .bind(i64::from(a.test))
        .bind(to_ms(a.answered_at))
        .execute(&mut *tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn for_cart(
    tx: &mut dyn Exec,
    cart_id: &str,
) -> StoreResult<Option<SurveyAnswer>> {
    let sql = format!("SELECT {COLUMNS} FROM survey_answers WHERE cart_id = $1");
    let row = query(&sql).bind(cart_id).fetch_optional(&mut *tx).await?;
    row.map(|r| {
        Ok(SurveyAnswer {
            id: r.try_get("id")?,
            cart_id: r.try_get("cart_id")?,
            survey_id: r.try_get("survey_id")?,
            reason: r.try_get("reason")?,
            text: r.try_get("text")?,
            contact_id: r.try_get("contact_id")?,
            flow_id: r.try_get("flow_id")?,
            run_id: r.try_get("run_id")?,
            step: u32::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0),
            variant: r.try_get("variant")?,
            message_id: r.try_get("message_id")?,
            channel_id: r.try_get("channel_id")?,
            value_band: r.try_get("value_band")?,
            total_minor: r.try_get("total_minor")?,
            currency: r.try_get("currency")?,
            test: r.try_get::<i64, _>("test")? != 0,
            answered_at: from_ms(r.try_get("answered_at")?),
        })
    })
    .transpose()
}

/// Answers of a flow's runs enrolled in `[from, to)`, test runs left out.
pub(crate) async fn report(
    x: &mut dyn Exec,
    flow_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    texts: u32,
) -> StoreResult<SurveyData> {
    let (from, to) = (to_ms(from), to_ms(to));
    let counts = query(
        "SELECT a.survey_id, a.reason, a.value_band, COUNT(*) AS n FROM survey_answers a
         JOIN flow_runs r ON r.id = a.run_id
         WHERE a.flow_id = $1 AND a.test = 0 AND r.test = 0 AND r.enrolled_at >= $2 AND r.enrolled_at < $3
         GROUP BY a.survey_id, a.reason, a.value_band",
    )
    .bind(flow_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *x)
    .await?
    .iter()
    .map(|r| {
        Ok(SurveyCount {
            survey_id: r.try_get("survey_id")?,
            reason: r.try_get("reason")?,
            value_band: r.try_get("value_band")?,
            answers: count(r.try_get("n")?),
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let texts = query(
        "SELECT a.text, c.email, a.answered_at FROM survey_answers a
         JOIN flow_runs r ON r.id = a.run_id
         LEFT JOIN contacts c ON c.id = a.contact_id
         WHERE a.flow_id = $1 AND a.test = 0 AND r.test = 0 AND r.enrolled_at >= $2 AND r.enrolled_at < $3
           AND a.text IS NOT NULL
         ORDER BY a.answered_at DESC, a.id DESC LIMIT $4",
    )
    .bind(flow_id)
    .bind(from)
    .bind(to)
    .bind(i64::from(texts))
    .fetch_all(&mut *x)
    .await?
    .iter()
    .map(|r| {
        Ok(SurveyText {
            text: r.try_get("text")?,
            email: r.try_get("email")?,
            answered_at: from_ms(r.try_get("answered_at")?),
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    Ok(SurveyData { counts, texts })
}

/// Erasure: the answer's reason and band stay for the report; who gave it and their words go.
pub(crate) async fn erase_contact(tx: &mut dyn Exec, contact_id: &str) -> StoreResult<()> {
    query("UPDATE survey_answers SET contact_id = NULL, text = NULL WHERE contact_id = $1")
        .bind(contact_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Surveys for SqlStore {
    async fn record_survey_answer(&self, answer: &SurveyAnswer) -> StoreResult<bool> {
        let answer = answer.clone();
        self.write(move |tx| Box::pin(async move { (record(tx, &answer).await, true) }))
            .await
    }

    async fn survey_answer(&self, cart_id: &str) -> StoreResult<Option<SurveyAnswer>> {
        let cart_id = cart_id.to_string();
        self.read(move |x| Box::pin(async move { for_cart(x, &cart_id).await }))
            .await
    }

    async fn survey_report(
        &self,
        flow_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        texts: u32,
    ) -> StoreResult<SurveyData> {
        let flow_id = flow_id.to_string();
        self.read(move |x| Box::pin(async move { report(x, &flow_id, from, to, texts).await }))
            .await
    }
}
