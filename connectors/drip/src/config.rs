//! The `[channel.<id>]` table for `type = "drip"`: [`DripSettings`] and its pure validation
//! (no I/O; what `check-config` reports).

use cartback_core::Problem;
use cartback_kit::{settings, Secret};
use serde::Deserialize;

/// Where Drip's API lives unless `base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.getdrip.com";

/// The `provider` sent with every Shopper Activity event unless `provider` says otherwise.
pub const DEFAULT_PROVIDER: &str = "cartback";

/// The cart event's `action`: Drip shows `created` as "Created a cart", `updated` as "Updated a
/// cart" on the person's timeline; a workflow triggers on either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartAction {
    #[default]
    Created,
    Updated,
}

impl CartAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            CartAction::Created => "created",
            CartAction::Updated => "updated",
        }
    }
}

/// A Drip hand-off channel. `Debug` shows the token as `Secret(***)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DripSettings {
    /// A user API token (User settings → API token), sent as the basic-auth user.
    pub api_token: Secret,
    /// The account id, in every path (`/v3/{account_id}/...`): digits, as Drip shows them.
    pub account_id: String,
    /// Shopper Activity's `provider`, lower snake case (default [`DEFAULT_PROVIDER`]).
    #[serde(default)]
    pub provider: Option<String>,
    /// The cart event's `action` (default `created`).
    #[serde(default)]
    pub cart_action: CartAction,
    /// Defaults to [`DEFAULT_BASE_URL`]; tests point it at a local server.
    #[serde(default)]
    pub base_url: Option<String>,
}

impl DripSettings {
    /// Settings with `api_token`, `account_id` and every other field at its default.
    pub fn new(api_token: Secret, account_id: impl Into<String>) -> Self {
        DripSettings {
            api_token,
            account_id: account_id.into(),
            provider: None,
            cart_action: CartAction::default(),
            base_url: None,
        }
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
    }

    fn account(&self) -> &str {
        self.account_id.trim()
    }

    /// `{base_url}/v2/{account_id}/subscribers`: create or update a person.
    pub fn subscribers_url(&self) -> String {
        format!("{}/v2/{}/subscribers", self.base_url(), self.account())
    }

    /// `{base_url}/v3/{account_id}/shopper_activity/cart`.
    pub fn cart_url(&self) -> String {
        format!(
            "{}/v3/{}/shopper_activity/cart",
            self.base_url(),
            self.account()
        )
    }

    /// `{base_url}/v3/{account_id}/shopper_activity/order`.
    pub fn order_url(&self) -> String {
        format!(
            "{}/v3/{}/shopper_activity/order",
            self.base_url(),
            self.account()
        )
    }

    /// The Shopper Activity `provider`.
    pub fn provider(&self) -> &str {
        self.provider
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_PROVIDER)
    }

    /// Every problem, each at its key path (pure: no I/O).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(settings::secret("api_token", &self.api_token));
        let account = self.account();
        if account.is_empty() {
            out.push(Problem::new("account_id", "must not be empty"));
        } else if !account.bytes().all(|b| b.is_ascii_digit()) {
            out.push(Problem::new(
                "account_id",
                format!("{account:?} must be the account's number (Drip shows it in Settings → General Info and in its URLs)"),
            ));
        }
        if let Some(p) = self.provider.as_deref() {
            let snake = !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !snake {
                out.push(Problem::new(
                    "provider",
                    format!("{p:?} must be lower snake case (letters, digits, \"_\")"),
                ));
            }
        }
        if let Some(raw) = self.base_url.as_deref() {
            out.extend(settings::site_url("base_url", raw).err());
        }
        out
    }

    /// The first of [`Self::problems`] as one line.
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let s: DripSettings = serde_json::from_value(serde_json::json!({
            "api_token": " ",
            "account_id": "acct-9",
            "provider": "My Store",
            "base_url": "getdrip.com",
        }))
        .expect("the table parses");
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["api_token", "account_id", "provider", "base_url"]);
    }

    #[test]
    fn defaults_and_paths() {
        let s = DripSettings::new(Secret::new("token-1234567890"), " 9999999 ");
        assert!(s.problems().is_empty());
        assert_eq!(
            s.subscribers_url(),
            "https://api.getdrip.com/v2/9999999/subscribers"
        );
        assert_eq!(
            s.cart_url(),
            "https://api.getdrip.com/v3/9999999/shopper_activity/cart"
        );
        assert_eq!(
            s.order_url(),
            "https://api.getdrip.com/v3/9999999/shopper_activity/order"
        );
        assert_eq!(s.provider(), "cartback");
        assert_eq!(s.cart_action.as_str(), "created");
    }
}
