//! A flow's runs for both SQLite and PostgreSQL: the run rows, engagement, discount codes; and the
//! [`Runs`] role of [`SqlStore`].

use crate::exec::corrupt;
use crate::exec::{query, query_scalar, DbRow, Exec};
use crate::model::*;
use crate::roles::Runs;
use crate::sql::SqlStore;
use crate::time::from_ms;
use crate::StoreResult;
use async_trait::async_trait;

pub(crate) const RUN_COLS: &str = "id, flow_id, cart_id, contact_id, variant, holdout, status, step, test, enrolled_at, updated_at, exit_reason";

pub(crate) fn run_record(r: &DbRow) -> StoreResult<RunRecord> {
    let status: String = r.try_get("status")?;
    Ok(RunRecord {
        id: r.try_get("id")?,
        flow_id: r.try_get("flow_id")?,
        cart_id: r.try_get("cart_id")?,
        contact_id: r.try_get("contact_id")?,
        variant: r.try_get("variant")?,
        holdout: r.try_get::<i64, _>("holdout")? != 0,
        status: RunStatus::parse(&status).ok_or_else(|| corrupt(format!("run status {status}")))?,
        step: u32::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0),
        test: r.try_get::<i64, _>("test")? != 0,
        enrolled_at: from_ms(r.try_get("enrolled_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
        exit_reason: r.try_get("exit_reason")?,
    })
}

pub(crate) async fn run(tx: &mut dyn Exec, id: &str) -> StoreResult<Option<RunRecord>> {
    let row = query(&format!("SELECT {RUN_COLS} FROM flow_runs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(run_record).transpose()
}

pub(crate) async fn runs_for_cart(tx: &mut dyn Exec, cart_id: &str) -> StoreResult<Vec<RunRecord>> {
    let rows = query(&format!(
        "SELECT {RUN_COLS} FROM flow_runs WHERE cart_id = $1 ORDER BY enrolled_at, id"
    ))
    .bind(cart_id)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter().map(run_record).collect()
}

pub(crate) async fn engagement(tx: &mut dyn Exec, run_id: &str) -> StoreResult<Engagement> {
    let rows: Vec<String> = query_scalar(
        "SELECT DISTINCT e.status FROM message_events e JOIN outbox o ON o.id = e.message_id WHERE o.run_id = $1",
    )
    .bind(run_id)
    .fetch_all(&mut *tx)
    .await?;
    let has = |s: &str| rows.iter().any(|r| r == s);
    Ok(Engagement {
        clicked: has("clicked"),
        opened: has("opened") || has("clicked"),
        delivered: has("delivered") || has("opened") || has("clicked"),
    })
}

pub(crate) async fn allocate_discount(
    tx: &mut dyn Exec,
    flow_id: &str,
    codes: &[String],
    run_id: &str,
    step: u32,
) -> StoreResult<Option<String>> {
    let given: Option<String> =
        query_scalar("SELECT code FROM discount_codes WHERE run_id = $1 AND step = $2")
            .bind(run_id)
            .bind(i64::from(step))
            .fetch_optional(&mut *tx)
            .await?;
    if given.is_some() {
        return Ok(given);
    }
    for code in codes {
        let inserted = query(
            "INSERT INTO discount_codes (flow_id, code, run_id, step) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(flow_id)
        .bind(code)
        .bind(run_id)
        .bind(i64::from(step))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Some(code.clone()));
        }
    }
    Ok(None)
}

pub(crate) async fn run_steps(tx: &mut dyn Exec, run_id: &str) -> StoreResult<Vec<StepRecord>> {
    query("SELECT step, outcome, detail, at FROM run_steps WHERE run_id = $1 ORDER BY at, step")
        .bind(run_id)
        .fetch_all(tx)
        .await?
        .iter()
        .map(|r| {
            Ok(StepRecord {
                step: u32::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0),
                outcome: r.try_get("outcome")?,
                detail: r.try_get("detail")?,
                at: from_ms(r.try_get("at")?),
            })
        })
        .collect()
}

pub(crate) async fn runs_for_contact(
    tx: &mut dyn Exec,
    contact_id: &str,
) -> StoreResult<Vec<RunRecord>> {
    let rows = query(&format!(
        "SELECT {RUN_COLS} FROM flow_runs WHERE contact_id = $1 ORDER BY enrolled_at, id"
    ))
    .bind(contact_id)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter().map(run_record).collect()
}

pub(crate) async fn message_touches(
    tx: &mut dyn Exec,
    run_id: &str,
) -> StoreResult<Vec<MessageTouch>> {
    let rows = query(
        "SELECT o.id, o.step, o.channel_id, o.sent_at,
            (SELECT MAX(e.at) FROM message_events e WHERE e.message_id = o.id
                AND e.status IN ('delivered', 'opened', 'clicked')) AS delivered_at,
            (SELECT MAX(e.at) FROM message_events e WHERE e.message_id = o.id AND e.status = 'clicked') AS clicked_at
         FROM outbox o WHERE o.run_id = $1 AND o.status IN ('sent', 'unknown') AND o.step < 1000000
         ORDER BY o.step",
    )
    .bind(run_id)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MessageTouch {
                message_id: r.try_get("id")?,
                step: u32::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0),
                channel_id: r.try_get("channel_id")?,
                sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(from_ms),
                delivered_at: r.try_get::<Option<i64>, _>("delivered_at")?.map(from_ms),
                clicked_at: r.try_get::<Option<i64>, _>("clicked_at")?.map(from_ms),
            })
        })
        .collect()
}

#[async_trait]
impl Runs for SqlStore {
    async fn run_steps(&self, run_id: &str) -> StoreResult<Vec<StepRecord>> {
        let run_id = run_id.to_string();
        self.read(move |x| Box::pin(async move { run_steps(x, &run_id).await }))
            .await
    }

    async fn run(&self, id: &str) -> StoreResult<Option<RunRecord>> {
        let id = id.to_string();
        self.read(move |x| Box::pin(async move { run(x, &id).await }))
            .await
    }

    async fn runs_for_cart(&self, cart_id: &str) -> StoreResult<Vec<RunRecord>> {
        let cart_id = cart_id.to_string();
        self.read(move |x| Box::pin(async move { runs_for_cart(x, &cart_id).await }))
            .await
    }

    async fn runs_for_contact(&self, contact_id: &str) -> StoreResult<Vec<RunRecord>> {
        let contact_id = contact_id.to_string();
        self.read(move |x| Box::pin(async move { runs_for_contact(x, &contact_id).await }))
            .await
    }

    async fn engagement(&self, run_id: &str) -> StoreResult<Engagement> {
        let run_id = run_id.to_string();
        self.read(move |x| Box::pin(async move { engagement(x, &run_id).await }))
            .await
    }

    async fn message_touches(&self, run_id: &str) -> StoreResult<Vec<crate::model::MessageTouch>> {
        let run_id = run_id.to_string();
        self.read(move |x| Box::pin(async move { message_touches(x, &run_id).await }))
            .await
    }

    async fn allocate_discount(
        &self,
        flow_id: &str,
        codes: &[String],
        run_id: &str,
        step: u32,
    ) -> StoreResult<Option<String>> {
        let (flow_id, codes, run_id) = (flow_id.to_string(), codes.to_vec(), run_id.to_string());
        self.write(move |tx| {
            Box::pin(async move {
                let r = allocate_discount(tx, &flow_id, &codes, &run_id, step).await;
                (r, true)
            })
        })
        .await
    }

    async fn add_contact_tag(&self, contact_id: &str, tag: &str) -> StoreResult<bool> {
        let (contact_id, tag) = (contact_id.to_string(), tag.to_string());
        self.write(move |tx| {
            Box::pin(async move {
                let r = query(
                    "INSERT INTO contact_tags (contact_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(contact_id)
                .bind(tag)
                .execute(tx)
                .await
                .map(|r| r.rows_affected() > 0);
                (r, true)
            })
        })
        .await
    }

    async fn set_flow_paused(
        &self,
        flow_id: &str,
        paused: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let flow_id = flow_id.to_string();
        let now = crate::time::to_ms(now);
        self.write(move |tx| {
            Box::pin(async move {
                let r = query(
                    "INSERT INTO flow_state (flow_id, paused, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (flow_id) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at",
                )
                .bind(flow_id)
                .bind(i64::from(paused))
                .bind(now)
                .execute(tx)
                .await
                .map(|_| ());
                (r, true)
            })
        })
        .await
    }

    async fn paused_flows(&self) -> StoreResult<Vec<String>> {
        self.read(|x| {
            Box::pin(async move {
                query_scalar("SELECT flow_id FROM flow_state WHERE paused = 1 ORDER BY flow_id")
                    .fetch_all(x)
                    .await
            })
        })
        .await
    }

    async fn run_trigger(&self, run_id: &str) -> StoreResult<Option<String>> {
        let run_id = run_id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                query_scalar::<Option<String>>("SELECT trigger_ref FROM flow_runs WHERE id = $1")
                    .bind(run_id)
                    .fetch_optional(x)
                    .await
                    .map(Option::flatten)
            })
        })
        .await
    }
}
