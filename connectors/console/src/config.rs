//! The `[channel.<id>]` table for `type = "console"`.

use cartback_core::{AddressKind, Problem};
use cartback_kit::settings;
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
    /// Every problem, each at its key path (pure: no I/O): what `check-config` reports. Only
    /// `address` can be wrong.
    pub fn problems(&self) -> Vec<Problem> {
        match self.address.as_str() {
            "email" | "sms" | "any" => Vec::new(),
            other => vec![Problem::new(
                "address",
                format!("{other:?} must be \"email\", \"sms\" or \"any\""),
            )],
        }
    }

    /// The first of [`Self::problems`] as one line, like every connector's `validate`.
    pub fn validate(&self) -> Result<(), String> {
        settings::first(self.problems())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The table has one key that can be wrong (`show_html` is a bool serde checks), so one
    /// problem is all it can have.
    #[test]
    fn the_problem_is_reported_at_its_key() {
        let s = ConsoleSettings {
            address: "pigeon".into(),
            ..ConsoleSettings::default()
        };
        let problems = s.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "address");
        assert_eq!(
            s.validate(),
            Err("address \"pigeon\" must be \"email\", \"sms\" or \"any\"".to_string())
        );
        let fine: ConsoleSettings = serde_json::from_value(serde_json::json!({})).expect("empty");
        assert_eq!(fine.problems(), Vec::new());
    }
}
