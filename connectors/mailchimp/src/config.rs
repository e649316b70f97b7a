//! The `[channel.<id>]` table for `type = "mailchimp"`.

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// A Mailchimp e-commerce store the hub hands abandoned carts to. `Debug` never shows the key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailchimpSettings {
    /// A Marketing API key, `<key>-<dc>`; its data center (`us6`) picks the host. Sent with
    /// HTTP Basic auth as the password.
    pub api_key: Secret,
    /// The e-commerce store's id (created once, bound to one audience for good).
    pub store_id: String,
    /// The store's audience. When set, each contact is added to it first (as `transactional`,
    /// or `subscribed` with email consent; an existing member is never changed), which Mailchimp
    /// needs before it takes a cart for someone who is not in the audience yet.
    #[serde(default)]
    pub list_id: Option<String>,
    /// Default `https://<dc>.api.mailchimp.com` (from the key); tests and proxies override it.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Create (or add the variants to) each cart item's product before the cart: Mailchimp
    /// refuses a cart line whose product it does not know. Off only when the store's products
    /// arrive in Mailchimp another way.
    #[serde(default = "yes")]
    pub sync_products: bool,
    /// On a purchase, create the order (which ends Mailchimp's abandoned-cart automation for
    /// this cart and counts the revenue) before deleting the cart. Off: the cart is only deleted.
    #[serde(default = "yes")]
    pub create_orders: bool,
}

impl MailchimpSettings {
    /// Settings for `api_key` and `store_id`, every other field at its default.
    pub fn new(api_key: Secret, store_id: impl Into<String>) -> Self {
        MailchimpSettings {
            api_key,
            store_id: store_id.into(),
            list_id: None,
            base_url: None,
            sync_products: true,
            create_orders: true,
        }
    }

    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        match settings::secret("api_key", &self.api_key) {
            Some(p) => out.push(p),
            None => {
                if data_center(self.api_key.expose()).is_none() {
                    out.push(Problem::new(
                        "api_key",
                        "must end with its data center, as Mailchimp shows it (\"<key>-us6\")",
                    ));
                }
            }
        }
        if let Some(p) = id("store_id", &self.store_id) {
            out.push(p);
        }
        if let Some(p) = self.list_id.as_deref().and_then(|l| id("list_id", l)) {
            out.push(p);
        }
        if let Some(raw) = &self.base_url {
            out.extend(base_url(raw).err());
        }
        out
    }

    /// The first of [`Self::problems`] as one line.
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }

    /// What works but is risky.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.list_id.is_none() {
            out.push(
                "list_id is not set: Mailchimp may refuse carts of contacts who are not in the \
                 store's audience yet (set it to the audience id so the hub adds them first)"
                    .to_string(),
            );
        }
        if !self.sync_products {
            out.push(
                "sync_products = false: every cart item's product must already exist in the \
                 Mailchimp store, or Mailchimp refuses the cart"
                    .to_string(),
            );
        }
        out
    }

    /// The API root, `https://<dc>.api.mailchimp.com` or `base_url`, without `/3.0`.
    pub fn base(&self) -> Result<reqwest::Url, Problem> {
        match &self.base_url {
            Some(raw) => base_url(raw),
            None => {
                let dc = data_center(self.api_key.expose()).ok_or_else(|| {
                    Problem::new("api_key", "must end with its data center (\"<key>-us6\")")
                })?;
                base_url(&format!("https://{dc}.api.mailchimp.com"))
            }
        }
    }
}

/// The data center of an API key: what follows its last `-` (`"us6"`), letters and digits.
pub fn data_center(api_key: &str) -> Option<&str> {
    let (key, dc) = api_key.trim().rsplit_once('-')?;
    let ok = !key.is_empty()
        && !dc.is_empty()
        && dc.len() <= 10
        && dc
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && dc.bytes().any(|b| b.is_ascii_digit());
    ok.then_some(dc)
}

fn id(key: &str, value: &str) -> Option<Problem> {
    if value.trim().is_empty() {
        Some(Problem::new(key, "must not be empty"))
    } else if value.contains(['/', '?', '#']) || value.chars().any(char::is_whitespace) {
        Some(Problem::new(
            key,
            format!("{value:?} must be an id, without spaces, '/', '?' or '#'"),
        ))
    } else {
        None
    }
}

fn base_url(raw: &str) -> Result<reqwest::Url, Problem> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| Problem::new("base_url", format!("{raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(Problem::new(
            "base_url",
            format!("{raw:?} must be an http(s) URL"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Problem::new("base_url", "must not embed credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Problem::new(
            "base_url",
            format!("{raw:?} must not have a query or fragment"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: MailchimpSettings = serde_json::from_value(serde_json::json!({
            "api_key": "0123456789abcdef",
            "store_id": " ",
            "list_id": "a/b",
            "base_url": "ftp://x"
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["api_key", "store_id", "list_id", "base_url"]);
    }

    #[test]
    fn the_data_center_comes_from_the_key() {
        assert_eq!(
            data_center("0123456789abcdef0123456789abcdef-us6"),
            Some("us6")
        );
        assert_eq!(data_center("abc-us19 "), Some("us19"));
        for bad in ["abc", "abc-", "-us6", "abc-US6", "abc-us 6", "abc-usa"] {
            assert_eq!(data_center(bad), None, "{bad}");
        }
        let s = MailchimpSettings::new(Secret::new("k-us6"), "shop");
        assert_eq!(s.base().unwrap().as_str(), "https://us6.api.mailchimp.com/");
        assert_eq!(s.problems(), Vec::new());
        assert_eq!(s.warnings().len(), 1);
        let mut t = s.clone();
        t.base_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(t.base().unwrap().as_str(), "http://127.0.0.1:9/");
    }

    #[test]
    fn a_typo_is_refused_and_the_key_never_shown() {
        let e = serde_json::from_value::<MailchimpSettings>(serde_json::json!({
            "api_key": "k-us6", "store_id": "s", "sync_product": false
        }))
        .expect_err("unknown key");
        assert!(e.to_string().contains("sync_product"), "{e}");
        let s = MailchimpSettings::new(Secret::new("secret-key-material-us6"), "s");
        assert!(!format!("{s:?}").contains("secret-key-material"));
    }
}
