//! `cartback send-test --flow ID --to EMAIL|PHONE`: every step of a flow rendered and sent now to
//! one address, marked test (the brief's "force" link, from the terminal). It asks the running hub
//! (its admin API's test mode, `POST /api/v1/flows/{id}/test`), so the hub's own channels,
//! templates and tracked links send it, then waits for each message's outcome and prints it.
//! Test sends are real sends: the providers deliver them.

use crate::config::HubConfig;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long the command waits for the hub to send every message.
pub const WAIT: Duration = Duration::from_secs(60);

/// The hub to ask: `--hub`, else the configured listen address on this machine.
pub fn hub_url(cfg: &HubConfig, given: Option<&str>) -> String {
    if let Some(h) = given {
        return h.trim_end_matches('/').to_string();
    }
    let listen = cfg.server.listen.replace("0.0.0.0", "127.0.0.1");
    format!("http://{listen}")
}

/// The test request for `to`: an email address, else a phone number (E.164), with a sample cart.
pub fn request(to: &str, currency: &str) -> Result<Value, String> {
    let to = to.trim();
    let contact = if to.contains('@') {
        json!({ "email": to, "first_name": "Test", "email_consent": "subscribed" })
    } else {
        let phone = cartback_core::normalize_phone(to, None).map_err(|e| {
            format!("--to {to:?}: {e}; give an email address or +<country><number>")
        })?;
        json!({ "phone": phone, "first_name": "Test", "sms_consent": "subscribed" })
    };
    Ok(json!({
        "contact": contact,
        "cart": { "currency": currency, "items": [
            { "title": "Sample product", "quantity": 2, "price": "25.00" } ] }
    }))
}

/// Runs the command; the lines it prints, or one line saying what to do.
pub async fn run(
    cfg: &HubConfig,
    flow: &str,
    to: &str,
    hub: Option<&str>,
    currency: &str,
) -> anyhow::Result<String> {
    let base = hub_url(cfg, hub);
    let token = cfg.server.admin_token.as_ref().map(|t| t.expose()).ok_or_else(|| {
        anyhow::anyhow!("server.admin_token is not set: set CARTBACK_ADMIN_TOKEN (send-test uses the admin API)")
    })?;
    let body = request(to, currency).map_err(|e| anyhow::anyhow!(e))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let resp = client
        .post(format!("{base}/api/v1/flows/{flow}/test"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "no hub answers at {base} ({e}): start it with `cartback serve`, or give --hub URL"
            )
        })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("the hub refused the test ({status}): {}", text.trim());
    }
    let report: Value = serde_json::from_str(&text)?;
    let run_id = report["run_id"].as_str().unwrap_or_default().to_string();
    let mut out = String::new();
    for s in report["skipped"].as_array().into_iter().flatten() {
        out.push_str(&format!("skipped: {}\n", s.as_str().unwrap_or_default()));
    }
    let wanted = report["messages"].as_array().map_or(0, Vec::len);
    if wanted == 0 {
        out.push_str("no message to send: every step was skipped\n");
        return Ok(out);
    }
    // Wait until every message of the test run is no longer on its way.
    let deadline = Instant::now() + WAIT;
    let messages = loop {
        let list: Value = client
            .get(format!("{base}/api/v1/messages?run_id={run_id}&limit=100"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let rows = list["messages"].as_array().cloned().unwrap_or_default();
        let done = rows.len() >= wanted
            && rows
                .iter()
                .all(|m| !matches!(m["status"].as_str(), Some("queued" | "claimed" | "sending")));
        if done || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut sorted = messages;
    sorted.sort_by_key(|m| m["step"].as_u64());
    for m in &sorted {
        out.push_str(&format!(
            "step {} ({}) via {}: {}{}\n",
            m["step"],
            m["step_name"].as_str().unwrap_or(""),
            m["channel"].as_str().unwrap_or(""),
            m["status"].as_str().unwrap_or("?"),
            m["last_error"]
                .as_str()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_says_which_channel_kind() {
        let email = request("qa@shop.example", "EUR").unwrap();
        assert_eq!(email["contact"]["email"], "qa@shop.example");
        assert_eq!(email["cart"]["currency"], "EUR");
        let phone = request("+1 415 555 0100", "USD").unwrap();
        assert_eq!(phone["contact"]["phone"], "+14155550100");
        assert!(request("12", "USD")
            .unwrap_err()
            .contains("+<country><number>"));
    }
}
