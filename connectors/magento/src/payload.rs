//! Magento 2's REST wire types: the `searchCriteria` result envelope, the quote (`CartInterface`,
//! `CartItemInterface`), its totals (`TotalsInterface`), the order (`OrderInterface`) and the
//! error body (`{"message": "...", "parameters": [...]}`).
//!
//! Only the fields the hub reads are declared; unknown fields are ignored. Everything is read
//! leniently (Magento and its extensions disagree on `1` / `true` / `"1"`, on ids as numbers or
//! strings, and send `null` for empty fields): an unexpected shape makes a field absent, and the
//! translation decides whether the record is still usable.

use cartback_core::money::{plain_decimal, round_decimal};
use cartback_core::{Currency, Money, MoneyError};
use serde::de;
use serde::{Deserialize, Deserializer};

use cartback_kit::wire::lenient_text;
use cartback_kit::wire::lenient_value as lenient;
pub use cartback_kit::wire::Id;

/// `GET /V1/carts/search` and `GET /V1/orders` answer `{"items": [...], "search_criteria": {...},
/// "total_count": n}`. Items stay raw JSON so one record that does not fit is skipped alone.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchResult {
    #[serde(default, deserialize_with = "null_default")]
    pub items: Vec<serde_json::Value>,
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// A money amount or quantity. Magento sends JSON numbers (floats, so `19.900000000000002` and
/// `-1.7763568394002505e-15` happen); some extensions send strings. Numbers are kept as
/// [`serde_json::Number`] and read through their text (`Money::from_json_number`), never through
/// float arithmetic: when the text has more decimals than the currency allows or an exponent, it
/// is expanded and rounded half-up (half away from zero) **on the decimal text** ([`to_money`]):
/// `19.900000000000002` → 19.90, `8.335` → 8.34.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amount {
    Number(serde_json::Number),
    Text(String),
}

impl Amount {
    /// The amount's text (`"19.9"`, `"1e-15"`, `"12.50"`).
    pub fn text(&self) -> String {
        match self {
            Amount::Number(n) => n.to_string(),
            Amount::Text(s) => s.trim().to_string(),
        }
    }
}

/// An amount in `currency`: exact from the number's text, else expanded and rounded half-up on
/// the text (see [`Amount`]).
pub fn to_money(amount: &Amount, currency: Currency) -> Result<Money, MoneyError> {
    if let Amount::Number(n) = amount {
        match Money::from_json_number(n, currency) {
            Ok(m) => return Ok(m),
            Err(MoneyError::TooPrecise { .. } | MoneyError::NotDecimal(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let text = amount.text();
    let plain = plain_decimal(&text).ok_or_else(|| MoneyError::NotDecimal(text.clone()))?;
    Money::parse_decimal(&round_decimal(&plain, currency.exponent()), currency)
}

/// A quantity as a whole number of units (Magento quantities are floats; decimal quantities
/// round half-up, and never below 1).
pub fn to_quantity(amount: &Amount) -> Option<u32> {
    let plain = plain_decimal(&amount.text())?;
    if plain.starts_with('-') {
        return None;
    }
    let q = round_decimal(&plain, 0).parse::<u32>().ok()?;
    Some(q.max(1))
}

/// A flag sent as `true`/`false`, `1`/`0` or `"1"`/`"0"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag(pub bool);

/// The quote (`Magento\Quote\Api\Data\CartInterface`).
#[derive(Debug, Clone, Deserialize)]
pub struct MagentoCart {
    pub id: Id,
    #[serde(default, deserialize_with = "lenient_text")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub is_active: Option<Flag>,
    #[serde(default, deserialize_with = "lenient_items")]
    pub items: Vec<CartItem>,
    #[serde(default, deserialize_with = "lenient")]
    pub items_count: Option<Amount>,
    #[serde(default, deserialize_with = "lenient")]
    pub customer: Option<Customer>,
    #[serde(default, deserialize_with = "lenient")]
    pub billing_address: Option<Address>,
    #[serde(default, deserialize_with = "lenient")]
    pub currency: Option<CartCurrency>,
    #[serde(default, deserialize_with = "lenient")]
    pub customer_is_guest: Option<Flag>,
    #[serde(default, deserialize_with = "lenient")]
    pub store_id: Option<Id>,
}

/// `CartInterface::customer` (`CustomerInterface`); a guest's has no id and `null` fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Customer {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub firstname: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub lastname: Option<String>,
}

/// A quote or order address (`AddressInterface` / `OrderAddressInterface`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Address {
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub firstname: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub lastname: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub telephone: Option<String>,
    /// ISO 3166 alpha-2.
    #[serde(default, deserialize_with = "lenient_text")]
    pub country_id: Option<String>,
}

/// `CartInterface::currency` (`CurrencyInterface`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CartCurrency {
    #[serde(default, deserialize_with = "lenient_text")]
    pub quote_currency_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub store_currency_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub base_currency_code: Option<String>,
}

/// `Magento\Quote\Api\Data\CartItemInterface`. It has no product id nor URL; `product_id` is read
/// when an extension adds it (top level or in `extension_attributes`).
#[derive(Debug, Clone, Deserialize)]
pub struct CartItem {
    #[serde(default, deserialize_with = "lenient")]
    pub item_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub qty: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: Option<String>,
    /// Unit price in the quote currency.
    #[serde(default, deserialize_with = "lenient")]
    pub price: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub product_type: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub product_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub extension_attributes: Option<ItemExtension>,
}

impl CartItem {
    /// `product_id`, from the item or its `extension_attributes`.
    pub fn product_id(&self) -> Option<&str> {
        self.product_id
            .as_ref()
            .or_else(|| {
                self.extension_attributes
                    .as_ref()
                    .and_then(|e| e.product_id.as_ref())
            })
            .and_then(Id::non_zero)
    }
}

/// The part of an item's `extension_attributes` the hub reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ItemExtension {
    #[serde(default, deserialize_with = "lenient")]
    pub product_id: Option<Id>,
}

/// `GET /V1/carts/{id}/totals` (`Magento\Quote\Api\Data\TotalsInterface`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Totals {
    #[serde(default, deserialize_with = "lenient")]
    pub grand_total: Option<Amount>,
    #[serde(default, deserialize_with = "lenient")]
    pub base_grand_total: Option<Amount>,
    #[serde(default, deserialize_with = "lenient")]
    pub subtotal: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub quote_currency_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub base_currency_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_items")]
    pub items: Vec<TotalsItem>,
}

/// `TotalsItemInterface`: a line with its row total (after the unit price times quantity).
#[derive(Debug, Clone, Deserialize)]
pub struct TotalsItem {
    #[serde(default, deserialize_with = "lenient")]
    pub item_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub row_total: Option<Amount>,
}

/// The order (`Magento\Sales\Api\Data\OrderInterface`).
#[derive(Debug, Clone, Deserialize)]
pub struct MagentoOrder {
    pub entity_id: Id,
    #[serde(default, deserialize_with = "lenient_text")]
    pub increment_id: Option<String>,
    /// `OrderInterface::QUOTE_ID`: the quote this order was placed from (`cart.id`).
    #[serde(default, deserialize_with = "lenient")]
    pub quote_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub customer_email: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub customer_firstname: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub customer_lastname: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub customer_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub customer_is_guest: Option<Flag>,
    #[serde(default, deserialize_with = "lenient")]
    pub billing_address: Option<Address>,
    #[serde(default, deserialize_with = "lenient")]
    pub grand_total: Option<Amount>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub order_currency_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient_items")]
    pub items: Vec<OrderItem>,
}

/// `OrderItemInterface`. Configurable and bundle products list the parent and its children;
/// children carry `parent_item_id`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderItem {
    #[serde(default, deserialize_with = "lenient")]
    pub item_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub product_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub parent_item_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub qty_ordered: Option<Amount>,
    #[serde(default, deserialize_with = "lenient")]
    pub price: Option<Amount>,
    #[serde(default, deserialize_with = "lenient")]
    pub row_total: Option<Amount>,
}

/// Magento's error body: `{"message": "The \"%1\" field is invalid.", "parameters": ["x"]}`
/// (positional `%1`), or named parameters (`{"fieldName": "id"}` for `%fieldName`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default, deserialize_with = "lenient_text")]
    pub message: Option<String>,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
}

impl ErrorBody {
    /// The message with its parameters filled in, if the body is Magento's error shape.
    ///
    /// One pass over the message: a value put in is never searched for more placeholders, so a
    /// hostile body cannot make the message grow beyond its parts; it is cut at 2,000 bytes.
    pub fn parse(body: &[u8]) -> Option<String> {
        const MAX: usize = 2_000;
        let e: ErrorBody = serde_json::from_slice(body).ok()?;
        let message = e.message?;
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // Placeholder names, longest first, so `%10` wins over `%1`.
        let mut params: Vec<(String, String)> = match &e.parameters {
            Some(serde_json::Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, v)| ((i + 1).to_string(), text(v)))
                .collect(),
            Some(serde_json::Value::Object(map)) => {
                map.iter().map(|(k, v)| (k.clone(), text(v))).collect()
            }
            _ => Vec::new(),
        };
        params.retain(|(k, _)| !k.is_empty());
        params.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        let mut out = String::new();
        let mut rest = message.as_str();
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            match params.iter().find(|(k, _)| after.starts_with(k.as_str())) {
                Some((k, v)) => {
                    out.push_str(v);
                    rest = &after[k.len()..];
                }
                None => {
                    out.push('%');
                    rest = after;
                }
            }
            if out.len() > MAX {
                break;
            }
        }
        out.push_str(rest);
        if out.len() > MAX {
            let mut cut = MAX;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
        }
        Some(out)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => Ok(Amount::Number(n)),
            serde_json::Value::String(s) if !s.trim().is_empty() => Ok(Amount::Text(s)),
            other => Err(de::Error::custom(format!(
                "expected a number or a decimal string, got {other}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(b) => Ok(Flag(b)),
            serde_json::Value::Number(n) => Ok(Flag(n.as_f64().is_some_and(|v| v != 0.0))),
            serde_json::Value::String(s) => match s.trim() {
                "1" | "true" => Ok(Flag(true)),
                "0" | "false" | "" => Ok(Flag(false)),
                other => Err(de::Error::custom(format!("{other:?} is not a flag"))),
            },
            other => Err(de::Error::custom(format!("{other} is not a flag"))),
        }
    }
}

/// `null` as the type's default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list whose entries that do not fit are dropped (and `null` as empty).
fn lenient_items<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Array(list) => list
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lenient_shapes() {
        let cart: MagentoCart = serde_json::from_str(
            r#"{"id": "12", "is_active": "1", "items": null, "customer": {"email": null},
                "billing_address": [], "customer_is_guest": 0, "updated_at": ""}"#,
        )
        .expect("cart");
        assert_eq!(cart.id.0, "12");
        assert_eq!(cart.is_active, Some(Flag(true)));
        assert!(cart.items.is_empty());
        assert_eq!(cart.customer.and_then(|c| c.email), None);
        // PHP's empty array for an empty object: an address with nothing in it.
        assert!(cart.billing_address.and_then(|b| b.email).is_none());
        assert_eq!(cart.customer_is_guest, Some(Flag(false)));
        assert_eq!(cart.updated_at, None);
    }

    #[test]
    fn error_messages_fill_parameters() {
        assert_eq!(
            ErrorBody::parse(
                br#"{"message":"\"%1\" is not a field, nor %2.","parameters":["foo","bar"]}"#
            )
            .as_deref(),
            Some("\"foo\" is not a field, nor bar.")
        );
        assert_eq!(
            ErrorBody::parse(
                br#"{"message":"No such entity with %fieldName = %fieldValue","parameters":{"fieldName":"cartId","fieldValue":7}}"#
            )
            .as_deref(),
            Some("No such entity with cartId = 7")
        );
        assert_eq!(ErrorBody::parse(b"<html>"), None);
    }

    #[test]
    fn a_parameter_that_names_placeholders_is_not_expanded_again() {
        // Each value refers to the others: substituting repeatedly would grow without bound.
        let body = br#"{"message":"%1%1%1%1%1%1%1%1","parameters":["%2%2%2%2","%1%1%1%1"]}"#;
        let m = ErrorBody::parse(body).unwrap_or_default();
        assert_eq!(m, "%2%2%2%2".repeat(8));
        let mut many = String::from(r#"{"message":""#);
        many.push_str(&"%1".repeat(5_000));
        many.push_str(r#"","parameters":["0123456789"]}"#);
        let m = ErrorBody::parse(many.as_bytes()).unwrap_or_default();
        assert_eq!(m.len(), 2_000);
    }

    #[test]
    fn decimals_expand_and_round_as_text() {
        assert_eq!(plain_decimal("19.9").as_deref(), Some("19.9"));
        assert_eq!(plain_decimal("1e3").as_deref(), Some("1000"));
        assert_eq!(plain_decimal("2E+2").as_deref(), Some("200"));
        assert_eq!(plain_decimal("1.5e-3").as_deref(), Some("0.0015"));
        assert_eq!(
            plain_decimal("-1.7763568394002505e-15").as_deref(),
            Some("-0.0000000000000017763568394002505")
        );
        assert_eq!(plain_decimal("abc"), None);
        assert_eq!(plain_decimal("1e999"), None);
        assert_eq!(round_decimal("19.900000000000002", 2), "19.90");
        assert_eq!(round_decimal("8.335", 2), "8.34");
        assert_eq!(round_decimal("9.995", 2), "10.00");
        assert_eq!(round_decimal("-0.005", 2), "-0.01");
        assert_eq!(round_decimal("1499.5", 0), "1500");
        assert_eq!(round_decimal("21.5", 2), "21.5");
    }

    #[test]
    fn float_artefacts_become_exact_money() {
        let usd = Currency::parse("USD").expect("usd");
        let num = |s: &str| Amount::Number(serde_json::from_str(s).expect("number"));
        assert_eq!(
            to_money(&num("19.900000000000002"), usd).map(|m| m.minor),
            Ok(1990)
        );
        assert_eq!(to_money(&num("59.97"), usd).map(|m| m.minor), Ok(5997));
        assert_eq!(to_money(&num("45"), usd).map(|m| m.minor), Ok(4500));
        assert_eq!(to_money(&num("0.125"), usd).map(|m| m.minor), Ok(13));
        assert_eq!(
            to_money(&num("-1.7763568394002505e-15"), usd).map(|m| m.minor),
            Ok(0)
        );
        assert_eq!(
            to_money(&Amount::Text("12.50".into()), usd).map(|m| m.minor),
            Ok(1250)
        );
        assert!(to_money(&Amount::Text("12,50".into()), usd).is_err());
        let jpy = Currency::parse("JPY").expect("jpy");
        assert_eq!(to_money(&num("1499.5"), jpy).map(|m| m.minor), Ok(1500));
        assert_eq!(to_quantity(&num("2")), Some(2));
        assert_eq!(to_quantity(&num("2.0")), Some(2));
        assert_eq!(to_quantity(&num("0.25")), Some(1));
        assert_eq!(to_quantity(&num("-1")), None);
    }
}
