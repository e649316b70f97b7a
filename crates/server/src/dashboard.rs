//! `GET /dashboard`: a server-rendered page per flow — the funnel as an inline SVG chart, treated
//! vs holdout with the uplift's confidence interval, revenue by currency, a table per step and
//! channel, and the last 50 messages. No build step, no CDN: HTML, CSS and SVG come from here.
//!
//! The pages are minijinja templates (`crates/server/templates/`, embedded with `include_str!`,
//! one environment built once) with HTML auto-escaping: every value from the store (flow ids,
//! channels, variants, subjects) and every error text is escaped by the engine, never by hand.
//! This module only computes the numbers and formats them as text. The icon is inline (`data:,`),
//! so browsers ask for no `/favicon.ico`.
//!
//! Access: the admin token, entered once in a login form, starts a session (`crate::session`):
//! a random id in an HttpOnly, SameSite=Strict cookie, valid for 12 hours or until sign-out,
//! kept in memory (a restart signs everyone out). The forms refuse cross-site posts; wrong
//! tokens are rate-limited per client (`crate::auth`); the pages carry a strict
//! Content-Security-Policy (`crate::headers`): no script, no inline `style=` attributes.

use crate::auth::{Client, Guards, TooManyAttempts};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use cartback_engine::flows::StepRef;
use cartback_engine::report::{FlowReport, GroupStats, MessageStats};
use cartback_store::{MessageFilter, OutboxRow};
use minijinja::{context, AutoEscape, Environment, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

const COOKIE: &str = "cartback_session";

/// Signed in: a live session cookie, or the admin token as a bearer (a wrong one counts
/// against the client's attempts).
fn logged_in(
    state: &AppState,
    guards: &Guards,
    client: Client,
    headers: &HeaderMap,
) -> Result<bool, TooManyAttempts> {
    if crate::session::cookies(headers, COOKIE).any(|id| guards.sessions.valid(id)) {
        return Ok(true);
    }
    let (Some(given), Some(token)) = (
        crate::auth::bearer(headers),
        state.settings.admin_token.as_ref(),
    ) else {
        return Ok(false);
    };
    guards.limiter.check(client)?;
    if cartback_kit::constant_time_eq(given.as_bytes(), token.as_bytes()) {
        return Ok(true);
    }
    guards.limiter.fail(client);
    Ok(false)
}

/// `None` when signed in; else where the page answers instead: the sign-in form, or the wait
/// a client with too many wrong tokens is told.
pub(crate) fn unless_signed_in(
    state: &AppState,
    guards: &Guards,
    client: Client,
    headers: &HeaderMap,
) -> Option<Response> {
    match logged_in(state, guards, client, headers) {
        Ok(true) => None,
        Ok(false) => Some(Redirect::to("/dashboard/login").into_response()),
        Err(wait) => Some(wait.into_response()),
    }
}

/// The one stylesheet; `crate::headers` allows it by its hash (computed from this text at start).
pub(crate) use crate::headers::STYLE;

/// The page templates, embedded in the binary: every value they print is HTML-escaped by
/// minijinja (auto-escaping on for every template), never by hand.
const TEMPLATES: [(&str, &str); 5] = [
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("login.html", include_str!("../templates/login.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    (
        "dead_letters.html",
        include_str!("../templates/dead_letters.html"),
    ),
];

/// The template environment, built once.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // The stylesheet is ours (and hashed as is): printed verbatim.
        env.add_global("style", Value::from_safe_string(STYLE.to_string()));
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                // The templates are constants checked by the tests: this is a bug, not input.
                tracing::error!(template = name, error = %e, "dashboard template does not parse");
            }
        }
        env
    })
}

/// Renders `name` with `ctx`.
pub(crate) fn render(name: &str, ctx: impl Serialize) -> Result<String, minijinja::Error> {
    templates().get_template(name)?.render(ctx)
}

/// The page, or a 500 without details for a template error (a bug, logged).
pub(crate) fn respond(page: Result<String, minijinja::Error>) -> Response {
    match page {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dashboard template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn login_page(error: Option<&str>) -> Response {
    respond(render("login.html", context! { error }))
}

pub async fn login_form() -> Response {
    login_page(None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

pub async fn login(
    State(state): State<AppState>,
    Extension(guards): Extension<Arc<Guards>>,
    client: Client,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(wait) = guards.limiter.check(client) {
        let secs = wait.seconds();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            login_page(Some(&format!(
                "Too many wrong tokens: try again in {secs} s."
            ))),
        )
            .into_response();
    }
    let ok = state.settings.admin_token.as_ref().is_some_and(|t| {
        cartback_kit::constant_time_eq(form.token.trim().as_bytes(), t.as_bytes())
    });
    if !ok {
        guards.limiter.fail(client);
        return (
            StatusCode::UNAUTHORIZED,
            login_page(Some("That token is not right.")),
        )
            .into_response();
    }
    let id = guards.sessions.create();
    let secure = if state.settings.public_base().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={id}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        guards.sessions.lifetime().as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/dashboard")).into_response()
}

/// Ends the session server-side (the cookie stops working even where it was copied) and clears it.
pub async fn logout(Extension(guards): Extension<Arc<Guards>>, headers: HeaderMap) -> Response {
    for id in crate::session::cookies(&headers, COOKIE) {
        guards.sessions.revoke(id);
    }
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0"),
        )],
        Redirect::to("/dashboard/login"),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    #[serde(default)]
    flow: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Revenue by currency as (code, amount) pairs, in currency order.
fn revenue(r: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    r.iter().map(|(c, a)| (c.as_str(), a.as_str())).collect()
}

#[derive(Serialize)]
struct NavLink<'a> {
    id: &'a str,
    /// `id` as a query value.
    query: String,
    on: bool,
}

/// One bar of the funnel chart, its coordinates already formatted.
#[derive(Serialize)]
struct FunnelBar {
    name: &'static str,
    stage: String,
    n: u64,
    y: usize,
    text_y: usize,
    width: String,
    opacity: String,
    text_x: String,
}

#[derive(Serialize)]
struct Uplift {
    class: &'static str,
    value: String,
    low: String,
    high: String,
    z: String,
    p: String,
}

#[derive(Serialize)]
struct GroupRow<'a> {
    name: &'a str,
    key: String,
    enrolled: u64,
    converted: u64,
    rate: String,
    revenue: Vec<(&'a str, &'a str)>,
}

#[derive(Serialize)]
struct StatsCells<'a> {
    sent: u64,
    delivered: u64,
    opened: u64,
    clicked: u64,
    click_rate: String,
    unsubscribed: u64,
    converted: u64,
    revenue: Vec<(&'a str, &'a str)>,
}

#[derive(Serialize)]
struct StepRow<'a> {
    step: u32,
    name: &'a str,
    channel: &'a str,
    stats: StatsCells<'a>,
}

#[derive(Serialize)]
struct ChannelRow<'a> {
    channel: &'a str,
    stats: StatsCells<'a>,
}

#[derive(Serialize)]
struct MessageRow<'a> {
    when: String,
    channel: &'a str,
    step: StepRef,
    subject: &'a str,
    test: bool,
    status: &'static str,
    attempts: u32,
}

/// The funnel as horizontal bars.
fn funnel(r: &FlowReport) -> Vec<FunnelBar> {
    let stages = [
        ("Enrolled", r.treated.enrolled),
        ("Sent", r.totals.sent),
        ("Opened", r.totals.opened),
        ("Clicked", r.totals.clicked),
        ("Converted", r.treated.converted),
    ];
    let max = stages.iter().map(|s| s.1).max().unwrap_or(0).max(1) as f64;
    stages
        .iter()
        .enumerate()
        .map(|(i, &(name, n))| {
            let y = 8 + i * 38;
            let w = (260.0 * (n as f64) / max).max(2.0);
            FunnelBar {
                name,
                stage: name.to_lowercase(),
                n,
                y,
                text_y: y + 18,
                width: format!("{w:.1}"),
                opacity: format!("{:.2}", 1.0 - i as f64 * 0.14),
                text_x: format!("{:.1}", 86.0 + w),
            }
        })
        .collect()
}

/// "Why they left" as horizontal bars (share per reason), a table per cart-value band, and the
/// newest free text (already masked by the engine). Every text is escaped by the template.
fn reasons_chart(r: &FlowReport) -> Option<Value> {
    let rr = r.reasons.as_ref()?;
    let max = rr.reasons.iter().map(|x| x.share).fold(0.0, f64::max);
    let bars: Vec<Value> = rr
        .reasons
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let y = 22 + i * 44;
            let w = if max > 0.0 {
                300.0 * x.share / max
            } else {
                0.0
            }
            .max(2.0);
            let label: String = x.label.chars().take(60).collect();
            Value::from_serialize(serde_json::json!({
                "id": x.id, "label": label, "share": pct(x.share), "y": y, "label_y": y - 6,
                "width": format!("{w:.1}"), "text_x": format!("{:.1}", w + 6.0), "text_y": y + 13,
            }))
        })
        .collect();
    let rows: Vec<Value> = rr
        .reasons
        .iter()
        .map(|x| {
            let cells: Vec<String> = rr
                .bands
                .iter()
                .map(|b| {
                    let share = b
                        .reasons
                        .iter()
                        .find(|y| y.id == x.id)
                        .map_or(0.0, |y| y.share);
                    pct(share)
                })
                .collect();
            Value::from_serialize(serde_json::json!({ "label": x.label, "cells": cells }))
        })
        .collect();
    let texts: Vec<Value> = rr
        .other_texts
        .iter()
        .map(|t| {
            Value::from_serialize(serde_json::json!({
                "when": t.answered_at.format("%Y-%m-%d").to_string(),
                "shopper": t.shopper.as_deref().unwrap_or("erased"), "text": t.text,
            }))
        })
        .collect();
    let bands: Vec<String> = rr
        .bands
        .iter()
        .map(|b| format!("{} ({})", b.label, b.answers))
        .collect();
    Some(Value::from_serialize(serde_json::json!({
        "answers": rr.answers, "height": 12 + rr.reasons.len() * 44, "bars": bars, "rows": rows,
        "texts": texts, "bands": bands,
    })))
}

fn group_row<'a>(name: &'a str, key: String, g: &'a GroupStats) -> GroupRow<'a> {
    GroupRow {
        name,
        key,
        enrolled: g.enrolled,
        converted: g.converted,
        rate: pct(g.conversion_rate),
        revenue: revenue(&g.revenue),
    }
}

fn stats_cells(s: &MessageStats) -> StatsCells<'_> {
    StatsCells {
        sent: s.sent,
        delivered: s.delivered,
        opened: s.opened,
        clicked: s.clicked,
        click_rate: s.click_rate.map(pct).unwrap_or_else(|| "—".into()),
        unsubscribed: s.unsubscribed,
        converted: s.converted,
        revenue: revenue(&s.revenue),
    }
}

fn uplift(r: &FlowReport) -> Option<Uplift> {
    r.comparison.as_ref().map(|c| Uplift {
        class: if c.ci95_low > 0.0 {
            "pos"
        } else if c.ci95_high < 0.0 {
            "neg"
        } else {
            ""
        },
        value: format!("{:+.1}", c.uplift * 100.0),
        low: format!("{:+.1}", c.ci95_low * 100.0),
        high: format!("{:+.1}", c.ci95_high * 100.0),
        z: format!("{:.2}", c.z),
        p: format!("{:.3}", c.p_value),
    })
}

/// A message's step, numbered and named as the engine counts steps (a closing message is named
/// after the step it closes).
fn step_of(state: &AppState, m: &OutboxRow) -> StepRef {
    let meta = |k: &str| m.message.metadata.get(k).map(String::as_str);
    state
        .engine
        .step_ref(meta("flow_id").unwrap_or(""), meta("variant"), m.step)
}

fn unnamed() -> StepRef {
    StepRef {
        number: 0,
        name: String::new(),
    }
}

/// The dashboard page: the flow tabs, and `current`'s report with the messages of that flow
/// (`None`: no flow is configured). Every text from the store is escaped by the template engine.
fn dashboard_page(
    flows: &[String],
    current: Option<(&FlowReport, &[OutboxRow])>,
    step_of: &dyn Fn(&OutboxRow) -> StepRef,
) -> Result<String, minijinja::Error> {
    let nav: Vec<NavLink<'_>> = flows
        .iter()
        .map(|f| NavLink {
            id: f,
            query: url::form_urlencoded::byte_serialize(f.as_bytes()).collect(),
            on: current.is_some_and(|(r, _)| r.flow_id == *f),
        })
        .collect();
    let Some((r, messages)) = current else {
        return render(
            "dashboard.html",
            context! { flows => nav, flow => Value::from(()) },
        );
    };
    let flow = r.flow_id.as_str();
    let variant_keys: Vec<String> = r
        .variants
        .iter()
        .map(|v| format!("variant-{}", v.variant))
        .collect();
    let rows: Vec<MessageRow<'_>> = messages
        .iter()
        .filter(|m| m.message.metadata.get("flow_id").is_none_or(|f| f == flow))
        .map(|m| MessageRow {
            when: m.created_at.format("%Y-%m-%d %H:%M").to_string(),
            channel: &m.channel_id,
            step: step_of(m),
            subject: m.message.subject.as_deref().unwrap_or(""),
            test: m.test,
            status: m.status.as_str(),
            attempts: m.attempts,
        })
        .collect();
    render(
        "dashboard.html",
        context! {
            flows => nav,
            flow,
            from => r.from.format("%Y-%m-%d %H:%M").to_string(),
            to => r.to.format("%Y-%m-%d %H:%M").to_string(),
            funnel => funnel(r),
            reasons => reasons_chart(r),
            uplift => uplift(r),
            treated => group_row("Treated", "treated".into(), &r.treated),
            holdout => group_row("Holdout", "holdout".into(), &r.holdout),
            revenue => revenue(&r.treated.revenue),
            steps => r.steps.iter().map(|s| StepRow {
                step: s.step,
                name: &s.name,
                channel: &s.channel,
                stats: stats_cells(&s.stats),
            }).collect::<Vec<_>>(),
            channels => r.channels.iter().map(|c| ChannelRow {
                channel: &c.channel,
                stats: stats_cells(&c.stats),
            }).collect::<Vec<_>>(),
            variants => r.variants.iter().zip(&variant_keys).map(|(v, key)| {
                group_row(&v.variant, key.clone(), &v.group)
            }).collect::<Vec<_>>(),
            outcomes => &r.outcomes,
            messages => rows,
            no_messages => messages.is_empty(),
        },
    )
}

pub async fn dashboard(
    State(state): State<AppState>,
    Extension(guards): Extension<Arc<Guards>>,
    client: Client,
    headers: HeaderMap,
    query: Result<Query<DashboardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if let Some(elsewhere) = unless_signed_in(&state, &guards, client, &headers) {
        return Ok(elsewhere);
    }
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let flows: Vec<String> = state.engine.flow_ids();
    let Some(flow) = q.flow.clone().or_else(|| flows.first().cloned()) else {
        return Ok(respond(dashboard_page(&flows, None, &|_| unnamed())));
    };
    let (from, to) =
        crate::flows_api::window(q.from.as_deref(), q.to.as_deref(), state.clock.now())
            .map_err(ApiError::BadRequest)?;
    let r = state
        .engine
        .report(&flow, from, to)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no flow {flow:?}")))?;
    let messages = state
        .store
        .messages(&MessageFilter {
            limit: 50,
            ..Default::default()
        })
        .await?;
    Ok(respond(dashboard_page(
        &flows,
        Some((&r, &messages)),
        &|m| step_of(&state, m),
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cartback_engine::report::{ChannelStats, Comparison, StepStats, VariantStats};
    use cartback_store::OutboxStatus;
    use chrono::{TimeZone as _, Utc};

    fn numbered(index: u32) -> StepRef {
        StepRef {
            number: index + 1,
            name: format!("step named {EVIL}"),
        }
    }

    const EVIL: &str = "<script>alert(1)</script>";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;";

    fn group(enrolled: u64, converted: u64) -> GroupStats {
        GroupStats {
            enrolled,
            converted,
            conversion_rate: converted as f64 / enrolled as f64,
            revenue: BTreeMap::from([("EUR".to_string(), "42.50".to_string())]),
        }
    }

    fn report(flow: &str) -> FlowReport {
        let stats = MessageStats {
            sent: 3,
            delivered: 3,
            opened: 2,
            clicked: 1,
            click_rate: Some(1.0 / 3.0),
            ..Default::default()
        };
        FlowReport {
            flow_id: flow.into(),
            from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 1, 31, 0, 0, 0).unwrap(),
            enrolled: 20,
            held_out: 10,
            treated: group(10, 3),
            holdout: group(10, 1),
            comparison: Some(Comparison {
                uplift: 0.2,
                ci95_low: 0.01,
                ci95_high: 0.39,
                z: 2.1,
                p_value: 0.036,
            }),
            totals: stats.clone(),
            steps: vec![StepStats {
                step: 1,
                name: EVIL.into(),
                channel: EVIL.into(),
                stats: stats.clone(),
            }],
            outcomes: vec![cartback_engine::report::StepOutcome {
                step: 1,
                name: EVIL.into(),
                outcome: EVIL.into(),
                runs: 2,
            }],
            channels: vec![ChannelStats {
                channel: EVIL.into(),
                stats: stats.clone(),
            }],
            variants: vec![VariantStats {
                variant: EVIL.into(),
                group: group(10, 3),
                messages: stats,
            }],
            reasons: None,
        }
    }

    fn message(flow: &str) -> OutboxRow {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 0).unwrap();
        OutboxRow {
            id: "m-1".into(),
            run_id: "r-1".into(),
            step: 0,
            channel_id: EVIL.into(),
            contact_id: None,
            cart_id: None,
            status: OutboxStatus::Failed,
            message: cartback_core::OutboundMessage {
                id: "m-1".into(),
                channel_id: EVIL.into(),
                to: cartback_core::Recipient {
                    email: Some("a@example.com".into()),
                    phone: None,
                    name: Some(EVIL.into()),
                },
                subject: Some(EVIL.into()),
                html: Some(EVIL.into()),
                text: None,
                headers: BTreeMap::new(),
                metadata: BTreeMap::from([("flow_id".to_string(), flow.to_string())]),
                contact: None,
                cart: None,
                test: true,
                discount_code: None,
                purpose: Default::default(),
            },
            attempts: 2,
            next_attempt_at: at,
            lease_until: None,
            provider_message_id: None,
            last_error: Some(EVIL.into()),
            test: true,
            created_at: at,
            sent_at: None,
        }
    }

    #[test]
    fn store_values_are_escaped_by_the_template_engine() {
        let flows = [EVIL.to_string(), "other".to_string()];
        let r = report(EVIL);
        let messages = [message(EVIL)];
        let html = dashboard_page(&flows, Some((&r, &messages)), &|m| numbered(m.step)).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("alert(1)</"), "{html}");
        // The flow id (tab, heading, title), the channel, the variant and the subject.
        assert!(html.contains(&format!("<title>{ESCAPED} dashboard · cartback</title>")));
        assert!(html.contains(&format!("<strong>{ESCAPED}</strong>")));
        assert!(html.contains(&format!(
            "<a class=\"on\" href=\"/dashboard?flow=%3Cscript%3Ealert%281%29%3C%2Fscript%3E\">{ESCAPED}</a>"
        )));
        assert!(html.contains(&format!("<td>{ESCAPED}</td>")));
        assert!(html.contains(&format!("data-metric=\"variant-{ESCAPED}-enrolled\"")));
        assert!(html.contains(&format!(
            "<td class=\"left\">{ESCAPED} <span class=\"muted\">(test)</span></td><td class=\"status-failed\">failed</td><td>2</td>"
        )));
        // The numbers as before.
        assert!(html.contains("data-metric=\"treated-rate\">30.0%</td>"));
        assert!(html.contains("<p class=\"big pos\" data-metric=\"uplift\">+20.0 pts</p>"));
        assert!(html.contains("95% CI +1.0 to +39.0 pts · z = 2.10 · p = 0.036"));
        assert!(html.contains("<p class=\"big\" data-metric=\"revenue\">EUR 42.50</p>"));
        assert!(html.contains("<td>33.3%</td>"));
        assert!(html.contains("data-stage=\"converted\">3</text>"));
        assert_eq!(html.matches("<rect ").count(), 5);
        assert!(html.contains("<a href=\"/dashboard?flow=other\">other</a>"));
        // Another flow's messages are not listed; "no messages" is only for an empty outbox.
        let html = dashboard_page(&flows, Some((&report("other"), &messages)), &|m| {
            numbered(m.step)
        })
        .unwrap();
        assert!(!html.contains("class=\"status-failed\""), "{html}");
        assert!(!html.contains("No messages yet."));
    }

    #[test]
    fn reasons_are_charted_and_escaped() {
        use cartback_engine::survey::{Reason, Survey};
        let survey = Survey {
            id: "why".into(),
            question: "Why?".into(),
            reasons: vec![Reason {
                id: "evil".into(),
                label: EVIL.into(),
            }],
            other: true,
        };
        let count = |reason: &str, answers| cartback_store::SurveyCount {
            survey_id: "why".into(),
            reason: reason.into(),
            value_band: "under_50".into(),
            answers,
        };
        let data = cartback_store::SurveyData {
            counts: vec![count("evil", 3), count("other", 1)],
            texts: vec![cartback_store::SurveyText {
                text: EVIL.into(),
                email: Some("ann@example.com".into()),
                answered_at: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
            }],
        };
        let mut r = report("f");
        r.reasons = Some(cartback_engine::survey_report::build(&[&survey], &data));
        let html = dashboard_page(&["f".to_string()], Some((&r, &[])), &|_| unnamed()).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("data-reason=\"evil\">75.0%</text>"), "{html}");
        assert!(
            html.contains("data-reason=\"other\">25.0%</text>"),
            "{html}"
        );
        assert!(html.contains("a***@example.com"), "{html}");
        assert_eq!(html.matches("<rect ").count(), 5 + 2);
    }

    #[test]
    fn error_texts_are_escaped_on_the_login_page() {
        let html = render("login.html", context! { error => EVIL }).unwrap();
        assert!(html.contains(&format!("<p class=\"neg\" role=\"alert\">{ESCAPED}</p>")));
        assert!(!html.contains("<script"));
        let html = render("login.html", context! { error => None::<&str> }).unwrap();
        assert!(!html.contains("role=\"alert\""));
        assert!(html.contains("<input id=\"token\" name=\"token\" type=\"password\""));
    }

    #[test]
    fn every_page_has_the_hashed_stylesheet_and_an_inline_icon() {
        let empty = dashboard_page(&[], None, &|m| numbered(m.step)).unwrap();
        assert!(empty.contains("No flows are configured yet. Add a <code>[flow.&lt;id&gt;]</code>"));
        assert!(empty.contains("<title>Dashboard · cartback</title>"));
        let r = report("recover");
        let full =
            dashboard_page(&["recover".into()], Some((&r, &[])), &|m| numbered(m.step)).unwrap();
        assert!(full.contains("No messages yet."));
        let login = render("login.html", context! { error => None::<&str> }).unwrap();
        for html in [empty, full, login] {
            assert!(html.starts_with("<!doctype html>"));
            assert!(html.contains("<link rel=\"icon\" href=\"data:,\">"));
            // The style block is the embedded CSS, byte for byte: the policy's hash matches it.
            assert!(html.contains(&format!("<style>{STYLE}</style>")));
            assert!(!html.contains(" style=\""));
        }
    }
}
