//! "Why they left": the survey page a message's `{{ links.survey }}` opens (`GET /s/{token}`),
//! its one-click answer (`POST /s/{token}`), and the on-site pop-up's answer
//! (`POST /onsite/survey`).
//!
//! The token is the authority: signed, it names only the message; the survey, the cart and the
//! shopper come from what the hub stored for that message. A forged or altered token gets a
//! 404 page, never a redirect. The page is the hub's own HTML and CSS (no script, nothing
//! loaded from elsewhere; the `/u/` page's security headers), a real form with labelled radio
//! buttons. A shopper is asked once per cart: after an answer (from any message of the cart) the
//! page only thanks them and offers the way back to the cart (the message's tracked `/r/` link).

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use cartback_engine::survey::{Asked, Survey, SurveyError, MAX_TEXT_CHARS, OTHER, OTHER_LABEL};
use cartback_kit::token::LinkKind;
use serde::Deserialize;
use serde_json::json;

/// The largest answer body taken (a reason id and up to 500 characters of text, URL-encoded).
pub const MAX_BODY: usize = 8 * 1024;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2433;background:#f6f7f9;margin:0}\
main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:12px}\
h1{font-size:1.4rem;margin:0 0 1rem}fieldset{border:0;padding:0;margin:0 0 1rem}\
legend{font-weight:600;margin-bottom:.5rem}\
.choice{display:flex;gap:.6rem;align-items:center;padding:.7rem .8rem;margin:.4rem 0;border:1px solid #c9ced8;border-radius:8px;cursor:pointer}\
.choice:focus-within{outline:2px solid #2f6fde;outline-offset:2px}\
input[type=radio]{width:1.2rem;height:1.2rem;margin:0;flex:none}\
label.text{display:block;margin:.8rem 0 .3rem}textarea{box-sizing:border-box;width:100%;min-height:5rem;font:inherit;padding:.5rem;border:1px solid #8a93a3;border-radius:8px}\
button,.go{display:inline-block;font:inherit;background:#111;color:#fff;border:0;border-radius:8px;padding:.7rem 1.3rem;cursor:pointer;text-decoration:none}\
button:focus-visible,.go:focus-visible{outline:2px solid #2f6fde;outline-offset:2px}\
.hint{color:#4a5263;font-size:.9rem}[role=alert]{color:#a40000;font-weight:600}\
@media (max-width:480px){main{margin:0;border-radius:0;min-height:100vh}}";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{CSS}</style></head>\
         <body><main>{body}</main></body></html>",
        esc(title)
    );
    (status, Html(html)).into_response()
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Link not found",
        "<h1>Link not found</h1><p>This link is not valid. Nothing was recorded.</p>",
    )
}

fn unavailable() -> Response {
    let mut r = page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again",
        "<h1>Please try again</h1><p>We could not record your answer just now. Please try again in a moment.</p>",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    r
}

/// The message the token names, if the token is ours and the message asks a survey.
async fn asked(state: &AppState, raw: &str) -> Result<Option<Asked>, Response> {
    let Some(t) = state
        .engine
        .link_signer()
        .verify(raw)
        .filter(|t| t.kind == LinkKind::Survey)
    else {
        return Ok(None);
    };
    state.engine.asked(&t.message_id).await.map_err(|e| {
        tracing::error!(error = %e, "Store call failed.");
        unavailable()
    })
}

fn form(survey: &Survey, error: Option<&str>) -> String {
    let mut html = format!("<h1>{}</h1>", esc(&survey.question));
    if let Some(e) = error {
        html.push_str(&format!("<p role=\"alert\">{}</p>", esc(e)));
    }
    html.push_str("<form method=\"post\"><fieldset><legend>Choose one reason</legend>");
    let mut choices: Vec<(&str, &str)> = survey
        .reasons
        .iter()
        .map(|r| (r.id.as_str(), r.label.as_str()))
        .collect();
    if survey.other {
        choices.push((OTHER, OTHER_LABEL));
    }
    for (i, (id, label)) in choices.iter().enumerate() {
        html.push_str(&format!(
            "<label class=\"choice\" for=\"r{i}\"><input type=\"radio\" id=\"r{i}\" name=\"reason\" value=\"{}\" required>{}</label>",
            esc(id),
            esc(label)
        ));
    }
    html.push_str("</fieldset>");
    if survey.other {
        html.push_str(&format!(
            "<label class=\"text\" for=\"text\">If you chose \u{201c}Other\u{201d}, tell us more (optional)</label>\
             <textarea id=\"text\" name=\"text\" maxlength=\"{MAX_TEXT_CHARS}\" aria-describedby=\"text-hint\"></textarea>\
             <p class=\"hint\" id=\"text-hint\">Up to {MAX_TEXT_CHARS} characters.</p>"
        ));
    }
    html.push_str("<button type=\"submit\">Send my answer</button></form>");
    html
}

fn thanks(asked: &Asked, state: &AppState) -> Response {
    let back = asked
        .message
        .message
        .cart
        .as_ref()
        .and_then(|c| c.recovery_url.as_deref())
        .filter(|u| cartback_engine::links::is_hub_link(u, state.engine.public_url()));
    let link = match back {
        Some(u) => format!(
            "<p><a class=\"go\" id=\"back-to-cart\" href=\"{}\">Back to your cart</a></p>",
            esc(u)
        ),
        None => String::new(),
    };
    page(
        StatusCode::OK,
        "Thank you",
        &format!("<h1>Thank you</h1><p>Your answer helps us make shopping here easier.</p>{link}"),
    )
}

/// `GET /s/{token}`: the question, or the thanks page when the cart has an answer already.
pub async fn survey_page(State(state): State<AppState>, Path(raw): Path<String>) -> Response {
    let asked = match asked(&state, &raw).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(r) => return r,
    };
    match state.engine.survey_answered(&asked.cart_id).await {
        Ok(true) => thanks(&asked, &state),
        Ok(false) => page(
            StatusCode::OK,
            &asked.survey.question,
            &form(&asked.survey, None),
        ),
        Err(e) => {
            tracing::error!(error = %e, "Store call failed.");
            unavailable()
        }
    }
}

/// `POST /s/{token}` (`reason=<id>&text=...`, form-encoded): records the answer once per cart,
/// then thanks. A reason the survey does not offer: 400 with the form again.
pub async fn survey_answer(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    body: Bytes,
) -> Response {
    let asked = match asked(&state, &raw).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(r) => return r,
    };
    let mut reason = None;
    let mut text = None;
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "reason" if reason.is_none() => reason = Some(v.into_owned()),
            "text" if text.is_none() => text = Some(v.into_owned()),
            _ => {}
        }
    }
    let reason = reason.unwrap_or_default();
    match state
        .engine
        .answer_survey(&asked, &reason, text.as_deref())
        .await
    {
        Ok(_) => thanks(&asked, &state),
        Err(SurveyError::Invalid(why)) => {
            // Already answered: nothing to correct, only thanks.
            if matches!(state.engine.survey_answered(&asked.cart_id).await, Ok(true)) {
                return thanks(&asked, &state);
            }
            let why = format!("{why}.");
            page(
                StatusCode::BAD_REQUEST,
                &asked.survey.question,
                &form(&asked.survey, Some(&why)),
            )
        }
        Err(SurveyError::Store(e)) => {
            tracing::error!(error = %e, "Store call failed.");
            unavailable()
        }
    }
}

/// What the pop-up shows of the survey its message asks, unless the cart has an answer.
pub async fn onsite_survey(
    state: &AppState,
    message_id: &str,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Some(asked) = state.engine.asked(message_id).await? else {
        return Ok(None);
    };
    if state.engine.survey_answered(&asked.cart_id).await? {
        return Ok(None);
    }
    let s = &asked.survey;
    let mut reasons: Vec<serde_json::Value> = s
        .reasons
        .iter()
        .map(|r| json!({ "id": r.id, "label": r.label }))
        .collect();
    if s.other {
        reasons.push(json!({ "id": OTHER, "label": OTHER_LABEL }));
    }
    Ok(Some(json!({ "question": s.question, "reasons": reasons })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnsiteAnswer {
    site: String,
    visitor: String,
    message: String,
    reason: String,
    #[serde(default)]
    text: Option<String>,
}

/// `POST /onsite/survey` (text/plain JSON `{site, visitor, message, reason}`, as the widget's
/// beacon sends): the pop-up's answer. The visitor token must name the message's shopper and
/// the message be this site's; once per cart, as the page.
pub async fn onsite_answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let a: OnsiteAnswer = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid answer: {e}")))?;
    let site = crate::onsite::site(&state, &a.site)?;
    let origin = crate::onsite::cors(site, &headers)?;
    let contact = crate::onsite::visitor(&state, &a.visitor)
        .ok_or_else(|| ApiError::BadSignature("unknown or expired visitor".into()))?;
    let asked = state
        .engine
        .asked(&a.message)
        .await?
        .filter(|x| {
            x.message.contact_id.as_deref() == Some(contact.as_str())
                && x.message.channel_id == site.channel_id
        })
        .ok_or_else(|| ApiError::NotFound("unknown message".into()))?;
    match state
        .engine
        .answer_survey(&asked, &a.reason, a.text.as_deref())
        .await
    {
        Ok(_) => {}
        Err(SurveyError::Invalid(why)) => return Err(ApiError::BadRequest(why)),
        Err(SurveyError::Store(e)) => return Err(e.into()),
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Some(o) = origin {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_every_choice_is_labelled() {
        let survey = Survey {
            id: "why".into(),
            question: "Why <b>?".into(),
            reasons: vec![cartback_engine::survey::Reason {
                id: "x".into(),
                label: "\"quoted\" & <i>".into(),
            }],
            other: true,
        };
        let html = form(&survey, Some("<script>"));
        assert!(html.contains("Why &lt;b&gt;?"));
        assert!(html.contains("&quot;quoted&quot; &amp; &lt;i&gt;"));
        assert!(!html.contains("<script>"));
        assert_eq!(html.matches("type=\"radio\"").count(), 2);
        assert_eq!(html.matches("<label class=\"choice\" for=").count(), 2);
        assert!(html.contains("<label class=\"text\" for=\"text\">"));
    }
}
