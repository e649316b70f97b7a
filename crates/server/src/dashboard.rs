//! `GET /dashboard`: a server-rendered page per flow — the funnel as an inline SVG chart, treated
//! vs holdout with the uplift's confidence interval, revenue by currency, a table per step and
//! channel, and the last 50 messages. No build step, no CDN: HTML, CSS and SVG come from here.
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
use cartback_engine::report::{FlowReport, GroupStats, MessageStats};
use cartback_store::MessageFilter;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

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

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The one stylesheet; `crate::headers` allows it by its hash.
pub(crate) const STYLE: &str = "
:root{--fg:#1d2433;--muted:#5b6475;--line:#e3e6ec;--accent:#2f6fde;--good:#1a8a4a;--bad:#c2412d;--bg:#f7f8fa}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.8rem 1.2rem;background:#fff;border-bottom:1px solid var(--line)}
header h1{font-size:1.1rem;margin:0}header nav a{margin-right:.8rem;color:var(--accent);text-decoration:none}header nav a.on{font-weight:600;color:var(--fg)}
main{max-width:1200px;margin:0 auto;padding:1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:1rem}.wide{grid-column:span 2}@media (max-width:700px){.wide{grid-column:auto}}header form{margin-left:auto}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem;min-width:0}
.card h2{font-size:1rem;margin:0 0 .6rem}.big{font-size:1.6rem;font-weight:600}.muted{color:var(--muted)}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:.35rem .5rem;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}th:first-child,td:first-child{text-align:left}
th{font-weight:600;color:var(--muted);font-size:.85rem}.pos{color:var(--good)}.neg{color:var(--bad)}
svg text{font:12px system-ui,sans-serif;fill:var(--fg)}
form.login{max-width:22rem;margin:4rem auto;background:#fff;border:1px solid var(--line);border-radius:8px;padding:1.5rem}
form.login input{width:100%;padding:.6rem;margin:.5rem 0 1rem;font:inherit}form.login button,header button{padding:.5rem 1rem;font:inherit;cursor:pointer}
.status-sent{color:var(--good)}.spaced{margin-top:1rem}td.left{text-align:left}.status-failed,.status-unknown{color:var(--bad)}
@media (max-width:600px){main{padding:.5rem}.big{font-size:1.3rem}}
";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · cartback</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    ))
}

fn login_page(error: Option<&str>) -> Html<String> {
    let err = error
        .map(|e| format!("<p class=\"neg\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Sign in",
        &format!(
            "<form class=\"login\" method=\"post\" action=\"/dashboard/login\"><h1>cartback</h1>{err}\
             <label for=\"token\">Admin token</label><input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
             <button type=\"submit\">Sign in</button></form>"
        ),
    )
}

pub async fn login_form() -> Html<String> {
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

fn money(r: &BTreeMap<String, String>) -> String {
    if r.is_empty() {
        return "—".into();
    }
    r.iter()
        .map(|(c, a)| format!("{} {}", esc(c), esc(a)))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The funnel as horizontal bars.
fn funnel_svg(r: &FlowReport) -> String {
    let stages = [
        ("Enrolled", r.treated.enrolled),
        ("Sent", r.totals.sent),
        ("Opened", r.totals.opened),
        ("Clicked", r.totals.clicked),
        ("Converted", r.treated.converted),
    ];
    let max = stages.iter().map(|s| s.1).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::from(
        "<svg role=\"img\" aria-label=\"Funnel: enrolled, sent, opened, clicked, converted\" viewBox=\"0 0 400 200\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\">",
    );
    for (i, (name, n)) in stages.iter().enumerate() {
        let y = 8 + i * 38;
        let w = (260.0 * (*n as f64) / max).max(2.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{name}</text><rect x=\"80\" y=\"{y}\" width=\"{w:.1}\" height=\"26\" rx=\"4\" fill=\"#2f6fde\" opacity=\"{:.2}\"/>\
             <text x=\"{:.1}\" y=\"{}\" data-stage=\"{}\">{n}</text>",
            y + 18,
            1.0 - i as f64 * 0.14,
            86.0 + w,
            y + 18,
            name.to_lowercase()
        );
    }
    svg.push_str("</svg>");
    svg
}

fn group_row(name: &str, key: &str, g: &GroupStats) -> String {
    format!(
        "<tr><td>{name}</td><td data-metric=\"{key}-enrolled\">{}</td><td data-metric=\"{key}-converted\">{}</td><td data-metric=\"{key}-rate\">{}</td><td>{}</td></tr>",
        g.enrolled,
        g.converted,
        pct(g.conversion_rate),
        money(&g.revenue)
    )
}

fn stats_cells(s: &MessageStats) -> String {
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        s.sent,
        s.delivered,
        s.opened,
        s.clicked,
        s.click_rate.map(pct).unwrap_or_else(|| "—".into()),
        s.unsubscribed,
        s.converted,
        money(&s.revenue)
    )
}

pub async fn dashboard(
    State(state): State<AppState>,
    Extension(guards): Extension<Arc<Guards>>,
    client: Client,
    headers: HeaderMap,
    query: Result<Query<DashboardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    match logged_in(&state, &guards, client, &headers) {
        Ok(true) => {}
        Ok(false) => return Ok(Redirect::to("/dashboard/login").into_response()),
        Err(wait) => return Ok(wait.into_response()),
    }
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let flows: Vec<String> = state.engine.flow_ids().map(str::to_string).collect();
    let mut body = String::from("<header><h1>cartback</h1><nav>");
    let current = q.flow.clone().or_else(|| flows.first().cloned());
    for f in &flows {
        let on = if Some(f) == current.as_ref() {
            " class=\"on\""
        } else {
            ""
        };
        let _ = write!(
            body,
            "<a{on} href=\"/dashboard?flow={}\">{}</a>",
            esc(f),
            esc(f)
        );
    }
    body.push_str("</nav><form method=\"post\" action=\"/dashboard/logout\"><button type=\"submit\">Sign out</button></form></header><main>");
    let Some(flow) = current else {
        body.push_str("<div class=\"card\"><p>No flows are configured yet. Add a <code>[flow.&lt;id&gt;]</code> table to the configuration.</p></div></main>");
        return Ok(page("Dashboard", &body).into_response());
    };
    let (from, to) = crate::flows::window(q.from.as_deref(), q.to.as_deref(), state.clock.now())
        .map_err(ApiError::BadRequest)?;
    let r = state
        .engine
        .report(&flow, from, to)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no flow {flow:?}")))?;
    let _ = write!(
        body,
        "<p class=\"muted\">Flow <strong>{}</strong>, runs enrolled {} → {} (UTC)</p><div class=\"grid\">",
        esc(&flow),
        r.from.format("%Y-%m-%d %H:%M"),
        r.to.format("%Y-%m-%d %H:%M")
    );
    let _ = write!(
        body,
        "<section class=\"card\"><h2>Funnel</h2>{}</section>",
        funnel_svg(&r)
    );
    let uplift = match &r.comparison {
        Some(c) => {
            let class = if c.ci95_low > 0.0 { "pos" } else if c.ci95_high < 0.0 { "neg" } else { "" };
            format!(
                "<p class=\"big {class}\" data-metric=\"uplift\">{:+.1} pts</p><p class=\"muted\">95% CI {:+.1} to {:+.1} pts · z = {:.2} · p = {:.3}</p>",
                c.uplift * 100.0,
                c.ci95_low * 100.0,
                c.ci95_high * 100.0,
                c.z,
                c.p_value
            )
        }
        None => "<p class=\"muted\">Needs enrolments in both groups: set <code>holdout_percent</code> on the flow.</p>".into(),
    };
    let _ = write!(
        body,
        "<section class=\"card wide\"><h2>Treated vs holdout</h2>{uplift}<div class=\"scroll\"><table><thead><tr><th>Group</th><th>Enrolled</th><th>Converted</th><th>Rate</th><th>Revenue</th></tr></thead><tbody>{}{}</tbody></table></div></section>",
        group_row("Treated", "treated", &r.treated),
        group_row("Holdout", "holdout", &r.holdout)
    );
    let _ = write!(
        body,
        "<section class=\"card\"><h2>Recovered revenue</h2><p class=\"big\" data-metric=\"revenue\">{}</p><p class=\"muted\">by currency, never summed across currencies</p></section></div>",
        money(&r.treated.revenue)
    );
    let head = "<th>Sent</th><th>Delivered</th><th>Opened</th><th>Clicked</th><th>Click rate</th><th>Unsub.</th><th>Converted</th><th>Revenue</th>";
    let _ = write!(body, "<section class=\"card spaced\"><h2>Steps and channels</h2><div class=\"scroll\"><table><thead><tr><th>Step</th><th>Channel</th>{head}</tr></thead><tbody>");
    for s in &r.steps {
        let _ = write!(
            body,
            "<tr data-step=\"{}\"><td>{}</td><td>{}</td>{}</tr>",
            s.step,
            s.step,
            esc(&s.channel),
            stats_cells(&s.stats)
        );
    }
    for c in &r.channels {
        let _ = write!(
            body,
            "<tr><td>all</td><td>{}</td>{}</tr>",
            esc(&c.channel),
            stats_cells(&c.stats)
        );
    }
    if r.steps.is_empty() {
        body.push_str(
            "<tr><td colspan=\"10\" class=\"muted\">No messages sent in this window yet.</td></tr>",
        );
    }
    body.push_str("</tbody></table></div></section>");
    if !r.variants.is_empty() {
        let _ = write!(body, "<section class=\"card spaced\"><h2>Variants</h2><div class=\"scroll\"><table><thead><tr><th>Variant</th><th>Enrolled</th><th>Converted</th><th>Rate</th><th>Revenue</th></tr></thead><tbody>");
        for v in &r.variants {
            body.push_str(&group_row(
                &esc(&v.variant),
                &format!("variant-{}", esc(&v.variant)),
                &v.group,
            ));
        }
        body.push_str("</tbody></table></div></section>");
    }
    let messages = state
        .store
        .messages(&MessageFilter {
            limit: 50,
            ..Default::default()
        })
        .await?;
    let _ = write!(body, "<section class=\"card spaced\"><h2>Last 50 messages</h2><div class=\"scroll\"><table><thead><tr><th>When (UTC)</th><th>Channel</th><th>Step</th><th>Subject</th><th>Status</th><th>Attempts</th></tr></thead><tbody>");
    for m in messages
        .iter()
        .filter(|m| m.message.metadata.get("flow_id").is_none_or(|f| *f == flow))
    {
        let status = m.status.as_str();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"left\">{}{}</td><td class=\"status-{status}\">{status}</td><td>{}</td></tr>",
            m.created_at.format("%Y-%m-%d %H:%M"),
            esc(&m.channel_id),
            m.step + 1,
            esc(m.message.subject.as_deref().unwrap_or("")),
            if m.test { " <span class=\"muted\">(test)</span>" } else { "" },
            m.attempts
        );
    }
    if messages.is_empty() {
        body.push_str("<tr><td colspan=\"6\" class=\"muted\">No messages yet.</td></tr>");
    }
    body.push_str("</tbody></table></div></section></main>");
    Ok(page(&format!("{flow} dashboard"), &body).into_response())
}
