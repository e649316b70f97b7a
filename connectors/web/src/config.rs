//! The `[channel.<id>]` table for `type = "web"`: the on-site "Previously added to cart" pop-up.

use cartback_core::duration::HumanDuration;
use cartback_kit::Secret;
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
}

impl WebSettings {
    /// Pure validation: what `check-config` reports (the first problem).
    pub fn validate(&self) -> Result<(), String> {
        if self.site_key.trim().is_empty()
            || !self
                .site_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err("site_key must be letters, digits, _ or -".into());
        }
        if self.origins.is_empty() {
            return Err("origins must list the shop's origins (https://shop.example)".into());
        }
        for o in &self.origins {
            let rest = o
                .split_once("://")
                .map(|(_, r)| r.trim_end_matches('/'))
                .unwrap_or("");
            if !(o.starts_with("https://") || o.starts_with("http://"))
                || rest.is_empty()
                || rest.contains('/')
            {
                return Err(format!(
                    "origin {o:?} must be scheme://host[:port] with no path"
                ));
            }
        }
        if self.window.0.is_zero() {
            return Err("window must be longer than zero".into());
        }
        if self.visitor_lifetime.0.is_zero() || self.visitor_lifetime.0.as_secs() > 400 * 86_400 {
            return Err("visitor_lifetime must be between 1s and 400d".into());
        }
        Ok(())
    }
}
