//! Wire types platforms share: ids sent as a JSON integer or a string, amounts sent as a decimal
//! string or a JSON number. Both are kept as text, exactly — never through `f64`. Also how bodies
//! are read: [`from_json`] in one pass, [`lenient`] / [`lenient_value`] for nice-to-have fields
//! of any type, and the loose readers platforms need again and again: [`text`] /
//! [`lenient_text`] (a string or a number as text), [`lenient_string`], [`lenient_image`]; and
//! [`phone`], a shopper's phone number in E.164 or a warning saying why not.

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// An id sent as a JSON integer (often above 2^53) or a string; kept as text exactly. A blank
/// string is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id(pub String);

impl Id {
    /// The id unless it is the platforms' "none" (`0`, e.g. a guest's customer id).
    pub fn non_zero(&self) -> Option<&str> {
        Some(self.0.as_str()).filter(|s| *s != "0")
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or string id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                let v = v.trim();
                if v.is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(v), &self));
                }
                Ok(Id(v.to_string()))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

/// A money amount sent as a decimal string (`"42.00"`) or a JSON number (`21.5`); kept as text
/// and parsed with `Money::parse_decimal` once the currency is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount(pub String);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AmountVisitor;
        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount (string or number)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                // The shortest text that reads back as `v` ("21.5"); callers round it to the
                // currency's minor unit as text, never through float arithmetic.
                Ok(Amount(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
        }
        d.deserialize_any(AmountVisitor)
    }
}

/// Why a body could not be read as the type a connector expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all (or cut short): the caller answers "malformed".
    Syntax(String),
    /// JSON, but not the shape expected: the caller answers "schema".
    Schema(String),
}

/// A shopper's phone number in E.164 (`region`: the ISO country its local form is read in), or
/// `None` with a warning naming the platform and the number masked: a number that cannot be read
/// is left out (no SMS to that contact until the shop fixes it), never dropped without a word.
pub fn phone(raw: &str, region: Option<&str>, platform: &str) -> Option<String> {
    match cartback_core::normalize_phone(raw, region) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(platform, phone = %mask_phone(raw), reason = %e, "A phone number could not be read; it is left out.");
            None
        }
    }
}

/// A phone number as logs may show it: its last two digits, the rest as `*`.
pub fn mask_phone(raw: &str) -> String {
    let digits: Vec<char> = raw.chars().filter(char::is_ascii_digit).collect();
    let keep = digits.len().saturating_sub(2);
    digits
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { *c })
        .collect()
}

/// Reads `body` as `T` in one pass (no intermediate `serde_json::Value` tree), telling a body
/// that is not JSON from one that is JSON of the wrong shape.
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => JsonError::Schema(e.to_string()),
        _ => JsonError::Syntax(e.to_string()),
    })
}

/// For `#[serde(deserialize_with = "lenient")]` on a field that is only nice to have: any JSON
/// that does not fit `T` (including `null`) becomes `None` instead of failing the whole body.
/// The value is read as raw text and parsed once, without building a `Value` tree: the right
/// choice for types read from bytes ([`from_json`]). Types read from a `serde_json::Value`
/// (a body split up first) use [`lenient_value`], which does not turn the tree back into text.
pub fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
    Ok(serde_json::from_str(raw.get()).ok())
}

/// [`lenient`] for types read from a `serde_json::Value`: the field's subtree is taken as it is.
pub fn lenient_value<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// A non-empty trimmed string, or a number as its text (`42`, `1.5`); anything else is `None`.
/// What platforms that send ids, names and times as either mean by "some text".
pub fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// For `#[serde(default, deserialize_with = "lenient_text")]`: the field's [`text`], any other
/// JSON (`null`, objects, lists, booleans) as `None`. Never fails on shape.
pub fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(&serde_json::Value::deserialize(d)?))
}

/// For `#[serde(default, deserialize_with = "lenient_string")]`: a non-empty string, trimmed;
/// anything else (numbers included) as `None`. Never fails on shape.
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    })
}

/// For `#[serde(default, deserialize_with = "lenient_image")]`: an image as a URL string or an
/// object with `src` (else `url`), as storefront and admin APIs variously send it; trimmed,
/// non-empty, else `None`. Never fails on shape.
pub fn lenient_image<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let found = match &value {
        serde_json::Value::String(s) => Some(s.as_str()),
        serde_json::Value::Object(o) => o
            .get("src")
            .or_else(|| o.get("url"))
            .and_then(|v| v.as_str()),
        _ => None,
    };
    Ok(found
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_amounts_stay_exact() {
        let id: Id = serde_json::from_str("9007199254740993").unwrap();
        assert_eq!(id.0, "9007199254740993");
        assert_eq!(serde_json::from_str::<Id>(r#"" 42 ""#).unwrap().0, "42");
        assert!(serde_json::from_str::<Id>(r#""  ""#).is_err());
        assert!(serde_json::from_str::<Id>("1.5").is_err());
        assert_eq!(serde_json::from_str::<Id>("0").unwrap().non_zero(), None);
        assert_eq!(
            serde_json::from_str::<Amount>(r#""12.50""#).unwrap().0,
            "12.50"
        );
        assert_eq!(serde_json::from_str::<Amount>("21.5").unwrap().0, "21.5");
        assert_eq!(serde_json::from_str::<Amount>("3").unwrap().0, "3");
    }

    #[derive(Debug, serde::Deserialize)]
    struct Shape {
        id: Id,
        #[serde(default, deserialize_with = "lenient")]
        extra: Option<Vec<u32>>,
    }

    #[test]
    fn bodies_are_told_apart_as_malformed_or_misshapen() {
        let ok: Shape = from_json(br#"{"id": 7, "extra": [1, 2], "unknown": {"a": [1]}}"#).unwrap();
        assert_eq!((ok.id.0.as_str(), ok.extra), ("7", Some(vec![1, 2])));
        // A nice-to-have field of another shape is dropped, not fatal, from bytes and from a Value.
        let odd: Shape = from_json(br#"{"id": "8", "extra": {"not": "a list"}}"#).unwrap();
        assert_eq!(odd.extra, None);
        let value = serde_json::json!({"id": 9, "extra": "text"});
        assert_eq!(serde_json::from_value::<Shape>(value).unwrap().extra, None);
        assert!(matches!(
            from_json::<Shape>(b"{\"id\": 1,"),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            from_json::<Shape>(b"\xff\xfe"),
            Err(JsonError::Syntax(_))
        ));
        match from_json::<Shape>(br#"{"extra": []}"#) {
            Err(JsonError::Schema(m)) => assert!(m.contains("missing field `id`"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            from_json::<Shape>(br#"{"id": true}"#),
            Err(JsonError::Schema(_))
        ));
    }

    #[derive(Debug, serde::Deserialize)]
    struct FromTree {
        #[serde(default, deserialize_with = "lenient_value")]
        extra: Option<Vec<u32>>,
    }

    #[test]
    fn lenient_value_reads_subtrees() {
        let read = |v| serde_json::from_value::<FromTree>(v).unwrap().extra;
        assert_eq!(read(serde_json::json!({"extra": [3]})), Some(vec![3]));
        assert_eq!(read(serde_json::json!({"extra": "3"})), None);
        assert_eq!(read(serde_json::json!({})), None);
        let from_bytes: FromTree = from_json(br#"{"extra": [4, 5]}"#).unwrap();
        assert_eq!(from_bytes.extra, Some(vec![4, 5]));
    }

    #[derive(Debug, Default, serde::Deserialize)]
    struct Loose {
        #[serde(default, deserialize_with = "lenient_text")]
        text: Option<String>,
        #[serde(default, deserialize_with = "lenient_string")]
        string: Option<String>,
        #[serde(default, deserialize_with = "lenient_image")]
        image: Option<String>,
    }

    #[test]
    fn loose_fields_read_what_fits_and_drop_the_rest() {
        let read = |v: serde_json::Value| {
            let from_tree = serde_json::from_value::<Loose>(v.clone()).unwrap();
            let from_bytes: Loose = from_json(v.to_string().as_bytes()).unwrap();
            assert_eq!(
                (&from_tree.text, &from_tree.string, &from_tree.image),
                (&from_bytes.text, &from_bytes.string, &from_bytes.image)
            );
            (from_tree.text, from_tree.string, from_tree.image)
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            read(serde_json::json!({"text": " a ", "string": " b ", "image": " https://i/1.png "})),
            (some("a"), some("b"), some("https://i/1.png"))
        );
        // Numbers are text, not strings; an image may be an object with `src`, else `url`.
        assert_eq!(
            read(serde_json::json!({"text": 42, "string": 42, "image": {"src": "s", "url": "u"}})),
            (some("42"), None, some("s"))
        );
        assert_eq!(
            read(serde_json::json!({"text": 1.5, "image": {"url": "u"}})),
            (some("1.5"), None, some("u"))
        );
        // Blank, null and other shapes are absent, never an error.
        for odd in [
            serde_json::json!(null),
            serde_json::json!("  "),
            serde_json::json!(true),
            serde_json::json!([1]),
            serde_json::json!({"src": 3}),
        ] {
            let v = serde_json::json!({"text": odd, "string": odd, "image": odd});
            assert_eq!(read(v), (None, None, None), "{odd}");
        }
        assert_eq!(read(serde_json::json!({})), (None, None, None));
        assert_eq!(text(&serde_json::json!("x")), some("x"));
        assert_eq!(text(&serde_json::json!({"a": 1})), None);
    }
}

#[cfg(test)]
mod phone_tests {
    use super::*;

    #[test]
    fn a_phone_is_read_or_left_out_masked() {
        assert_eq!(
            phone("+1 415 555 0100", None, "t").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(
            phone("0612345678", Some("FR"), "t").as_deref(),
            Some("+33612345678")
        );
        assert_eq!(phone("call me", None, "t"), None);
        assert_eq!(mask_phone("+1 (415) 555-0100"), "*********00");
        assert_eq!(mask_phone("7"), "7");
    }
}
