//! Carts built from shopping events: a single `Product Added` / `Product Removed` (the product's
//! fields at the top of `properties`, as the Ecommerce v2 spec sends them) becomes a
//! [`CartChange`] keyed like the cart's snapshots (`cart_id`, else the anonymous id); the hub
//! folds the changes in the order of their `timestamp`s. Any other named `track` becomes a
//! [`Tracked`] event for `event:<name>` flows, its properties kept as sent (up to
//! [`MAX_PROPERTIES`] bytes).

use super::{non_empty, Ctx};
use crate::payload::{Product, Properties};
use cartback_core::{CartChange, LineOp, Tracked, TranslateError};
use serde_json::Value;

/// The most of a tracked event's properties kept, as JSON: beyond it only the top-level text,
/// number and true/false values are.
pub const MAX_PROPERTIES: usize = 8 * 1024;

impl Ctx<'_> {
    /// One product added to or removed from the cart. A remove without a quantity removes the
    /// product's line; with one, takes that many off.
    pub(super) fn change(
        &self,
        topic: &str,
        props: &Properties,
        op: LineOp,
    ) -> Result<CartChange, TranslateError> {
        let currency = self.currency(topic, props)?;
        let product: Product = match self.raw {
            Value::Object(_) => serde_json::from_value(self.raw.clone())
                .map_err(|e| self.schema(topic, format!("properties: {e}")))?,
            _ => return Err(self.schema(topic, "properties is not an object")),
        };
        if product.product_id.is_none() && product.sku.is_none() && product.name.is_none() {
            return Err(self.schema(
                topic,
                "properties has no product_id, sku or name to say which product",
            ));
        }
        let default_quantity = match op {
            LineOp::Add => 1,
            LineOp::Remove => 0,
        };
        let line = self
            .line(topic, "properties", &product, currency, default_quantity)?
            .ok_or_else(|| self.schema(topic, "properties.quantity is 0"))?;
        let key = self.cart_key(props).ok_or_else(|| {
            self.schema(topic, "no cart_id, anonymousId or userId to key the cart")
        })?;
        let contact = self.contact(None, props.email.as_deref());
        Ok(CartChange {
            key,
            cart_token: non_empty(props.cart_id.as_deref()).map(str::to_string),
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            op,
            line,
            currency,
            recovery_url: non_empty(props.checkout_url.as_deref()).map(str::to_string),
            at: self.occurred_at(),
        })
    }

    /// Any other named event, with who sent it and the cart it names (or the visitor's).
    pub(super) fn tracked(&self, name: &str) -> Tracked {
        let empty = Properties::default();
        let props = self.msg.properties.as_ref().unwrap_or(&empty);
        let contact = self.contact(None, props.email.as_deref());
        Tracked {
            name: name.trim().to_string(),
            contact: Some(contact).filter(|c| c.is_identified() || c.external_id.is_some()),
            cart_key: self.cart_key(props),
            properties: bounded(self.raw),
        }
    }
}

/// The properties as sent when they fit [`MAX_PROPERTIES`]; else their top-level scalars.
fn bounded(raw: &Value) -> Value {
    let Value::Object(map) = raw else {
        return Value::Object(Default::default());
    };
    if serde_json::to_string(raw).map_or(usize::MAX, |s| s.len()) <= MAX_PROPERTIES {
        return raw.clone();
    }
    let mut kept = serde_json::Map::new();
    let mut size = 2;
    for (k, v) in map {
        let scalar = match v {
            Value::String(s) if s.len() <= 256 => true,
            Value::Number(_) | Value::Bool(_) => true,
            _ => false,
        };
        let cost = k.len() + v.to_string().len() + 4;
        if scalar && size + cost <= MAX_PROPERTIES {
            size += cost;
            kept.insert(k.clone(), v.clone());
        }
    }
    Value::Object(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_properties_keep_their_top_level_scalars() {
        let raw = serde_json::json!({
            "color": "red", "n": 3, "blob": "x".repeat(10_000), "list": [1, 2, 3]
        });
        let kept = bounded(&raw);
        assert_eq!(kept, serde_json::json!({ "color": "red", "n": 3 }));
        let small = serde_json::json!({ "list": [1, 2], "nested": { "a": 1 } });
        assert_eq!(bounded(&small), small);
        assert_eq!(bounded(&Value::Null), serde_json::json!({}));
    }
}
