//! Signature primitives. Every comparison is constant-time; every check runs over raw bytes.

use crate::secret::SecretList;
use base64::Engine as _;
use cartback_core::VerifyError;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use std::time::Duration;
use subtle::ConstantTimeEq;

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// How a platform encodes a digest in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base64,
    Hex,
}

impl Encoding {
    pub fn encode(&self, digest: &[u8]) -> String {
        match self {
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(digest),
            Encoding::Hex => hex::encode(digest),
        }
    }

    fn decode(&self, text: &str) -> Option<Vec<u8>> {
        let t = text.trim();
        match self {
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(t).ok(),
            Encoding::Hex => hex::decode(t.to_ascii_lowercase()).ok(),
        }
    }
}

/// Checks `header_value` (encoded with `encoding`) against `digest(secret)` for every secret.
/// Every secret is tried (no early exit on a match), so timing does not reveal which one matched.
fn verify_with(
    secrets: &SecretList,
    header_name: &str,
    header_value: &str,
    encoding: Encoding,
    digest: impl Fn(&[u8]) -> Vec<u8>,
) -> Result<(), VerifyError> {
    let given = encoding
        .decode(header_value)
        .ok_or_else(|| VerifyError::MalformedHeader(header_name.to_string()))?;
    let mut ok = false;
    for s in secrets.iter() {
        ok |= constant_time_eq(&digest(s.as_bytes()), &given);
    }
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// `header == enc(HMAC-SHA256(secret, parts...))` for any secret in the list.
pub fn verify_base64(
    secrets: &SecretList,
    header_name: &str,
    header_value: &str,
    parts: &[&[u8]],
) -> Result<(), VerifyError> {
    verify_with(secrets, header_name, header_value, Encoding::Base64, |k| {
        hmac_sha256(k, parts).to_vec()
    })
}

/// `header == hex(HMAC-SHA256(secret, parts...))`; `sha1 = true` for HMAC-SHA1.
pub fn verify_hex(
    secrets: &SecretList,
    header_name: &str,
    header_value: &str,
    parts: &[&[u8]],
    sha1: bool,
) -> Result<(), VerifyError> {
    verify_with(secrets, header_name, header_value, Encoding::Hex, |k| {
        if sha1 {
            hmac_sha1(k, parts).to_vec()
        } else {
            hmac_sha256(k, parts).to_vec()
        }
    })
}

/// Rejects a platform timestamp further than `window` from `now` (either side).
pub fn check_timestamp_window(
    timestamp: DateTime<Utc>,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(), VerifyError> {
    let skew = (now - timestamp).abs();
    match chrono::Duration::from_std(window) {
        Ok(w) if skew <= w => Ok(()),
        _ => Err(VerifyError::Stale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn secrets(list: &[&str]) -> SecretList {
        SecretList::new(list.iter().map(|s| Secret::new(*s)).collect())
    }

    #[test]
    fn shopify_published_vector() {
        // shopify-api-js validate.test.ts: secret test_secret_key, body {"foo": "bar"}.
        let s = secrets(&["test_secret_key"]);
        let body = br#"{"foo": "bar"}"#;
        verify_base64(
            &s,
            "h",
            "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
            &[body],
        )
        .unwrap();
        assert_eq!(
            verify_base64(
                &s,
                "h",
                "C23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
                &[body]
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify_base64(&s, "h", "!!!", &[body]),
            Err(VerifyError::MalformedHeader("h".into()))
        );
        // Rotation: the old secret still verifies while listed.
        let rotated = secrets(&["new_secret", "test_secret_key"]);
        verify_base64(
            &rotated,
            "h",
            "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
            &[body],
        )
        .unwrap();
    }

    #[test]
    fn segment_derived_vector() {
        let s = secrets(&["abc123"]);
        verify_hex(
            &s,
            "x",
            "5099cab379b3be52908387457007040cc934ef86",
            &[br#"{"cool":true}"#],
            true,
        )
        .unwrap();
        verify_hex(
            &s,
            "x",
            "5099CAB379B3BE52908387457007040CC934EF86",
            &[br#"{"cool":true}"#],
            true,
        )
        .unwrap();
    }

    #[test]
    fn timestamp_window() {
        let now = Utc::now();
        let w = Duration::from_secs(300);
        check_timestamp_window(now - chrono::Duration::seconds(299), now, w).unwrap();
        check_timestamp_window(now + chrono::Duration::seconds(10), now, w).unwrap();
        assert_eq!(
            check_timestamp_window(now - chrono::Duration::seconds(301), now, w),
            Err(VerifyError::Stale)
        );
    }
}
