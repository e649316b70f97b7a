//! The `[source.<id>]` table for `type = "shopify"`.

use cartback_core::duration::HumanDuration;
use cartback_kit::SecretList;
use serde::Deserialize;
use std::time::Duration;

fn default_replay_window() -> HumanDuration {
    // Shopify retries for up to 4 hours with the original payload; 48 h leaves room for outages.
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
    /// When set, `X-Shopify-Shop-Domain` must equal it.
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

    /// Pure validation (no I/O): what `check-config` reports.
    pub fn validate(&self) -> Result<(), String> {
        if self.secret.iter().any(|s| s.expose().trim().is_empty()) {
            return Err("secret must not be empty".into());
        }
        if let Some(r) = &self.default_phone_region {
            let two_letters =
                r.trim().len() == 2 && r.trim().bytes().all(|b| b.is_ascii_alphabetic());
            let known = !matches!(
                cartback_core::normalize_phone("1", Some(r)),
                Err(cartback_core::PhoneError::BadRegion(_))
            );
            if !two_letters || !known {
                return Err(format!(
                    "default_phone_region {r:?} is not an ISO 3166 two-letter country code"
                ));
            }
        }
        if let Some(d) = &self.shop_domain {
            if d.trim().is_empty() || d.contains(['/', ' ']) {
                return Err(format!(
                    "shop_domain {d:?} must be a bare host such as \"my-shop.myshopify.com\""
                ));
            }
        }
        if self.replay_window.0.is_zero() {
            return Err("replay_window must be longer than zero".into());
        }
        Ok(())
    }
}
