//! The `[source.<id>]` table for `type = "shopify"`.

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, SecretList};
use serde::Deserialize;
use std::time::Duration;

fn default_replay_window() -> HumanDuration {
    // Shopify retries 8 times over 4 hours with the original payload (shared/platforms.md §1);
    // 48 h leaves room for an outage of the hub.
    HumanDuration(Duration::from_secs(48 * 3600))
}

/// A Shopify source. `secret` is the app's client secret (or the store's webhook key).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifySettings {
    /// The app's client secret (or the store's webhook key); a list during a rotation.
    pub secret: SecretList,
    /// Deliveries whose `X-Shopify-Triggered-At` is further than this from now are refused.
    #[serde(default = "default_replay_window")]
    pub replay_window: HumanDuration,
    /// ISO 3166 country for phones without a `+country` prefix; else the address's country is used.
    #[serde(default)]
    pub default_phone_region: Option<String>,
    /// The shop's `<name>.myshopify.com` domain. When set, `X-Shopify-Shop-Domain` must equal it,
    /// and so must the signed body's `shop_domain` in the privacy topics (`customers/redact`,
    /// `customers/data_request`, `shop/redact`). When not set, `shop/redact` is refused (400):
    /// erasing every shopper needs the shop named in the body to be this source's shop.
    #[serde(default)]
    pub shop_domain: Option<String>,
}

impl ShopifySettings {
    /// Settings with `secret` and every other field at its default.
    pub fn new(secret: SecretList) -> Self {
        ShopifySettings {
            secret,
            replay_window: default_replay_window(),
            default_phone_region: None,
            shop_domain: None,
        }
    }

    /// The configured shop domain, trimmed; `None` when not set or blank.
    pub fn shop_domain(&self) -> Option<&str> {
        self.shop_domain
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }

    /// Whether `domain` (a header or a body's `shop_domain`) names the configured shop. Always
    /// true when no shop domain is configured.
    pub fn is_own_shop(&self, domain: &str) -> bool {
        match self.shop_domain() {
            Some(own) => own.eq_ignore_ascii_case(domain.trim()),
            None => true,
        }
    }

    /// Settings that are valid but weaken what the hub can check, as one line each (for
    /// `check-config` and start-up logging). Pure; empty when there is nothing to say.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.shop_domain().is_none() {
            out.push(
                "shop_domain is not set: shop/redact deliveries are refused (400) and the \
                 shop named in customers/redact is not checked; set it to the shop's \
                 \"<name>.myshopify.com\" domain"
                    .to_string(),
            );
        }
        out
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secrets("secret", &self.secret));
        out.extend(settings::phone_region(
            "default_phone_region",
            self.default_phone_region.as_deref(),
        ));
        if let Some(d) = &self.shop_domain {
            if d.trim().is_empty()
                || d.trim().contains(['/', ':', '@'])
                || d.trim().contains(char::is_whitespace)
            {
                out.push(Problem::new(
                    "shop_domain",
                    format!("{d:?} must be a bare host such as \"my-shop.myshopify.com\""),
                ));
            }
        }
        out.extend(settings::positive("replay_window", self.replay_window.0));
        out
    }

    /// The first of [`Self::problems`] as one line (`"secret must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: ShopifySettings = serde_json::from_value(serde_json::json!({
            "secret": ["ok", " "],
            "default_phone_region": "USA",
            "shop_domain": "https://x.myshopify.com/",
            "replay_window": "0s"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "secret",
                "default_phone_region",
                "shop_domain",
                "replay_window"
            ]
        );
        assert_eq!(s.validate(), Err("secret must not be empty".to_string()));
        let fine = ShopifySettings::new(SecretList::new(vec![cartback_kit::Secret::new("s")]));
        assert_eq!(fine.problems(), Vec::new());
    }
}
