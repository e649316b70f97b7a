//! The `[channel.<id>]` table for `type = "console"`.

use cartback_core::{AddressKind, Problem};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Print the HTML body too (default: subject and text only).
    #[serde(default)]
    pub show_html: bool,
    /// What the channel stands in for: `"email"` (default), `"sms"` or `"any"`. Decides which
    /// address and consent a message needs.
    #[serde(default = "default_address")]
    pub address: String,
}

fn default_address() -> String {
    "email".into()
}

impl ConsoleSettings {
    /// Pure validation: what `check-config` reports.
    pub fn validate(&self) -> Vec<Problem> {
        match self.address.as_str() {
            "email" | "sms" | "any" => Vec::new(),
            other => vec![Problem::new(
                "address",
                format!("{other:?} must be \"email\", \"sms\" or \"any\""),
            )],
        }
    }

    /// The address a message needs: `"sms"` a phone, `"any"` any identified contact.
    pub fn address_kind(&self) -> AddressKind {
        match self.address.as_str() {
            "sms" => AddressKind::Phone,
            "any" => AddressKind::HandOff,
            _ => AddressKind::Email,
        }
    }
}
