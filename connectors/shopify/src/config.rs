//! The `[source.<id>]` table for `type = "shopify"`.

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, Secret, SecretList};
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
    /// Import only (`cartback import`): an Admin API access token (`shpat_...`, sent as
    /// `X-Shopify-Access-Token`) with `read_orders`, `read_customers` and `read_products`, and
    /// the staff permission to manage abandoned checkouts. Needs `shop_domain`.
    #[serde(default)]
    pub admin_access_token: Option<Secret>,
    /// Import only: the Admin GraphQL API version (`YYYY-MM`, default [`DEFAULT_API_VERSION`];
    /// at least 2026-07, the first with `Order.checkoutToken` and `Order.cartToken`).
    #[serde(default)]
    pub api_version: Option<String>,
    /// Import only: where the Admin API is (default `https://{shop_domain}`); for tests and proxies.
    #[serde(default)]
    pub admin_base_url: Option<String>,
}

/// The Admin GraphQL API version an import asks for when `api_version` is not set.
pub const DEFAULT_API_VERSION: &str = "2026-10";
/// The oldest version the import's queries work with (`Order.checkoutToken`, `Order.cartToken`).
pub const MIN_API_VERSION: &str = "2026-07";

impl ShopifySettings {
    /// Settings with `secret` and every other field at its default.
    pub fn new(secret: SecretList) -> Self {
        ShopifySettings {
            secret,
            replay_window: default_replay_window(),
            default_phone_region: None,
            shop_domain: None,
            admin_access_token: None,
            api_version: None,
            admin_base_url: None,
        }
    }

    /// The Admin GraphQL API version, defaulted.
    pub fn api_version(&self) -> &str {
        self.api_version
            .as_deref()
            .map(str::trim)
            .unwrap_or(DEFAULT_API_VERSION)
    }

    /// The Admin API's base (`https://{shop_domain}` unless `admin_base_url`), no trailing slash.
    pub fn admin_base(&self) -> Option<String> {
        match self.admin_base_url.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => Some(u.trim_end_matches('/').to_string()),
            _ => self.shop_domain().map(|d| format!("https://{d}")),
        }
    }

    /// Why an import cannot run with these settings, if it cannot.
    pub fn import_missing(&self) -> Option<String> {
        match (&self.admin_access_token, self.shop_domain()) {
            (Some(_), Some(_)) => None,
            (None, _) => Some(
                "an import reads Shopify's Admin GraphQL API: set admin_access_token (and shop_domain)"
                    .into(),
            ),
            (Some(_), None) => Some("an import needs shop_domain".into()),
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
        if let Some(token) = &self.admin_access_token {
            if token.expose().trim().is_empty() {
                out.push(Problem::new("admin_access_token", "must not be empty"));
            }
            if self.shop_domain().is_none() {
                out.push(Problem::new(
                    "shop_domain",
                    "needed by admin_access_token: the import reads https://{shop_domain}/admin/api/...",
                ));
            }
        }
        if let Some(v) = &self.api_version {
            if !is_api_version(v.trim()) {
                out.push(Problem::new(
                    "api_version",
                    format!("{v:?} must be a Shopify API version such as \"{DEFAULT_API_VERSION}\" (YYYY-MM)"),
                ));
            } else if v.trim() < MIN_API_VERSION {
                out.push(Problem::new(
                    "api_version",
                    format!("{v:?} is older than {MIN_API_VERSION}, the first version with Order.checkoutToken, which the import reads"),
                ));
            }
        }
        if let Some(raw) = &self.admin_base_url {
            out.extend(settings::site_url("admin_base_url", raw).err());
        }
        out
    }

    /// The first of [`Self::problems`] as one line (`"secret must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

/// `YYYY-MM` with a quarter's month (Shopify releases in January, April, July and October).
fn is_api_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && matches!(&v[5..], "01" | "04" | "07" | "10")
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
        let s: ShopifySettings = serde_json::from_value(serde_json::json!({
            "secret": "ok",
            "admin_access_token": "shpat_x",
            "api_version": "2026-13",
            "admin_base_url": "not a url"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["shop_domain", "api_version", "admin_base_url"]);
        let s: ShopifySettings = serde_json::from_value(serde_json::json!({
            "secret": "ok", "shop_domain": "x.myshopify.com", "admin_access_token": "t",
            "api_version": "2025-10"
        }))
        .expect("the table parses");
        assert!(s.problems()[0].message.contains("older than 2026-07"));
        let fine = ShopifySettings::new(SecretList::new(vec![cartback_kit::Secret::new("s")]));
        assert_eq!(fine.problems(), Vec::new());
    }
}
