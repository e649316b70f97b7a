//! What attribution and the reports read (an order; the per-flow report data) for both SQLite
//! and PostgreSQL, written once against `exec::Exec`; and the [`Reports`] role of [`SqlStore`].
//! A run's own reads (a contact's runs, a run's message touches) are in `runs.rs`.

use crate::exec::{query, Exec};
use crate::model::*;
use crate::roles::Reports;
use crate::sql::SqlStore;
use crate::time::{from_ms, to_ms};
use crate::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub(crate) async fn order(
    tx: &mut dyn Exec,
    source_id: &str,
    order_id: &str,
) -> StoreResult<Option<OrderRecord>> {
    let row = query(
        "SELECT source_id, order_id, cart_id, contact_id, total_minor, currency, placed_at, test
         FROM orders WHERE source_id = $1 AND order_id = $2",
    )
    .bind(source_id)
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| {
        Ok(OrderRecord {
            source_id: r.try_get("source_id")?,
            order_id: r.try_get("order_id")?,
            cart_id: r.try_get("cart_id")?,
            contact_id: r.try_get("contact_id")?,
            total_minor: r.try_get("total_minor")?,
            currency: r.try_get("currency")?,
            placed_at: from_ms(r.try_get("placed_at")?),
            test: r.try_get::<i64, _>("test")? != 0,
        })
    })
    .transpose()
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Runs `sql` (`variant, holdout, n` grouped; `$1` flow, `$2..$3` the enrolment window).
async fn run_groups(
    x: &mut dyn Exec,
    flow_id: &str,
    from: i64,
    to: i64,
    sql: &str,
) -> StoreResult<Vec<RunGroup>> {
    query(sql)
        .bind(flow_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *x)
        .await?
        .iter()
        .map(|r| {
            Ok(RunGroup {
                variant: r.try_get("variant")?,
                holdout: r.try_get::<i64, _>("holdout")? != 0,
                runs: u(r.try_get("n")?),
            })
        })
        .collect()
}

pub(crate) async fn report_data(
    x: &mut dyn Exec,
    flow_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<ReportData> {
    let (from, to) = (to_ms(from), to_ms(to));
    let runs = run_groups(
        &mut *x,
        flow_id,
        from,
        to,
        "SELECT variant, holdout, COUNT(*) AS n FROM flow_runs
         WHERE flow_id = $1 AND test = 0 AND enrolled_at >= $2 AND enrolled_at < $3
           AND NOT (status = 'exited' AND exit_reason = 'reenter_cap')
         GROUP BY variant, holdout",
    )
    .await?;
    let messages = query(
        "SELECT o.step, o.channel_id, r.variant,
            COUNT(CASE WHEN o.status IN ('sent', 'unknown') THEN 1 END) AS sent,
            COUNT(CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = o.id
                AND e.status IN ('delivered', 'opened', 'clicked')) THEN 1 END) AS delivered,
            COUNT(CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = o.id
                AND e.status IN ('opened', 'clicked')) THEN 1 END) AS opened,
            COUNT(CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = o.id
                AND e.status = 'clicked') THEN 1 END) AS clicked,
            COUNT(CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = o.id
                AND e.status = 'unsubscribed') THEN 1 END) AS unsubscribed
         FROM outbox o JOIN flow_runs r ON r.id = o.run_id
         WHERE r.flow_id = $1 AND r.test = 0 AND r.enrolled_at >= $2 AND r.enrolled_at < $3
           AND o.step < 1000000
         GROUP BY o.step, o.channel_id, r.variant",
    )
    .bind(flow_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *x)
    .await?
    .iter()
    .map(|r| {
        Ok(MessageGroup {
            step: u32::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0),
            channel_id: r.try_get("channel_id")?,
            variant: r.try_get("variant")?,
            sent: u(r.try_get("sent")?),
            delivered: u(r.try_get("delivered")?),
            opened: u(r.try_get("opened")?),
            clicked: u(r.try_get("clicked")?),
            unsubscribed: u(r.try_get("unsubscribed")?),
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let conversions = query(
        "SELECT holdout, variant, step, channel_id, currency, COUNT(DISTINCT run_id) AS runs, COUNT(*) AS orders,
            CAST(SUM(revenue_minor) AS BIGINT) AS revenue
         FROM conversions WHERE flow_id = $1 AND enrolled_at >= $2 AND enrolled_at < $3
         GROUP BY holdout, variant, step, channel_id, currency",
    )
    .bind(flow_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *x)
    .await?
    .iter()
    .map(|r| {
        Ok(ConversionGroup {
            holdout: r.try_get::<i64, _>("holdout")? != 0,
            variant: r.try_get("variant")?,
            step: r.try_get::<Option<i64>, _>("step")?.map(|s| u32::try_from(s).unwrap_or(0)),
            channel_id: r.try_get("channel_id")?,
            currency: r.try_get("currency")?,
            runs: u(r.try_get("runs")?),
            orders: u(r.try_get("orders")?),
            revenue_minor: r.try_get::<Option<i64>, _>("revenue")?.unwrap_or(0),
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let converted_runs = run_groups(
        &mut *x,
        flow_id,
        from,
        to,
        "SELECT variant, holdout, COUNT(DISTINCT run_id) AS n FROM conversions
         WHERE flow_id = $1 AND enrolled_at >= $2 AND enrolled_at < $3 GROUP BY variant, holdout",
    )
    .await?;
    let outcomes = query(
        "SELECT s.step, s.outcome, COUNT(DISTINCT s.run_id) AS n FROM run_steps s
         JOIN flow_runs r ON r.id = s.run_id
         WHERE r.flow_id = $1 AND r.test = 0 AND r.enrolled_at >= $2 AND r.enrolled_at < $3
         GROUP BY s.step, s.outcome",
    )
    .bind(flow_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *x)
    .await?
    .iter()
    .map(|r| {
        Ok(OutcomeGroup {
            step: u32::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0),
            outcome: r.try_get("outcome")?,
            runs: u(r.try_get("n")?),
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    Ok(ReportData {
        runs,
        messages,
        conversions,
        converted_runs,
        outcomes,
    })
}

#[async_trait]
impl Reports for SqlStore {
    async fn report_data(
        &self,
        flow_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<crate::model::ReportData> {
        let flow_id = flow_id.to_string();
        self.read(move |x| {
            Box::pin(async move { crate::reports::report_data(x, &flow_id, from, to).await })
        })
        .await
    }
}
