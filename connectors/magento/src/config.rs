//! The `[source.<id>]` table for `type = "magento"`.

use cartback_core::duration::HumanDuration;
use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;
use std::time::Duration;

/// How often the REST API is polled when `poll_interval` is not set.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2 * 60);
/// Records per request when `page_size` is not set.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest `page_size` accepted (keeps one poll's `/totals` calls bounded).
pub const MAX_PAGE_SIZE: u32 = 300;

/// The placeholders `product_url_template` may use.
pub const PRODUCT_URL_PLACEHOLDERS: [&str; 3] = ["{base_url}", "{sku}", "{product_id}"];

/// A Magento 2 / Adobe Commerce store read through its REST API with an integration token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MagentoSettings {
    /// The shop's URL (`https://shop.example`); the REST API is at `{base_url}/rest/V1`, or
    /// `{base_url}/rest/{store_code}/V1` with a store code.
    pub base_url: String,
    /// The integration's access token (System › Extensions › Integrations), sent as
    /// `Authorization: Bearer`. It needs the `Magento_Cart::manage` and `Magento_Sales::actions_view`
    /// resources.
    pub access_token: Secret,
    /// A store view code (`default`, `fr`, `all`) for store-scoped REST calls.
    #[serde(default)]
    pub store_code: Option<String>,
    /// Time between polls when nothing more is pending (default `"2m"`).
    #[serde(default)]
    pub poll_interval: Option<HumanDuration>,
    /// Quotes and orders per request (default 100, at most 300).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Product page of a cart line, with `{base_url}`, `{sku}` and `{product_id}` placeholders
    /// (`"{base_url}/catalog/product/view/id/{product_id}"`). A line lacking a value the template
    /// needs gets no URL (Magento's cart items carry no product id unless an extension adds it).
    #[serde(default)]
    pub product_url_template: Option<String>,
    /// Where a shopper resumes a cart (`"https://shop.example/checkout/cart/"`); `{quote_id}`
    /// is replaced by the quote id for a companion module that restores a quote by id.
    #[serde(default)]
    pub recovery_url: Option<String>,
    /// ISO 3166 country for phones without a `+country` prefix and whose billing address has no
    /// country.
    #[serde(default)]
    pub default_phone_region: Option<String>,
}

impl MagentoSettings {
    /// Settings with the two required fields and every other at its default.
    pub fn new(base_url: impl Into<String>, access_token: Secret) -> Self {
        MagentoSettings {
            base_url: base_url.into(),
            access_token,
            store_code: None,
            poll_interval: None,
            page_size: None,
            product_url_template: None,
            recovery_url: None,
            default_phone_region: None,
        }
    }

    /// The poll interval, defaulted.
    pub fn interval(&self) -> Duration {
        self.poll_interval
            .map(|d| d.as_std())
            .unwrap_or(DEFAULT_POLL_INTERVAL)
    }

    /// The page size, defaulted and clamped to `1..=MAX_PAGE_SIZE`.
    pub fn page_size(&self) -> u32 {
        self.page_size
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }

    /// `base_url` trimmed, without trailing slashes.
    pub fn base(&self) -> &str {
        self.base_url.trim().trim_end_matches('/')
    }

    /// The REST root including the version: `{base_url}/rest/V1` or `{base_url}/rest/{code}/V1`.
    pub fn rest_url(&self) -> String {
        match self
            .store_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(code) => format!("{}/rest/{code}/V1", self.base()),
            None => format!("{}/rest/V1", self.base()),
        }
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let raw = &self.base_url;
        match settings::site_url("base_url", raw) {
            Err(p) => out.push(p),
            Ok(parsed) => {
                let path = parsed.path().trim_end_matches('/').to_ascii_lowercase();
                if path.ends_with("/rest") || path.ends_with("/v1") || path.contains("/rest/") {
                    out.push(Problem::new(
                        "base_url",
                        format!(
                            "{raw:?} must be the shop's URL; the REST path (/rest/V1) is added"
                        ),
                    ));
                }
            }
        }
        out.extend(settings::secret("access_token", &self.access_token));
        if let Some(code) = &self.store_code {
            let c = code.trim();
            let valid = c.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && c.len() <= 64;
            if !valid {
                out.push(Problem::new(
                    "store_code",
                    format!(
                        "{code:?} must be a Magento store code: letters, digits and \
                         underscores, starting with a letter"
                    ),
                ));
            }
        }
        if let Some(d) = self.poll_interval {
            out.extend(settings::positive("poll_interval", d.0));
        }
        if let Some(n) = self.page_size {
            if n == 0 || n > MAX_PAGE_SIZE {
                out.push(Problem::new(
                    "page_size",
                    format!("{n} must be between 1 and {MAX_PAGE_SIZE}"),
                ));
            }
        }
        if let Some(t) = &self.product_url_template {
            out.extend(template_problem(t).map(|m| Problem::new("product_url_template", m)));
        }
        if let Some(u) = &self.recovery_url {
            let probe = u.replace("{quote_id}", "1");
            let ok = url::Url::parse(probe.trim())
                .is_ok_and(|p| matches!(p.scheme(), "https" | "http") && p.host_str().is_some());
            if !ok {
                out.push(Problem::new(
                    "recovery_url",
                    format!("{u:?} must be an http(s) URL"),
                ));
            }
        }
        out.extend(settings::phone_region(
            "default_phone_region",
            self.default_phone_region.as_deref(),
        ));
        out
    }

    /// The first of [`Self::problems`] as one line (`"access_token must not be empty"`).
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

/// What is wrong with a `product_url_template`, if anything (the message after the key).
fn template_problem(t: &str) -> Option<String> {
    if !t.contains("{sku}") && !t.contains("{product_id}") {
        return Some(format!("{t:?} must use {{sku}} or {{product_id}}"));
    }
    let mut rest = t;
    while let Some(start) = rest.find('{') {
        let tail = &rest[start..];
        let end = tail.find('}').map_or(tail.len(), |e| e + 1);
        let placeholder = &tail[..end];
        if !PRODUCT_URL_PLACEHOLDERS.contains(&placeholder) {
            return Some(format!(
                "{t:?} has an unknown placeholder {placeholder:?} \
                 (use {{base_url}}, {{sku}}, {{product_id}})"
            ));
        }
        rest = &tail[end..];
    }
    let probe = t
        .replace("{base_url}", "https://shop.example")
        .replace("{sku}", "SKU")
        .replace("{product_id}", "1");
    let ok = url::Url::parse(&probe)
        .is_ok_and(|p| matches!(p.scheme(), "https" | "http") && p.host_str().is_some());
    (!ok).then(|| format!("{t:?} must give an http(s) URL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MagentoSettings {
        MagentoSettings::new("https://shop.example/", Secret::new("tok"))
    }

    #[test]
    fn defaults_and_rest_url() {
        let s = settings();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.interval(), Duration::from_secs(120));
        assert_eq!(s.page_size(), 100);
        assert_eq!(s.rest_url(), "https://shop.example/rest/V1");
        let s = MagentoSettings {
            store_code: Some("fr".into()),
            ..settings()
        };
        assert_eq!(s.rest_url(), "https://shop.example/rest/fr/V1");
    }

    #[test]
    fn parses_and_rejects_typos() {
        let s: MagentoSettings = serde_json::from_value(serde_json::json!({
            "base_url": "https://shop.example",
            "access_token": "abc",
            "store_code": "default",
            "poll_interval": "5m",
            "page_size": 300,
            "product_url_template": "{base_url}/{sku}.html",
            "recovery_url": "https://shop.example/checkout/cart/",
            "default_phone_region": "FR"
        }))
        .expect("settings");
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.interval(), Duration::from_secs(300));
        assert_eq!(s.page_size(), 300);
        let typo = serde_json::from_value::<MagentoSettings>(serde_json::json!({
            "base_url": "https://shop.example",
            "access_token": "abc",
            "pagesize": 10
        }));
        assert!(typo.is_err());
        assert!(format!("{:?}", s.access_token).contains("***"));
    }

    #[test]
    fn rejects_bad_values() {
        let bad = [
            MagentoSettings::new("shop.example", Secret::new("t")),
            MagentoSettings::new("ftp://shop.example", Secret::new("t")),
            MagentoSettings::new("https://shop.example/rest/V1", Secret::new("t")),
            MagentoSettings::new("https://shop.example/?a=1", Secret::new("t")),
            MagentoSettings::new("https://shop.example", Secret::new(" ")),
            MagentoSettings {
                store_code: Some("fr/../x".into()),
                ..settings()
            },
            MagentoSettings {
                page_size: Some(0),
                ..settings()
            },
            MagentoSettings {
                page_size: Some(301),
                ..settings()
            },
            MagentoSettings {
                poll_interval: Some(HumanDuration(Duration::ZERO)),
                ..settings()
            },
            MagentoSettings {
                product_url_template: Some("https://shop.example/p".into()),
                ..settings()
            },
            MagentoSettings {
                product_url_template: Some("https://shop.example/{slug}/{sku}".into()),
                ..settings()
            },
            MagentoSettings {
                recovery_url: Some("/checkout/cart".into()),
                ..settings()
            },
            MagentoSettings {
                default_phone_region: Some("France".into()),
                ..settings()
            },
        ];
        for s in bad {
            assert!(s.validate().is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: MagentoSettings = serde_json::from_value(serde_json::json!({
            "base_url": "https://shop.example/rest/V1",
            "access_token": " ",
            "store_code": "fr/../x",
            "poll_interval": "0s",
            "page_size": 0,
            "product_url_template": "https://shop.example/{slug}/{sku}",
            "recovery_url": "/checkout/cart",
            "default_phone_region": "France"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "base_url",
                "access_token",
                "store_code",
                "poll_interval",
                "page_size",
                "product_url_template",
                "recovery_url",
                "default_phone_region"
            ]
        );
        assert_eq!(
            s.validate(),
            Err(
                "base_url \"https://shop.example/rest/V1\" must be the shop's URL; \
                 the REST path (/rest/V1) is added"
                    .to_string()
            )
        );
        assert_eq!(settings().problems(), Vec::new());
    }
}
