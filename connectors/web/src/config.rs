//! The `[channel.<id>]` table for `type = "web"`: the on-site "Previously added to cart" pop-up.

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

fn default_true() -> bool {
    true
}

fn default_window() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(3 * 86_400))
}

fn default_visitor_lifetime() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30 * 86_400))
}

/// The `[channel.<id>]` table with `type = "web"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// Public key the shop's `<script data-site="...">` carries.
    pub site_key: String,
    /// Signs `cartback.identify({ email, signature })` (hex HMAC-SHA256 of the email). Optional:
    /// without it shoppers are identified only through the hub's links.
    #[serde(default)]
    pub site_secret: Option<Secret>,
    /// Shop origins allowed to call the hub from the browser (`https://shop.example`).
    pub origins: Vec<String>,
    /// Show only on the first page of a visit.
    #[serde(default = "default_true")]
    pub landing_only: bool,
    /// How long after the step the pop-up stays on.
    #[serde(default = "default_window")]
    pub window: HumanDuration,
    /// How long a visitor token (`cb_v`) reads the shopper's cart (default 30 days).
    #[serde(default = "default_visitor_lifetime")]
    pub visitor_lifetime: HumanDuration,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub button: Option<String>,
    /// A `[survey.<id>]` the pop-up asks ("why they left": one row of reason buttons); a step's
    /// own `survey` comes first. Checked against the configured surveys by `check-config`.
    #[serde(default)]
    pub survey: Option<String>,
}

impl WebSettings {
    /// Every problem, each at its key path (`origins[1]`; pure: no I/O): what `check-config`
    /// reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.site_key.trim().is_empty()
            || !self
                .site_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(Problem::new("site_key", "must be letters, digits, _ or -"));
        }
        if self.origins.is_empty() {
            out.push(Problem::new(
                "origins",
                "must list the shop's origins (https://shop.example)",
            ));
        }
        for (i, o) in self.origins.iter().enumerate() {
            let rest = o
                .split_once("://")
                .map(|(_, r)| r.trim_end_matches('/'))
                .unwrap_or("");
            if !(o.starts_with("https://") || o.starts_with("http://"))
                || rest.is_empty()
                || rest.contains('/')
            {
                out.push(Problem::new(
                    format!("origins[{i}]"),
                    format!("{o:?} must be scheme://host[:port] with no path"),
                ));
            }
        }
        out.extend(settings::positive("window", self.window.0));
        if self.visitor_lifetime.0.is_zero() || self.visitor_lifetime.0.as_secs() > 400 * 86_400 {
            out.push(Problem::new(
                "visitor_lifetime",
                "must be between 1s and 400d",
            ));
        }
        out
    }

    /// The first of [`Self::problems`] as one line (`"window must be longer than zero"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: WebSettings = serde_json::from_value(serde_json::json!({
            "site_key": "a b",
            "origins": ["https://shop.example", "https://shop.example/cart"],
            "window": "0s",
            "visitor_lifetime": "500d"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            ["site_key", "origins[1]", "window", "visitor_lifetime"]
        );
        assert_eq!(
            s.validate(),
            Err("site_key must be letters, digits, _ or -".to_string())
        );
    }
}
