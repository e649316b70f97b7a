//! Secrets with a redacted `Debug`, so a config dump or an error never prints one.

use serde::{Deserialize, Deserializer};
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Err(serde::de::Error::custom("secret is empty"));
        }
        Ok(Secret(s))
    }
}

/// One secret or a list of them (`secret = "a"` or `secret = ["new", "old"]` during a rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretList(Vec<Secret>);

impl SecretList {
    pub fn new(secrets: Vec<Secret>) -> Self {
        SecretList(secrets)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.0.iter()
    }

    pub fn first(&self) -> Option<&Secret> {
        self.0.first()
    }
}

impl<'de> Deserialize<'de> for SecretList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(Secret),
            Many(Vec<Secret>),
        }
        let list = match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
        if list.is_empty() {
            return Err(serde::de::Error::custom("at least one secret is required"));
        }
        Ok(SecretList(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let l: SecretList = serde_json::from_str(r#"["a","b"]"#).expect("list");
        assert!(!format!("{l:?}").contains('a'));
        assert_eq!(l.iter().count(), 2);
        let one: SecretList = serde_json::from_str(r#""a""#).expect("one");
        assert_eq!(one.first().map(Secret::expose), Some("a"));
        assert!(serde_json::from_str::<SecretList>("[]").is_err());
        assert!(serde_json::from_str::<Secret>(r#""""#).is_err());
    }
}
