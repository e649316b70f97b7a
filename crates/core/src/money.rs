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
