//! Money as integer minor units plus an ISO 4217 currency. Decimal strings are parsed exactly,
//! never through a float.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Errors from parsing amounts and currency codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency code {0:?} is not three ASCII letters")]
    BadCurrency(String),
    #[error("amount {0:?} is not a decimal number")]
    NotDecimal(String),
    #[error("amount {amount:?} has more decimals than {currency} allows ({exponent})")]
    TooPrecise {
        amount: String,
        currency: String,
        exponent: u32,
    },
    #[error("amount {0:?} is out of range")]
    Overflow(String),
}

/// An ISO 4217 currency code, upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let code = code.trim();
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(|c| c.is_ascii_alphabetic()) {
            return Err(MoneyError::BadCurrency(code.chars().take(16).collect()));
        }
        Ok(Currency([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency bytes are ASCII letters by construction")
    }

    /// Number of decimals of the minor unit (ISO 4217). Unlisted codes use 2.
    pub fn exponent(&self) -> u32 {
        match self.code() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "CLF" | "UYW" => 4,
            _ => 2,
        }
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: integer minor units (cents, yen, fils) in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }

    /// Parses a decimal string such as `"12.50"`, `"-3"`, `"1000.00"` exactly in `currency`'s minor
    /// unit. Trailing zeros past the currency's exponent are accepted; other extra digits are an error.
    pub fn parse_decimal(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let raw = amount.trim();
        let not_decimal = || MoneyError::NotDecimal(raw.chars().take(32).collect());
        let (neg, digits) = match raw.as_bytes().first() {
            Some(b'-') => (true, &raw[1..]),
            Some(b'+') => (false, &raw[1..]),
            _ => (false, raw),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|c| c.is_ascii_digit())
            || !frac_part.bytes().all(|c| c.is_ascii_digit())
            || (int_part.is_empty() && !digits.starts_with('.'))
        {
            return Err(not_decimal());
        }
        let exp = currency.exponent() as usize;
        let (kept, extra) = if frac_part.len() > exp {
            frac_part.split_at(exp)
        } else {
            (frac_part, "")
        };
        if extra.bytes().any(|c| c != b'0') {
            return Err(MoneyError::TooPrecise {
                amount: raw.chars().take(32).collect(),
                currency: currency.code().to_string(),
                exponent: exp as u32,
            });
        }
        let overflow = || MoneyError::Overflow(raw.chars().take(32).collect());
        let mut minor: i64 = 0;
        for c in int_part.bytes().chain(kept.bytes()) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(c - b'0')))
                .ok_or_else(overflow)?;
        }
        for _ in kept.len()..exp {
            minor = minor.checked_mul(10).ok_or_else(overflow)?;
        }
        Ok(Money {
            minor: if neg { -minor } else { minor },
            currency,
        })
    }

    /// Parses a JSON number exactly, from its textual form (never through `f64` arithmetic).
    pub fn from_json_number(
        n: &serde_json::Number,
        currency: Currency,
    ) -> Result<Self, MoneyError> {
        let text = n.to_string();
        if text.contains(['e', 'E']) {
            return Err(MoneyError::NotDecimal(text));
        }
        Money::parse_decimal(&text, currency)
    }

    /// The amount as a plain decimal string with the currency's number of decimals: `"12.50"`, `"1000"`.
    pub fn to_decimal_string(&self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let div = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / div,
            abs % div,
            width = exp as usize
        )
    }

    pub fn checked_add(&self, other: &Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money::new(
            self.minor.checked_add(other.minor)?,
            self.currency,
        ))
    }

    pub fn checked_mul(&self, n: i64) -> Option<Money> {
        Some(Money::new(self.minor.checked_mul(n)?, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[derive(Serialize, Deserialize)]
struct MoneyWire {
    amount: String,
    currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    minor_units: Option<i64>,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MoneyWire {
            amount: self.to_decimal_string(),
            currency: self.currency,
            minor_units: Some(self.minor),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = MoneyWire::deserialize(d)?;
        match w.minor_units {
            Some(minor) => Ok(Money::new(minor, w.currency)),
            None => Money::parse_decimal(&w.amount, w.currency).map_err(serde::de::Error::custom),
        }
    }
}

// ---- decimal text helpers shared by connectors ----

/// A decimal text without an exponent: `"1.5e-3"` → `"0.0015"`, `"2E+2"` → `"200"`. `None` when
/// the text is not a number (or its exponent is absurd).
pub fn plain_decimal(raw: &str) -> Option<String> {
    let t = raw.trim();
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exp) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i64>().ok()?),
        None => (body, 0),
    };
    if !(-64..=64).contains(&exp) {
        return None;
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    let point = int.len() as i64 + exp;
    let (i, f) = if point <= 0 {
        (
            String::new(),
            format!("{}{digits}", "0".repeat(point.unsigned_abs() as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        let (i, f) = digits.split_at(point as usize);
        (i.to_string(), f.to_string())
    };
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    Some(if f.is_empty() {
        format!("{sign}{i}")
    } else {
        format!("{sign}{i}.{f}")
    })
}

/// Rounds a plain decimal text to `exp` decimals, half away from zero, as text (platforms send
/// computed unit prices and float artefacts such as `19.900000000000002`).
/// Anything that is not a plain decimal is returned unchanged for `Money::parse_decimal` to reject.
pub fn round_decimal(raw: &str, exp: u32) -> String {
    let t = raw.trim();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let Some((int, frac)) = digits.split_once('.') else {
        return t.to_string();
    };
    let exp = exp as usize;
    let plain = int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
    if frac.len() <= exp || !plain {
        return t.to_string();
    }
    let (kept, rest) = frac.split_at(exp);
    let int = if int.is_empty() { "0" } else { int };
    let mut num: Vec<u8> = format!("{int}{kept}").into_bytes();
    if rest.as_bytes().first().is_some_and(|d| *d >= b'5') {
        let mut i = num.len();
        loop {
            if i == 0 {
                num.insert(0, b'1');
                break;
            }
            i -= 1;
            if num[i] == b'9' {
                num[i] = b'0';
            } else {
                num[i] += 1;
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&num).into_owned();
    let (i, f) = text.split_at(text.len() - exp);
    if exp == 0 {
        format!("{sign}{i}")
    } else {
        format!("{sign}{i}.{f}")
    }
}

impl Money {
    /// Like [`Money::parse_decimal`], but text with more decimals than the currency has (or an
    /// exponent, `1.5e-3`) is rounded half away from zero on its decimal text — never through `f64`.
    pub fn parse_decimal_rounded(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        match Money::parse_decimal(amount, currency) {
            Err(MoneyError::TooPrecise { .. }) | Err(MoneyError::NotDecimal(_)) => {
                let plain = plain_decimal(amount)
                    .ok_or_else(|| MoneyError::NotDecimal(amount.chars().take(32).collect()))?;
                Money::parse_decimal(&round_decimal(&plain, currency.exponent()), currency)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod rounding_tests {
    use super::*;

    #[test]
    fn rounds_decimal_text() {
        assert_eq!(round_decimal("21.5", 2), "21.5");
        assert_eq!(round_decimal("8.333333", 2), "8.33");
        assert_eq!(round_decimal("8.335", 2), "8.34");
        assert_eq!(round_decimal("9.995", 2), "10.00");
        assert_eq!(round_decimal("-0.005", 2), "-0.01");
        assert_eq!(round_decimal(".999", 2), "1.00");
        assert_eq!(round_decimal("1499.6", 0), "1500");
        assert_eq!(round_decimal("1e3", 2), "1e3");
        assert_eq!(plain_decimal("1.5e-3").as_deref(), Some("0.0015"));
        assert_eq!(plain_decimal("2E+2").as_deref(), Some("200"));
        assert_eq!(plain_decimal("abc"), None);
        let usd = Currency::parse("USD").expect("code");
        assert_eq!(
            Money::parse_decimal_rounded("19.900000000000002", usd)
                .expect("rounds")
                .minor,
            1990
        );
        assert_eq!(
            Money::parse_decimal_rounded("59.970000000000006", usd)
                .expect("rounds")
                .minor,
            5997
        );
        assert_eq!(
            Money::parse_decimal_rounded("-1.7763568394002505e-15", usd)
                .expect("rounds")
                .minor,
            0
        );
        assert!(Money::parse_decimal_rounded("twelve", usd).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        Currency::parse(c).expect("valid")
    }

    #[test]
    fn parses_exact_decimals() {
        let usd = cur("usd");
        assert_eq!(Money::parse_decimal("12.50", usd).unwrap().minor, 1250);
        assert_eq!(Money::parse_decimal("12.5", usd).unwrap().minor, 1250);
        assert_eq!(Money::parse_decimal("12", usd).unwrap().minor, 1200);
        assert_eq!(Money::parse_decimal("0.01", usd).unwrap().minor, 1);
        assert_eq!(Money::parse_decimal(".5", usd).unwrap().minor, 50);
        assert_eq!(Money::parse_decimal("-3.10", usd).unwrap().minor, -310);
        assert_eq!(Money::parse_decimal(" 7.00 ", usd).unwrap().minor, 700);
        // 0.1 + 0.2 is the classic float trap: exact here.
        assert_eq!(Money::parse_decimal("0.30", usd).unwrap().minor, 30);
        assert_eq!(
            Money::parse_decimal("92233720368547758.07", usd)
                .unwrap()
                .minor,
            i64::MAX
        );
    }

    #[test]
    fn respects_currency_exponent() {
        assert_eq!(
            Money::parse_decimal("1000", cur("JPY")).unwrap().minor,
            1000
        );
        assert_eq!(
            Money::parse_decimal("1000.00", cur("JPY")).unwrap().minor,
            1000
        );
        assert!(matches!(
            Money::parse_decimal("1000.5", cur("JPY")),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert_eq!(
            Money::parse_decimal("1.234", cur("KWD")).unwrap().minor,
            1234
        );
        assert!(Money::parse_decimal("1.234", cur("EUR")).is_err());
        assert_eq!(
            Money::parse_decimal("1.230", cur("EUR")).unwrap().minor,
            123
        );
    }

    #[test]
    fn rejects_garbage() {
        let usd = cur("USD");
        for bad in [
            "", "-", ".", "1.2.3", "abc", "1e3", "1,50", "--1", "1 000", "NaN",
        ] {
            assert!(Money::parse_decimal(bad, usd).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(
            Money::parse_decimal("92233720368547758.08", usd),
            Err(MoneyError::Overflow(_))
        ));
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
    }

    #[test]
    fn formats_and_round_trips() {
        let m = Money::parse_decimal("1234.5", cur("EUR")).unwrap();
        assert_eq!(m.to_decimal_string(), "1234.50");
        assert_eq!(Money::new(-5, cur("USD")).to_decimal_string(), "-0.05");
        assert_eq!(Money::new(1500, cur("JPY")).to_decimal_string(), "1500");
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"amount":"1234.50","currency":"EUR","minor_units":123450}"#
        );
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        let from_amount: Money =
            serde_json::from_str(r#"{"amount":"9.99","currency":"usd"}"#).unwrap();
        assert_eq!(from_amount.minor, 999);
    }

    #[test]
    fn json_numbers_are_exact() {
        let n: serde_json::Number = serde_json::from_str("19.99").unwrap();
        assert_eq!(Money::from_json_number(&n, cur("USD")).unwrap().minor, 1999);
        let n: serde_json::Number = serde_json::from_str("3").unwrap();
        assert_eq!(Money::from_json_number(&n, cur("USD")).unwrap().minor, 300);
    }

    #[test]
    fn adds_only_same_currency() {
        let a = Money::new(100, cur("USD"));
        assert_eq!(a.checked_add(&a).unwrap().minor, 200);
        assert!(a.checked_add(&Money::new(1, cur("EUR"))).is_none());
    }
}
