//! The `[source.<id>]` table for `type = "segment"`.

use cartback_core::Currency;
use cartback_kit::SecretList;
use serde::Deserialize;

/// The currency assumed when a message has no `properties.currency`.
pub const DEFAULT_CURRENCY: &str = "USD";

/// A Segment source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSettings {
    /// Write keys accepted on the Segment-compatible API (`/v1/*`): as the HTTP basic-auth user,
    /// or as the JSON body's `writeKey`. A list during a rotation.
    pub write_keys: SecretList,
    /// The shared secret of a Segment Webhooks destination pointed at `/webhooks/{id}`
    /// (`X-Signature`). Without it, webhook-mode requests must carry a write key instead.
    #[serde(default)]
    pub shared_secret: Option<SecretList>,
    /// ISO 4217 code for messages without `properties.currency` (default `"USD"`).
    #[serde(default)]
    pub default_currency: Option<String>,
}

impl SegmentSettings {
    /// Settings with `write_keys` and every other field at its default.
    pub fn new(write_keys: SecretList) -> Self {
        SegmentSettings {
            write_keys,
            shared_secret: None,
            default_currency: None,
        }
    }

    /// Pure validation (no I/O): what `check-config` reports.
    pub fn validate(&self) -> Result<(), String> {
        if self.write_keys.iter().any(|s| s.expose().trim().is_empty()) {
            return Err("write_keys must not be empty".into());
        }
        if let Some(secret) = &self.shared_secret {
            if secret.iter().any(|s| s.expose().trim().is_empty()) {
                return Err("shared_secret must not be empty".into());
            }
        }
        if let Some(code) = &self.default_currency {
            Currency::parse(code)
                .map_err(|_| format!("default_currency {code:?} is not an ISO 4217 code"))?;
        }
        Ok(())
    }

    /// The default currency; `USD` when unset (or unreadable, which `validate` reports).
    pub fn currency(&self) -> Currency {
        self.default_currency
            .as_deref()
            .and_then(|c| Currency::parse(c).ok())
            .unwrap_or_else(|| {
                Currency::parse(DEFAULT_CURRENCY).expect("USD is three ASCII letters")
            })
    }
}
