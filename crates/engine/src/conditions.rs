//! What starts a flow ([`Trigger`]) and what a step checks ([`Condition`]): their text forms as
//! written in the flow tables, parsed once at start-up.

use cartback_core::Money;
use serde::Deserialize;

/// What starts a flow: `"cart_abandoned"`, `"checkout_abandoned"` (only carts whose shopper
/// reached checkout), `"tag:<name>"` (a tag set on the contact, through the API or by an
/// integration) or `"event:<name>"` (a named track event; its properties reach templates and
/// conditions as `event.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    CartAbandoned,
    CheckoutAbandoned,
    Tag(String),
    Event(String),
}

impl Trigger {
    pub fn parse(s: &str) -> Result<Trigger, String> {
        let t = s.trim();
        let named = |rest: &str, what: &str| {
            let name = rest.trim();
            if name.is_empty() || name.len() > 200 {
                Err(format!(
                    "{s:?}: the {what} name is empty or longer than 200 characters"
                ))
            } else {
                Ok(name.to_string())
            }
        };
        match t {
            "cart_abandoned" => Ok(Trigger::CartAbandoned),
            "checkout_abandoned" => Ok(Trigger::CheckoutAbandoned),
            _ => {
                if let Some(rest) = t.strip_prefix("tag:") {
                    named(rest, "tag").map(Trigger::Tag)
                } else if let Some(rest) = t.strip_prefix("event:") {
                    named(rest, "event").map(Trigger::Event)
                } else {
                    Err(format!(
                        "unknown trigger {s:?} (use cart_abandoned, checkout_abandoned, tag:<name>, event:<name>)"
                    ))
                }
            }
        }
    }

    /// Whether the flow starts when a cart is abandoned (the abandonment check enrols it).
    pub fn on_abandonment(&self) -> bool {
        matches!(self, Trigger::CartAbandoned | Trigger::CheckoutAbandoned)
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Trigger::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A step condition, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Purchased,
    Clicked,
    Opened,
    Delivered,
    HasEmail,
    HasPhone,
    Tag(String),
    /// `cart_value >= 50.00` (compared in the cart's currency's minor units).
    CartValueAtLeast(String),
    /// `item_count >= 2`: units in the cart.
    ItemCountAtLeast(u32),
    /// `event.<property>` (present and not false, 0 or empty) or `event.<property> == <value>`
    /// (compared as text): the property of the event that started an `event:` flow's run.
    Event {
        path: Vec<String>,
        equals: Option<String>,
    },
}

pub fn parse_condition(s: &str) -> Result<Condition, String> {
    let t = s.trim();
    Ok(match t {
        "purchased" => Condition::Purchased,
        "clicked" => Condition::Clicked,
        "opened" => Condition::Opened,
        "delivered" => Condition::Delivered,
        "has_email" => Condition::HasEmail,
        "has_phone" => Condition::HasPhone,
        _ => {
            if let Some(tag) = t.strip_prefix("tag:") {
                if tag.trim().is_empty() {
                    return Err(format!("{s:?}: tag name is empty"));
                }
                Condition::Tag(tag.trim().to_string())
            } else if let Some(rest) = t.strip_prefix("cart_value") {
                let amount = rest
                    .trim()
                    .strip_prefix(">=")
                    .ok_or_else(|| format!("{s:?}: write cart_value >= <amount>"))?
                    .trim();
                // Validate the number with a 4-decimal currency so "49.99" and "50" both pass.
                let probe = cartback_core::Currency::parse("CLF").map_err(|e| e.to_string())?;
                Money::parse_decimal(amount, probe).map_err(|e| format!("{s:?}: {e}"))?;
                Condition::CartValueAtLeast(amount.to_string())
            } else if let Some(rest) = t.strip_prefix("event.") {
                let (path, equals) = match rest.split_once("==") {
                    Some((p, v)) => {
                        let v = v.trim();
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or(v);
                        (p.trim(), Some(v.to_string()))
                    }
                    None => (rest.trim(), None),
                };
                let path: Vec<String> = path.split('.').map(|p| p.trim().to_string()).collect();
                if path.iter().any(|p| p.is_empty()) {
                    return Err(format!(
                        "{s:?}: write event.<property> or event.<property> == <value>"
                    ));
                }
                Condition::Event { path, equals }
            } else if let Some(rest) = t.strip_prefix("item_count") {
                let n = rest
                    .trim()
                    .strip_prefix(">=")
                    .ok_or_else(|| format!("{s:?}: write item_count >= <number>"))?
                    .trim();
                Condition::ItemCountAtLeast(
                    n.parse()
                        .map_err(|_| format!("{s:?}: {n:?} is not a whole number"))?,
                )
            } else {
                return Err(format!(
                    "unknown condition {s:?} (use purchased, clicked, opened, delivered, has_email, has_phone, tag:<name>, cart_value >= <amount>, item_count >= <number>, event.<property> [== <value>])"
                ));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse() {
        assert_eq!(parse_condition("purchased"), Ok(Condition::Purchased));
        assert_eq!(parse_condition("tag:VIP"), Ok(Condition::Tag("VIP".into())));
        assert_eq!(
            parse_condition("cart_value >= 49.99"),
            Ok(Condition::CartValueAtLeast("49.99".into()))
        );
        assert!(parse_condition("cart_value > 5").is_err());
        assert!(parse_condition("bought").is_err());
        assert!(parse_condition("tag:").is_err());
        assert_eq!(
            parse_condition("item_count >= 2"),
            Ok(Condition::ItemCountAtLeast(2))
        );
        assert!(parse_condition("item_count >= two").is_err());
        assert_eq!(
            parse_condition("event.product.color == \"red\""),
            Ok(Condition::Event {
                path: vec!["product".into(), "color".into()],
                equals: Some("red".into())
            })
        );
        assert!(parse_condition("event.").is_err());
    }
}
